//! An environment cluster by cluster. The template keeps the previous release until every
//! stage has passed; Karmada's OverridePolicy (`hold`) moves the first stage's cluster (the
//! canary) to the new one, then each next cluster, so a cluster whose stage has not come cannot
//! run it. Each stage waits for its cluster's Deployments to roll out, smoke-checks it and,
//! when it has a Prometheus, judges its requests (`analysis`). Once the last has passed, the
//! template takes the new release and the policy goes.
//!
//! A stage that fails takes its cluster out of the policy, back on the template's previous
//! release, and records `failed` (with the analysis) and `rolled_back` there; the clusters
//! after it never see the release, and those before it keep it. When none keeps it, the
//! previous release's own manifests go back too. A re-run moves only the clusters the ledger
//! does not show running the release.

use super::{Environment, Rollout, cluster_urls, clusters_of, names, put_back};
use crate::analysis::{Analysis, Prometheus, Settings, analyze};
use crate::answers::{Cluster, Current};
use crate::failure::Failure;
use crate::hold::{self, Images};
use crate::karmada::Expected;
use crate::ledger_client::LedgerClient;
use crate::smoke;
use ledger::Timestamp;
use ledger::types::{ClusterName, DeploymentStatus, Digest};

/// Which clusters a run moves, in order, and what the others keep meanwhile.
#[derive(Debug)]
pub struct Plan {
    pub stages: Vec<ClusterName>,
    /// Clusters that already run the release (an earlier run moved them).
    pub moved: Vec<ClusterName>,
    /// What the template holds until every stage has passed: what the canary runs now.
    pub previous: Current,
    /// Clusters still to move that run another release than `previous`, each with its own.
    pub others: Vec<(ClusterName, Current)>,
}

impl Plan {
    /// ORDER must name each of the environment's CLUSTERS once. `None` when the clusters to
    /// move run nothing yet: there is nothing to keep, and the release goes everywhere at once.
    pub fn new(
        order: &[ClusterName],
        clusters: &[Cluster],
        rollout: &Rollout,
    ) -> Result<Option<Self>, Failure> {
        let environment = clusters[0].environment.as_str();
        for (i, name) in order.iter().enumerate() {
            if !clusters.iter().any(|c| &c.name == name) {
                return Err(Failure::Invalid(format!(
                    "--stages names {name}, which is not in {environment}"
                )));
            }
            if order[..i].contains(name) {
                return Err(Failure::Invalid(format!("--stages names {name} twice")));
            }
        }
        if let Some(left_out) = clusters.iter().find(|c| !order.contains(&c.name)) {
            return Err(Failure::Invalid(format!(
                "--stages leaves out {}, a cluster of {environment}",
                left_out.name
            )));
        }
        let cluster = |name: &ClusterName| clusters.iter().find(|c| &c.name == name).unwrap();
        let (moved, stages): (Vec<ClusterName>, Vec<ClusterName>) = order
            .iter()
            .cloned()
            .partition(|name| rollout.runs_on(cluster(name)));
        let Some(previous) = stages.iter().find_map(|name| cluster(name).current.clone()) else {
            return Ok(None);
        };
        let others = stages
            .iter()
            .filter_map(|name| {
                let current = cluster(name).current.clone()?;
                (current.digest != previous.digest).then(|| (name.clone(), current))
            })
            .collect();
        Ok(Some(Plan {
            stages,
            moved,
            previous,
            others,
        }))
    }

    /// What the policy gives while the clusters in AHEAD run the release (IMAGE) and the rest
    /// what they run.
    fn images(&self, ahead: &[&ClusterName], image: &str) -> Images {
        let own = self
            .others
            .iter()
            .filter(|(name, _)| !ahead.contains(&name));
        let own = own.map(|(name, current)| (name.to_string(), image_of(current)));
        let new = ahead
            .iter()
            .map(|name| (name.to_string(), image.to_owned()));
        own.chain(new).collect()
    }

    /// The clusters that run the release once stage I has passed (I = stages: none yet).
    fn ahead(&self, i: usize) -> Vec<&ClusterName> {
        self.moved.iter().chain(&self.stages[..i]).collect()
    }
}

