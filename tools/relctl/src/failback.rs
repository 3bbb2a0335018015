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
//!
//! **Healthy means recently heard from.** A copy's health is what Karmada last reflected from
//! its member (`aggregatedStatus[].health`), and Karmada stops updating it when it cannot reach
//! the member: a cluster cut off stays "Healthy". So a copy counts only on a cluster whose
//! `Ready` condition is true: Karmada probes every member each `--cluster-status-update-frequency`
//! (10 s) and turns `Ready` false once its probes have failed for `--cluster-failure-threshold`
//! (30 s; each probe gives up after 32 s), so `Ready` vouches for a member heard from within
//! about 75 s. Both conditions are checked, then again after `--settle` seconds (longer than
//! that), and only then is the copy given up: a member cut off before the first check is not
//! `Ready` at the second.
//!
//! A give-up that Karmada had not finished within `--timeout` is finished by the next run, and
//! a cluster the weights give replicas that is missing from the schedule, with no eviction
//! left, is rebalanced back: whatever a run left undone, the next one completes.

use crate::cli;
use crate::failure::Failure;
use crate::karmada::Karmada;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The members whose `Ready` condition Karmada last set true.
pub fn ready_clusters(clusters: &Value) -> BTreeSet<String> {
    clusters["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|cluster| {
            cluster["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .filter_map(|cluster| cluster["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// The eviction tasks of BINDING that keep a copy (`purgeMode: Never`): the cluster each is
/// from, and whether it is still kept (`suppressDeletion`) or already given up.
fn kept_copies(binding: &Value) -> Vec<(String, bool)> {
    binding["spec"]["gracefulEvictionTasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|task| task["purgeMode"] == "Never" || task["suppressDeletion"] == true)
        .filter_map(|task| {
            let cluster = task["fromCluster"].as_str()?.to_owned();
            Some((cluster, task["suppressDeletion"] == true))
        })
        .collect()
}

/// The cluster whose kept copy of BINDING's SpinApp can be given up now, if any: it is
/// healthy and Ready, and another cluster's copy is too.
pub fn ready_to_fail_back(binding: &Value, ready: &BTreeSet<String>) -> Option<String> {
    let health = |cluster: &str| {
        ready.contains(cluster)
            && binding["status"]["aggregatedStatus"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|item| item["clusterName"] == cluster)
                .and_then(|item| item["health"].as_str())
                == Some("Healthy")
    };
    let spec = &binding["spec"];
    let kept: Vec<String> = kept_copies(binding)
        .into_iter()
        .filter(|(_, still_kept)| *still_kept)
        .map(|(cluster, _)| cluster)
        .collect();
    let mut serving: Vec<String> = spec["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["name"].as_str().map(str::to_owned))
        .collect();
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

/// A copy this tool (or a run of it that stopped early) gave up and Karmada still lists.
fn given_up(binding: &Value) -> Option<String> {
    kept_copies(binding)
        .into_iter()
        .find(|(_, still_kept)| !still_kept)
        .map(|(cluster, _)| cluster)
}

/// A Ready cluster that the policy's weights give replicas, missing from BINDING's schedule
/// with no eviction left: a give-up finished without its rebalance.
pub fn owed_rebalance(binding: &Value, ready: &BTreeSet<String>) -> Option<String> {
    let spec = &binding["spec"];
    if spec["gracefulEvictionTasks"]
        .as_array()
        .is_some_and(|tasks| !tasks.is_empty())
    {
        return None;
    }
    let replicas = spec["replicas"].as_i64().unwrap_or(0);
    let weights: Vec<(String, i64)> =
        spec["placement"]["replicaScheduling"]["weightPreference"]["staticWeightList"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|entry| {
                let weight = entry["weight"].as_i64().unwrap_or(0);
                entry["targetCluster"]["clusterNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(move |name| Some((name.as_str()?.to_owned(), weight)))
            })
            .collect();
    let total: i64 = weights.iter().map(|(_, w)| w).sum();
    let scheduled = |name: &str| {
        spec["clusters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["name"] == name)
    };
    weights
        .into_iter()
        .find(|(name, weight)| {
            total > 0 && replicas * weight / total >= 1 && !scheduled(name) && ready.contains(name)
        })
        .map(|(name, _)| name)
}

pub fn failback(args: &cli::Failback) -> Result<String, Failure> {
    let karmada = Karmada {
        kubeconfig: &args.kubeconfig,
        context: args.context.as_deref(),
    };
    let namespace = args.namespace.as_str();
    let (bindings, ready) = read(&karmada, namespace)?;
    let mut done = Vec::new();
    let mut candidates = Vec::new();
    for binding in spinapp_bindings(&bindings) {
        let (app, name) = names(binding);
        if let Some(cluster) = given_up(binding) {
            wait_until_given_up(&karmada, namespace, name, &cluster, args.timeout)?;
            rebalance(&karmada, namespace, app, &cluster, binding)?;
            done.push(format!("{app}: back on {cluster} (a give-up finished)"));
        } else if let Some(cluster) = owed_rebalance(binding, &ready) {
            rebalance(&karmada, namespace, app, &cluster, binding)?;
            done.push(format!("{app}: rebalanced onto {cluster} again"));
        } else if let Some(cluster) = ready_to_fail_back(binding, &ready) {
            candidates.push((app.to_owned(), name.to_owned(), cluster));
        }
    }
    if !candidates.is_empty() && args.settle > 0 {
        let waiting: Vec<String> = candidates
            .iter()
            .map(|(app, _, cluster)| format!("{app} on {cluster}"))
            .collect();
        eprintln!(
            "relctl failback: {} ready to come back; checking again in {} s",
            waiting.join(", "),
            args.settle
        );
        std::thread::sleep(Duration::from_secs(args.settle));
    }
    let (bindings, ready) = if args.settle > 0 && !candidates.is_empty() {
        read(&karmada, namespace)?
    } else {
        (bindings, ready)
    };
    for (app, name, cluster) in candidates {
        let binding = spinapp_bindings(&bindings).find(|b| names(b).1 == name);
        let Some(binding) =
            binding.filter(|b| ready_to_fail_back(b, &ready) == Some(cluster.clone()))
        else {
            done.push(format!(
                "{app}: kept on {cluster}: it or the other copy was no longer healthy and Ready \
                 at the second check"
            ));
            continue;
        };
        confirm_eviction(&karmada, binding, &cluster)?;
        wait_until_given_up(&karmada, namespace, &name, &cluster, args.timeout)?;
        rebalance(&karmada, namespace, &app, &cluster, binding)?;
        done.push(format!("{app}: back on {cluster}"));
    }
    if done.is_empty() {
        return Ok("nothing to fail back".into());
    }
    Ok(done.join("\n"))
}

/// The ResourceBindings of NAMESPACE and the Ready members, read together.
fn read(karmada: &Karmada, namespace: &str) -> Result<(Value, BTreeSet<String>), Failure> {
    let bindings = karmada
        .get(&["-n", namespace, "get", "resourcebindings.work.karmada.io"])
        .map_err(Failure::Unreachable)?;
    let clusters = karmada
        .get(&["get", "clusters.cluster.karmada.io"])
        .map_err(Failure::Unreachable)?;
    Ok((bindings, ready_clusters(&clusters)))
}

fn spinapp_bindings(bindings: &Value) -> impl Iterator<Item = &Value> {
    bindings["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["spec"]["resource"]["kind"] == "SpinApp")
}

/// The SpinApp's name and its binding's.
fn names(binding: &Value) -> (&str, &str) {
    (
        binding["spec"]["resource"]["name"].as_str().unwrap_or("?"),
        binding["metadata"]["name"].as_str().unwrap_or("?"),
    )
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
                "{binding}: Karmada still keeps the eviction from {cluster} after {timeout}s; \
                 the next run finishes it"
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A WorkloadRebalancer for APP, named after the binding's generation: a second run before
/// the scheduler has acted finds it already there and adds none.
fn rebalance(
    karmada: &Karmada,
    namespace: &str,
    app: &str,
    cluster: &str,
    binding: &Value,
) -> Result<(), Failure> {
    let generation = binding["metadata"]["generation"].as_i64().unwrap_or(0);
    let rebalancer = json!({
        "apiVersion": "apps.karmada.io/v1alpha1",
        "kind": "WorkloadRebalancer",
        "metadata": {"name": format!("failback-{app}-{cluster}-{generation}")},
        "spec": {
            "workloads": [{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
                           "name": app, "namespace": namespace}],
            "ttlSecondsAfterFinished": 3600,
        },
    });
    match karmada.send(&["create", "-f", "-"], &rebalancer.to_string()) {
        Err(why) if why.contains("AlreadyExists") || why.contains("already exists") => Ok(()),
        other => other.map_err(Failure::Unreachable),
    }
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
        let ready = BTreeSet::from(["prod-east".to_owned(), "prod-west".to_owned()]);
        for (clusters, kept, healthy, want) in cases {
            let got = ready_to_fail_back(&binding(clusters, kept, healthy), &ready);
            assert_eq!(got.as_deref(), want, "{clusters:?} {kept:?} {healthy:?}");
        }
    }

    /// Karmada stops reflecting a member it cannot reach, so "Healthy" from a member that is
    /// not Ready is stale: it counts for neither the kept copy nor the one that would serve.
    #[test]
    fn health_counts_only_on_ready_clusters() {
        let both = binding(&["prod-east"], &["prod-west"], &["prod-east", "prod-west"]);
        let only = |name: &str| BTreeSet::from([name.to_owned()]);
        assert_eq!(ready_to_fail_back(&both, &only("prod-west")), None);
        assert_eq!(ready_to_fail_back(&both, &only("prod-east")), None);
        let clusters = json!({"items": [
            {"metadata": {"name": "prod-east"}, "status": {"conditions": [
                {"type": "CompleteAPIEnablements", "status": "True"},
                {"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "prod-west"}, "status": {"conditions": [
                {"type": "Ready", "status": "False"}]}},
            {"metadata": {"name": "staging"}},
        ]});
        assert_eq!(ready_clusters(&clusters), only("prod-east"));
    }

    /// What a run left undone the next one finishes: a give-up Karmada had not completed, and
    /// a rebalance that never came after a completed one.
    #[test]
    fn unfinished_failbacks_are_found_again() {
        let ready = BTreeSet::from(["prod-east".to_owned(), "prod-west".to_owned()]);
        let mut confirmed = binding(&["prod-east"], &["prod-west"], &["prod-east", "prod-west"]);
        confirmed["spec"]["gracefulEvictionTasks"][0]["suppressDeletion"] = false.into();
        assert_eq!(given_up(&confirmed).as_deref(), Some("prod-west"));
        assert_eq!(ready_to_fail_back(&confirmed, &ready), None);

        let mut finished = binding(&["prod-east"], &[], &["prod-east", "prod-west"]);
        finished["spec"]["replicas"] = 6.into();
        finished["spec"]["placement"] = json!({"replicaScheduling": {"weightPreference": {
            "staticWeightList": [
                {"targetCluster": {"clusterNames": ["prod-east"]}, "weight": 2},
                {"targetCluster": {"clusterNames": ["prod-west"]}, "weight": 1}]}}});
        assert_eq!(
            owed_rebalance(&finished, &ready).as_deref(),
            Some("prod-west")
        );
        let not_ready = BTreeSet::from(["prod-east".to_owned()]);
        assert_eq!(owed_rebalance(&finished, &not_ready), None);
        finished["spec"]["replicas"] = 2.into();
        assert_eq!(owed_rebalance(&finished, &ready), None, "its share is 0");
        assert_eq!(
            owed_rebalance(&confirmed, &ready),
            None,
            "an eviction is still under way"
        );
    }

    #[test]
    fn an_eviction_karmada_will_purge_itself_is_left_to_it() {
        let mut gracefully = binding(&["prod-east"], &["prod-west"], &["prod-east", "prod-west"]);
        gracefully["spec"]["gracefulEvictionTasks"][0] = json!({"fromCluster": "prod-west", "purgeMode": "Gracefully", "gracePeriodSeconds": 600});
        let ready = BTreeSet::from(["prod-east".to_owned(), "prod-west".to_owned()]);
        assert_eq!(ready_to_fail_back(&gracefully, &ready), None);
        assert_eq!(given_up(&gracefully), None);
    }
}
