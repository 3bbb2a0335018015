//! `relctl failback`: production's way back onto a cluster that application failover left.
//!
//! The production policy evicts with `purgeMode: Never` (karmada/README.md, "Failover"), because
//! Karmada evicts each unhealthy cluster on its own: with `Gracefully`, two unhealthy clusters
//! are both evicted and both copies purged once the grace period ends, which empties production.
//! `Never` keeps every evicted copy, and Karmada schedules nothing back onto that cluster until
//! someone confirms the eviction. This is that someone, with one rule: a kept copy is given up
//! only when it is healthy again and another cluster's copy of the same SpinApp is healthy, so
//! that one always serves. Then Karmada deletes the kept copy, and a WorkloadRebalancer has it
//! divide the replicas by the policy's weights again, this cluster included. One cluster per
//! SpinApp per run: the Kestra observe flow runs it every 5 minutes.

use crate::cli;
use crate::failure::Failure;
use crate::karmada::Karmada;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The cluster whose kept copy of BINDING's SpinApp can be given up now, if any.
pub fn ready_to_fail_back(binding: &Value) -> Option<String> {
    let health = |cluster: &str| {
        binding["status"]["aggregatedStatus"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|item| item["clusterName"] == cluster)
            .and_then(|item| item["health"].as_str())
            == Some("Healthy")
    };
    let names = |list: &Value, key: &str| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item[key].as_str().map(str::to_owned))
            .collect()
    };
    let spec = &binding["spec"];
    let tasks = spec["gracefulEvictionTasks"].as_array();
    let kept: Vec<String> = tasks
        .into_iter()
        .flatten()
        .filter(|task| task["suppressDeletion"] == true)
        .filter_map(|task| task["fromCluster"].as_str().map(str::to_owned))
        .collect();
    let mut serving = names(&spec["clusters"], "name");
    serving.extend(kept.iter().cloned());
    let mut candidates: Vec<&String> = kept.iter().filter(|c| health(c)).collect();
    candidates.sort();
    candidates
        .into_iter()
        .find(|cluster| {
            serving
                .iter()
                .any(|other| other != *cluster && health(other))
        })
        .cloned()
}

pub fn failback(args: &cli::Failback) -> Result<String, Failure> {
    let karmada = Karmada {
        kubeconfig: &args.kubeconfig,
        context: args.context.as_deref(),
    };
    let namespace = args.namespace.as_str();
    let bindings = karmada
        .get(&["-n", namespace, "get", "resourcebindings.work.karmada.io"])
        .map_err(Failure::Unreachable)?;
    let mut done = Vec::new();
    for binding in bindings["items"].as_array().into_iter().flatten() {
        if binding["spec"]["resource"]["kind"] != "SpinApp" {
            continue;
        }
        let Some(cluster) = ready_to_fail_back(binding) else {
            continue;
        };
        let app = binding["spec"]["resource"]["name"].as_str().unwrap_or("?");
        let name = binding["metadata"]["name"].as_str().unwrap_or("?");
        confirm_eviction(&karmada, binding, &cluster)?;
        wait_until_given_up(&karmada, namespace, name, &cluster, args.timeout)?;
        rebalance(&karmada, namespace, app, &cluster)?;
        done.push(format!("{app}: back on {cluster}"));
    }
    if done.is_empty() {
        return Ok("nothing to fail back".into());
    }
    Ok(done.join("\n"))
}

/// Sets the kept copy's `suppressDeletion` to false, on the binding as read (a concurrent
/// change makes the update fail, and the next run starts over).
fn confirm_eviction(karmada: &Karmada, binding: &Value, cluster: &str) -> Result<(), Failure> {
    let mut updated = binding.clone();
    for task in updated["spec"]["gracefulEvictionTasks"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if task["fromCluster"] == cluster {
            task["suppressDeletion"] = false.into();
        }
    }
    karmada
        .send(&["replace", "-f", "-"], &updated.to_string())
        .map_err(Failure::Unreachable)
}