fn image_of(current: &Current) -> String {
    format!("{}@{}", current.artifact.repository(), current.digest)
}

/// Deploys the rollout's release to ENV one stage at a time, in ORDER.
pub fn roll_out_in_stages(
    ledger: &LedgerClient,
    env: &Environment,
    rollout: &Rollout,
    order: &[ClusterName],
    analysis: Option<&Settings>,
) -> Result<String, Failure> {
    let version = rollout.version;
    let clusters = clusters_of(ledger, env)?;
    let Some(plan) = Plan::new(order, &clusters, rollout)? else {
        let done = super::roll_out(ledger, env, rollout)?;
        return Ok(format!(
            "{done}; all at once, as no cluster ran anything to keep"
        ));
    };
    let smoke = cluster_urls("--smoke", rollout.smoke, &clusters, env)?;
    let prometheus = cluster_urls("--prometheus", rollout.prometheus, &clusters, env)?;
    if plan.stages.is_empty() {
        return Ok(format!(
            "{version} already runs on {}; nothing to do",
            names(&clusters)
        ));
    }
    let image = env.image_of(rollout);
    for (i, cluster) in plan.stages.iter().enumerate() {
        let started = DeploymentStatus::Started;
        env.record(ledger, version, cluster, started, None, None)?;
        let ahead = plan.ahead(i + 1);
        let outcome = stage(env, &plan, &ahead, cluster, &image, i == 0).and_then(|()| {
            if let Some((_, url)) = smoke.iter().find(|(c, _)| c == cluster) {
                smoke::smoke(url, cluster, version, env.timeout)?;
            }
            match (prometheus.iter().find(|(c, _)| c == cluster), analysis) {
                (Some((_, url)), Some(settings)) => {
                    let since = Timestamp::now();
                    analyze(&Prometheus::new(url), cluster, since, settings).map(Some)
                }
                _ => Ok(None),
            }
        });
        let judged = match outcome {
            Ok(judged) => judged,
            Err(failure) => return Err(stop(ledger, env, rollout, &plan, i, &failure, None)),
        };
        let mut summary = None;
        if let (Some(judged), Some(settings)) = (&judged, analysis) {
            match judged.gate(settings.inconclusive) {
                Ok(line) => summary = Some(line),
                Err(failure) => {
                    return Err(stop(ledger, env, rollout, &plan, i, &failure, Some(judged)));
                }
            }
        }
        let record = judged.as_ref().map(|j| &j.record);
        let succeeded = DeploymentStatus::Succeeded;
        env.record(
            ledger,
            version,
            cluster,
            succeeded,
            summary.as_deref(),
            record,
        )?;
    }
    // Every stage passed: the template takes the release, which every cluster already runs,
    // and the policy goes.
    let ready = env.roll_out(rollout.digest, rollout.new_name)?;
    Ok(format!(
        "{version} runs on {} ({ready}), one cluster at a time: {}",
        names(&clusters),
        names_of(&plan.stages)
    ))
}

/// Leaves exactly the clusters in AHEAD on IMAGE through the policy, while the template keeps
/// the previous release (with this commit's manifests, applied at the FIRST stage), and waits
/// until each cluster runs what it should and MOVING is ready: a stage's cluster on the way
/// forward, a stopped one on the way back.
fn stage(
    env: &Environment,
    plan: &Plan,
    ahead: &[&ClusterName],
    moving: &ClusterName,
    image: &str,
    first: bool,
) -> Result<(), Failure> {
    let karmada = env.karmada();
    let images = plan.images(ahead, image);
    hold::set(&karmada, env.namespace(), &images).map_err(Failure::Unreachable)?;
    if first {
        let previous = &plan.previous;
        env.apply(&previous.digest, Some(previous.artifact.repository()))?;
    }
    let expected = expected(plan, &images, moving);
    karmada.wait_ready(env.namespace(), &expected, env.timeout)?;
    Ok(())
}

