//! `relctl observe`: what each member cluster runs, reported to the ledger. Karmada reflects
//! each member's SpinApp into its ResourceBinding (`status.aggregatedStatus[]`; the
//! interpreter's ReflectStatus copies the member's `spec.image`), so one read of the control
//! plane covers every cluster without a credential for any member.

use crate::answers::Cluster;
use crate::cli;
use crate::failure::Failure;
use crate::karmada::Karmada;
use crate::ledger_client::{LedgerClient, Seen};
use ledger::Timestamp;
use ledger::types::{ClusterName, Digest};
use serde_json::Value;
use std::collections::BTreeMap;

/// One SpinApp as a member reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub app: String,
    pub image: String,
}

/// What each member runs, from the ResourceBindings of NAMESPACE: cluster → its SpinApps.
pub fn running(bindings: &Value) -> BTreeMap<String, Vec<Running>> {
    let mut found: BTreeMap<String, Vec<Running>> = BTreeMap::new();
    for binding in bindings["items"].as_array().into_iter().flatten() {
        if binding["spec"]["resource"]["kind"] != "SpinApp" {
            continue;
        }
        let app = binding["spec"]["resource"]["name"].as_str().unwrap_or("?");
        for item in binding["status"]["aggregatedStatus"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (Some(cluster), Some(image)) = (
                item["clusterName"].as_str(),
                item["status"]["image"].as_str(),
            ) else {
                continue;
            };
            found.entry(cluster.to_owned()).or_default().push(Running {
                app: app.to_owned(),
                image: image.to_owned(),
            });
        }
    }
    found
}

/// The digest a cluster runs, as one observation: the first SpinApp whose digest differs from
/// EXPECTED (so one changed app is enough to show drift), else the one they share. An image
/// not pinned by digest cannot be compared and is an error.
pub fn seen(apps: &[Running], expected: Option<&Digest>) -> Result<(Digest, String), String> {
    let mut pinned = Vec::new();
    for app in apps {
        let digest = app
            .image
            .rsplit_once('@')
            .and_then(|(_, d)| Digest::parse(d).ok())
            .ok_or_else(|| format!("{} runs {}, which no digest pins", app.app, app.image))?;
        pinned.push((digest, app.app.as_str()));
    }
    let pick = pinned
        .iter()
        .find(|(digest, _)| Some(digest) != expected)
        .or(pinned.first())
        .ok_or("no SpinApp")?;
    Ok((pick.0.clone(), format!("karmada:spinapp/{}", pick.1)))
}

pub fn observe(ledger: &LedgerClient, args: &cli::Observe) -> Result<String, Failure> {
    let karmada = Karmada {
        kubeconfig: &args.kubeconfig,
        context: args.context.as_deref(),
    };
    let mut by_cluster: BTreeMap<String, Vec<Running>> = BTreeMap::new();
    for namespace in &args.namespaces {
        let bindings = karmada
            .get(&["-n", namespace, "get", "resourcebindings.work.karmada.io"])
            .map_err(Failure::Unreachable)?;
        for (cluster, apps) in running(&bindings) {
            by_cluster.entry(cluster).or_default().extend(apps);
        }
    }
    let observed_at = Timestamp::now();
    let clusters = ledger.clusters()?;
    let mut lines = Vec::new();
    let mut unseen = Vec::new();
    for cluster in &clusters {
        let Some(apps) = by_cluster.get(cluster.name.as_str()) else {
            unseen.push(format!(
                "{}: Karmada reports no SpinApp there",
                cluster.name
            ));
            continue;
        };
        let expected = cluster.current.as_ref().map(|c| &c.digest);
        match seen(apps, expected) {
            Ok((digest, source)) => {
                let answer = ledger.observe(
                    &cluster.name,
                    &Seen {
                        digest,
                        observed_at,
                        source,
                    },
                )?;
                lines.push(line(&cluster.name, &answer));
            }
            Err(why) => unseen.push(format!("{}: {why}", cluster.name)),
        }
    }
    if unseen.is_empty() {
        Ok(lines.join("\n"))
    } else {
        // The clusters that were reported stay reported; the rest is one line.
        for line in &lines {
            println!("{line}");
        }
        Err(Failure::Unreachable(format!(
            "not observed: {}",
            unseen.join("; ")
        )))
    }
}

fn line(name: &ClusterName, answer: &Cluster) -> String {
    match (&answer.drift, &answer.rolling_out, &answer.current) {
        (Some(drift), _, _) => format!("DRIFT {}", drift.summary),
        (None, Some(next), _) => format!("{name} is rolling out {next}, not yet recorded done"),
        (None, None, Some(current)) => format!("{name} runs {} as recorded", current.version),
        (None, None, None) => format!("{name} observed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn app(name: &str, image: &str) -> Running {
        Running {
            app: name.into(),
            image: image.into(),
        }
    }

    #[test]
    fn each_member_is_read_from_the_bindings_reflected_status() {
        let binding = |name: &str, west: &str| {
            json!({
                "spec": {"resource": {"kind": "SpinApp", "name": name}},
                "status": {"aggregatedStatus": [
                    {"clusterName": "prod-east", "status": {"image": format!("r/a@{A}")}},
                    {"clusterName": "prod-west", "status": {"image": west}},
                    {"clusterName": "staging", "status": {}},
                ]},
            })
        };
        let bindings = json!({"items": [
            binding("backend", &format!("r/a@{A}")),
            binding("frontend", &format!("r/a@{B}")),
            {"spec": {"resource": {"kind": "ConfigMap", "name": "c"}},
             "status": {"aggregatedStatus": [{"clusterName": "prod-east", "status": {"image": "x"}}]}},
        ]});
        let found = running(&bindings);
        assert_eq!(found.keys().collect::<Vec<_>>(), ["prod-east", "prod-west"]);
        assert_eq!(found["prod-west"][1], app("frontend", &format!("r/a@{B}")));
    }

    #[test]
    fn the_app_that_differs_from_the_release_is_the_one_reported() {
        let a = Digest::parse(A).unwrap();
        let b = Digest::parse(B).unwrap();
        let apps = [
            app("backend", &format!("r/a@{A}")),
            app("frontend", &format!("r/a@{B}")),
        ];
        assert_eq!(
            seen(&apps, Some(&a)).unwrap(),
            (b.clone(), "karmada:spinapp/frontend".into())
        );
        assert_eq!(seen(&apps[..1], Some(&a)).unwrap().0, a);
        assert_eq!(seen(&apps, None).unwrap().0, a);
        let tagged = [app("backend", "r/a:1.4.0")];
        assert!(
            seen(&tagged, Some(&a))
                .unwrap_err()
                .contains("no digest pins")
        );
    }
}