/// Karmada drops the task (and the copy) before it will schedule onto the cluster again.
fn wait_until_given_up(
    karmada: &Karmada,
    namespace: &str,
    binding: &str,
    cluster: &str,
    timeout: u64,
) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let path = format!("resourcebinding.work.karmada.io/{binding}");
    loop {
        let current = karmada
            .get(&["-n", namespace, "get", &path])
            .map_err(Failure::Unreachable)?;
        let pending = current["spec"]["gracefulEvictionTasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|t| t["fromCluster"] == cluster));
        if !pending {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut(format!(
                "{binding}: Karmada still keeps the eviction from {cluster} after {timeout}s"
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn rebalance(karmada: &Karmada, namespace: &str, app: &str, cluster: &str) -> Result<(), Failure> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let rebalancer = json!({
        "apiVersion": "apps.karmada.io/v1alpha1",
        "kind": "WorkloadRebalancer",
        "metadata": {"name": format!("failback-{app}-{cluster}-{seconds}")},
        "spec": {
            "workloads": [{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
                           "name": app, "namespace": namespace}],
            "ttlSecondsAfterFinished": 3600,
        },
    });
    karmada
        .send(&["create", "-f", "-"], &rebalancer.to_string())
        .map_err(Failure::Unreachable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(clusters: &[&str], kept: &[&str], healthy: &[&str]) -> Value {
        let all = ["prod-east", "prod-west"];
        json!({
            "spec": {
                "clusters": clusters.iter().map(|c| json!({"name": c, "replicas": 6})).collect::<Vec<_>>(),
                "gracefulEvictionTasks": kept.iter()
                    .map(|c| json!({"fromCluster": c, "suppressDeletion": true, "purgeMode": "Never"}))
                    .collect::<Vec<_>>(),
            },
            "status": {"aggregatedStatus": all.iter().map(|c| json!({
                "clusterName": c,
                "health": if healthy.contains(c) { "Healthy" } else { "Unhealthy" },
            })).collect::<Vec<_>>()},
        })
    }

    /// Scheduled clusters, kept copies, healthy clusters, and the cluster to fail back.
    type Case = (
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        Option<&'static str>,
    );

    #[test]
    fn a_kept_copy_is_given_up_only_when_it_and_another_copy_are_healthy() {
        let cases: [Case; 7] = [
            // prod-west evicted, prod-east took over and is healthy, prod-west recovered.
            (
                &["prod-east"],
                &["prod-west"],
                &["prod-east", "prod-west"],
                Some("prod-west"),
            ),
            // prod-west still down: keep it.
            (&["prod-east"], &["prod-west"], &["prod-east"], None),
            // prod-east still scaling up to take everything: not before it is ready.
            (&["prod-east"], &["prod-west"], &["prod-west"], None),
            // Both evicted and both recovered: one at a time, the other keeps serving.
            (
                &[],
                &["prod-east", "prod-west"],
                &["prod-east", "prod-west"],
                Some("prod-east"),
            ),
            // Both evicted, only prod-west recovered: nothing else serves, keep both.
            (&[], &["prod-east", "prod-west"], &["prod-west"], None),
            // Nothing evicted.
            (
                &["prod-east", "prod-west"],
                &[],
                &["prod-east", "prod-west"],
                None,
            ),
            (&[], &["prod-east", "prod-west"], &[], None),
        ];
        for (clusters, kept, healthy, want) in cases {
            let got = ready_to_fail_back(&binding(clusters, kept, healthy));
            assert_eq!(got.as_deref(), want, "{clusters:?} {kept:?} {healthy:?}");
        }
    }

    #[test]
    fn an_eviction_karmada_will_purge_itself_is_left_to_it() {
        let mut gracefully = binding(&["prod-east"], &["prod-west"], &["prod-east", "prod-west"]);
        gracefully["spec"]["gracefulEvictionTasks"][0] = json!({"fromCluster": "prod-west", "purgeMode": "Gracefully", "gracePeriodSeconds": 600});
        assert_eq!(ready_to_fail_back(&gracefully), None);
    }
}