/// The template's previous release everywhere, except where the policy says otherwise; only
/// the cluster MOVING judged ready (the others' readiness is not this stage's to wait for).
fn expected(plan: &Plan, images: &Images, moving: &ClusterName) -> Expected {
    let on = images.iter().filter_map(|(cluster, image)| {
        let digest = Digest::parse(image.rsplit_once('@')?.1).ok()?;
        Some((cluster.clone(), digest))
    });
    Expected {
        everywhere: Some(plan.previous.digest.clone()),
        on: on.collect(),
        judged: Some([moving.as_str().to_owned()].into()),
    }
}

/// Stage I failed with FAILURE (after ANALYSIS, when one stopped it): its cluster leaves the
/// policy, back on the previous release, and is recorded `failed` then `rolled_back`; the
/// clusters after it were never moved. Returns what the step fails with.
fn stop(
    ledger: &LedgerClient,
    env: &Environment,
    rollout: &Rollout,
    plan: &Plan,
    i: usize,
    failure: &Failure,
    analysis: Option<&Analysis>,
) -> Failure {
    let version = rollout.version;
    let cluster = &plan.stages[i];
    let reason = failure.to_string();
    let fails =
        |why: String| Failure::DeployFailed(format!("{version} stopped on {cluster}: {why}"));
    let record = analysis.map(|a| &a.record);
    let failed = DeploymentStatus::Failed;
    if let Err(e) = env.record(ledger, version, cluster, failed, Some(&reason), record) {
        return fails(format!("{reason}; recording it failed: {e}"));
    }
    let previous = plan
        .others
        .iter()
        .find(|(name, _)| name == cluster)
        .map_or(&plan.previous, |(_, own)| own);
    let ahead = plan.ahead(i);
    // When no cluster keeps the release, the previous release goes back whole, with its own
    // commit's manifests (and the policy goes): its pods are the ones that ran, where the
    // previous image with this commit's manifests would be a new rollout of its own.
    let put_back_result = match ahead.is_empty() {
        true => put_back(ledger, env, &plan.previous).map(|_| ()),
        false => stage(env, plan, &ahead, cluster, &env.image_of(rollout), false),
    };
    if let Err(again) = put_back_result {
        return fails(format!(
            "{reason}; putting {} back failed too: {again}",
            previous.version
        ));
    }
    let message = format!("{} put back", previous.version);
    let rolled_back = DeploymentStatus::RolledBack;
    if let Err(e) = env.record(ledger, version, cluster, rolled_back, Some(&message), None) {
        return fails(format!("{reason}; {message}, but recording it failed: {e}"));
    }
    let untouched = names_of(&plan.stages[i + 1..]);
    let kept: Vec<ClusterName> = ahead.into_iter().cloned().collect();
    let mut said = format!("{reason}; {} runs there again", previous.version);
    if !untouched.is_empty() {
        said.push_str(&format!("; {untouched} never took it"));
    }
    if !kept.is_empty() {
        let kept = names_of(&kept);
        said.push_str(&format!("; {kept} keep it, through {}", hold::POLICY));
    }
    fails(said)
}

fn names_of(clusters: &[ClusterName]) -> String {
    let names: Vec<&str> = clusters.iter().map(ClusterName::as_str).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::types::Version;
    use serde_json::json;

    const OLD: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const OLDER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const NEW: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

    fn cluster(name: &str, runs: Option<(&str, &str)>) -> Cluster {
        let current = runs.map(|(version, digest)| {
            json!({"version": version, "artifact": format!("reg/app:{version}"),
                   "digest": digest, "succeeded_at": "2026-12-01T00:00:00Z"})
        });
        serde_json::from_value(json!({"name": name, "environment": "production",
            "current": current, "last_event": null, "rolling_out": null, "drift": null}))
        .unwrap()
    }

    fn names(list: &[&str]) -> Vec<ClusterName> {
        list.iter()
            .map(|n| ClusterName::parse(n).unwrap())
            .collect()
    }

    fn plan(order: &[&str], clusters: &[Cluster]) -> Result<Option<Plan>, String> {
        let (version, digest) = (
            Version::parse("1.4.0").unwrap(),
            Digest::parse(NEW).unwrap(),
        );
        let rollout = Rollout {
            version: &version,
            digest: &digest,
            new_name: Some("reg/app"),
            smoke: &[],
            unless_current: false,
            prometheus: &[],
        };
        Plan::new(&names(order), clusters, &rollout).map_err(|e| e.to_string())
    }

    fn both_on(digest: &str) -> [Cluster; 2] {
        [
            cluster("prod-east", Some(("1.3.0", digest))),
            cluster("prod-west", Some(("1.3.0", digest))),
        ]
    }

    fn pairs(images: &Images) -> Vec<(&str, &str)> {
        images
            .iter()
            .map(|(c, i)| (c.as_str(), i.as_str()))
            .collect()
    }

    #[test]
    fn the_order_names_every_cluster_once() {
        let both = both_on(OLD);
        let why = plan(&["prod-west", "staging", "prod-east"], &both).unwrap_err();
        assert!(
            why.contains("names staging, which is not in production"),
            "{why}"
        );
        let why = plan(&["prod-west", "prod-west"], &both).unwrap_err();
        assert!(why.contains("names prod-west twice"), "{why}");
        let why = plan(&["prod-west"], &both).unwrap_err();
        assert!(why.contains("leaves out prod-east"), "{why}");
    }

    #[test]
    fn each_stage_moves_one_more_cluster_and_no_other() {
        let plan = plan(&["prod-west", "prod-east"], &both_on(OLD))
            .unwrap()
            .unwrap();
        assert_eq!(plan.stages, names(&["prod-west", "prod-east"]));
        assert_eq!(plan.previous.digest.as_str(), OLD);
        let new = format!("reg/app@{NEW}");
        assert!(plan.images(&plan.ahead(0), &new).is_empty());
        let canary = plan.images(&plan.ahead(1), &new);
        assert_eq!(pairs(&canary), [("prod-west", new.as_str())]);
        let both = plan.images(&plan.ahead(2), &new);
        assert_eq!(
            pairs(&both),
            [("prod-east", new.as_str()), ("prod-west", new.as_str())]
        );
        // The template's release everywhere the policy says nothing; the canary judged.
        let expected = expected(&plan, &canary, &plan.stages[0]);
        assert_eq!(expected.judged, Some(["prod-west".to_owned()].into()));
        assert_eq!(expected.everywhere.unwrap().as_str(), OLD);
        assert_eq!(expected.on.len(), 1);
    }

    #[test]
    fn a_rerun_moves_only_what_does_not_run_the_release() {
        let half = [
            cluster("prod-east", Some(("1.3.0", OLD))),
            cluster("prod-west", Some(("1.4.0", NEW))),
        ];
        let plan = plan(&["prod-west", "prod-east"], &half).unwrap().unwrap();
        assert_eq!(plan.stages, names(&["prod-east"]));
        assert_eq!(plan.moved, names(&["prod-west"]));
        // What moved before stays moved while prod-east is judged, and after a stop.
        let new = format!("reg/app@{NEW}");
        let ahead = plan.images(&plan.ahead(0), &new);
        assert_eq!(pairs(&ahead), [("prod-west", new.as_str())]);
    }

    #[test]
    fn a_cluster_on_another_release_keeps_its_own_until_its_stage() {
        let mixed = [
            cluster("prod-east", Some(("1.2.0", OLDER))),
            cluster("prod-west", Some(("1.3.0", OLD))),
        ];
        let plan = plan(&["prod-west", "prod-east"], &mixed).unwrap().unwrap();
        let new = format!("reg/app@{NEW}");
        let older = format!("reg/app@{OLDER}");
        let canary = plan.images(&plan.ahead(1), &new);
        assert_eq!(
            pairs(&canary),
            [("prod-east", older.as_str()), ("prod-west", new.as_str())]
        );
    }

    #[test]
    fn clusters_that_run_nothing_have_nothing_to_keep() {
        let fresh = [cluster("prod-east", None), cluster("prod-west", None)];
        assert!(plan(&["prod-west", "prod-east"], &fresh).unwrap().is_none());
    }
}
