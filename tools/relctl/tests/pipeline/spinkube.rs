//! The production rollout on **real SpinKube nodes** (`nodes`): the real spin-operator makes
//! each production SpinApp Karmada placed a Deployment, and a real kubelet runs its pods
//! through containerd-shim-spin. The flow's own `deploy_production` command, read from the flow
//! file and run with the environment its task declares, first rolls out this checkout's build
//! (version 0.1.0, what it reports): relctl's readiness is the Deployments' rollout on each
//! member, read through Karmada's cluster proxy, so when it returns no old pod is left. Then
//! a release that cannot run: a pushed digest that cannot be pulled, or the real 1.4.0 whose
//! manifests name the wrong PostgreSQL server for the API, so that its pods start and fail
//! their readiness probe. Production goes in stages, prod-west first (the canary), as the
//! flow's settings order it. Each time relctl waits on the canary, records `failed` there,
//! puts 0.1.0 back by its digest, from its own commit's manifests (the commit before the tag's:
//! v1.4.0's own adds `manifests_of` to the ConfigMap, which must not survive the put-back) and
//! records `rolled_back`; prod-east's SpinApps never name the release, sampled throughout, and
//! 0.1.0 answers on both clusters' Services from the first request to the last. Then drift
//! (`drift.rs`): prod-west changed by hand until the pipeline puts it back. Last, nodes that
//! stop reporting, on the same pods (`failover.rs`, `failback.rs`): first while relctl waits
//! for readiness, which names the cluster, then application failover.
//!
//! The longest test of the binary: `make test` runs it alone in the other lane, on that lane's
//! control plane and nodes (`ON_NODES` in scripts/test-lanes.sh), and the rest without it.

use super::build::origin;
use super::doubles::{previous_commit, record_build};
use super::nodes::OnNodes;
use super::{drift, failover};
use super::{exclusive, kubeconfigs, registry, succeeded};
use host_harness::control_plane::eventually;
use host_harness::{HostBuilder, push_checkout, repo, scratch_dir, token};
use serde_json::json;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SERVING: &str = "0.1.0";
const BROKEN: &str = "0.2.0";
const MEMBERS: [&str; 2] = ["prod-east", "prod-west"];
const APPS: [&str; 2] = ["automatizacion-backend", "automatizacion-frontend"];

/// A clone of the origin (`build::origin`) at REV, as the flow's `clone_release` leaves its
/// working directory.
fn checkout(rev: &str) -> std::path::PathBuf {
    let root = scratch_dir("pipeline-spinkube-checkout").join("automatizacion");
    let source = format!("file://{}", origin().display());
    for args in [
        vec!["clone", "-q", &source, root.to_str().unwrap()],
        vec![
            "-C",
            root.to_str().unwrap(),
            "checkout",
            "-q",
            "--detach",
            rev,
        ],
    ] {
        let status = Command::new("git").args(&args).status().unwrap();
        assert!(status.success(), "git {args:?}");
    }
    root
}

/// The flow's `deploy_production` command, run as its task runs it.
fn deploy_production(env: &[(&str, String)], root: &std::path::Path) -> std::process::Output {
    let flow: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("kestra/flows/automatizacion.release.yml")).unwrap(),
    )
    .unwrap();
    let task =
        find_task(&flow["tasks"], "deploy_production").expect("the flow has deploy_production");
    let command = task["commands"][0].as_str().unwrap().to_owned();
    assert!(command.starts_with("relctl deploy"), "{command}");
    Command::new("bash")
        .args(["-c", &command])
        .current_dir(root)
        .env("PATH", super::path_with_tools())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

/// Production served by 0.1.0 on real nodes, rolled out by the flow's command, with the ledger
/// that recorded it; and the control plane put back when dropped.
struct World {
    on: OnNodes,
    ledger: host_harness::Host,
    kestra: String,
    root: std::path::PathBuf,
    repository: String,
    digest: String,
}

impl World {
    fn serving_previous(label: &str) -> Self {
        let on = OnNodes::start(&[]);
        let image = push_checkout(&registry(), label);
        let (repository, digest) = image.split_once('@').unwrap();
        let previous = previous_commit();
        let mut world = World {
            on,
            ledger: HostBuilder::new(label).start(),
            kestra: token("kestra", &["deployer"]),
            root: checkout(&previous),
            repository: repository.to_owned(),
            digest: digest.to_owned(),
        };
        world.approved(SERVING, digest, &previous);
        // Time for the nodes to pull and start the first release, from its own commit.
        succeeded(world.deploy(SERVING, digest, 180));
        // relctl returned once each member's Deployment had rolled out: every pod it keeps
        // runs 0.1.0, and none of the placeholder's is left.
        for member in MEMBERS {
            for app in APPS {
                rolled_out(member, app, digest);
            }
        }
        assert!(!world.config_has_newer_manifests());
        // The releases after it come from the tag's commit, as clone_release checks it out.
        world.root = checkout(&format!("v{}^{{commit}}", super::VERSION));
        world
    }

    /// VERSION recorded with DIGEST from COMMIT, checked on staging, and approved for
    /// production.
    fn approved(&self, version: &str, digest: &str, commit: &str) {
        let ledger = &self.ledger;
        let image = format!("{}@{digest}", self.repository);
        record_build(ledger, version, &image, commit);
        let event = json!({"cluster": "staging", "status": "succeeded"});
        let path = format!("/api/releases/{version}/deployments");
        assert_eq!(ledger.post_json(&path, &self.kestra, &event).status, 201);
        let path = format!("/api/releases/{version}/approval");
        assert_eq!(ledger.post_empty(&path, &self.kestra).status, 201);
        ledger.decide(version, "approve", "ship it");
    }

    fn backend(&self, member: &str) -> String {
        self.on.backend(member, "automatizacion")
    }

    /// Whether a production member's ConfigMap carries what only v1.4.0's own commit adds.
    fn config_has_newer_manifests(&self) -> bool {
        MEMBERS.iter().any(|member| {
            let config = super::json_of(
                member,
                &[
                    "-n",
                    "automatizacion",
                    "get",
                    "configmap",
                    "automatizacion-config",
                ],
            );
            !config["data"]["manifests_of"].is_null()
        })
    }

    /// The flow's `deploy_production` with the environment its task declares, in the flow's
    /// working directory as clone_release left it.
    fn deploy(&self, version: &str, digest: &str, timeout: u64) -> std::process::Output {
        self.deploy_at(&self.root, version, digest, timeout)
    }

    /// [`World::deploy`] from the checkout ROOT.
    fn deploy_at(
        &self,
        root: &std::path::Path,
        version: &str,
        digest: &str,
        timeout: u64,
    ) -> std::process::Output {
        let env = [
            ("VERSION", version.to_owned()),
            ("DIGEST", digest.to_owned()),
            ("REPOSITORY", self.repository.clone()),
            ("PROD_EAST_URL", self.backend("prod-east")),
            ("PROD_WEST_URL", self.backend("prod-west")),
            ("DEPLOY_TIMEOUT", timeout.to_string()),
            (
                "EXECUTION_URL",
                "https://kestra.example/executions/1".to_owned(),
            ),
            (
                "KARMADA_KUBECONFIG",
                kubeconfigs().join("karmada").display().to_string(),
            ),
            ("LEDGER_URL", self.ledger.base.clone()),
            ("LEDGER_TOKEN", self.kestra.clone()),
            ("STAGES", super::canary::stages_as_set().join(",")),
        ];
        deploy_production(&env, root)
    }

    /// Deploys VERSION (DIGEST), which must fail, while watching what both clusters serve and
    /// what prod-east's SpinApps name; then checks that 0.1.0 answered throughout, that the
    /// release stopped on the canary and prod-east never took it, and that the ledger tells the
    /// whole story. Returns relctl's reason.
    fn fails_while_previous_serves(&self, version: &str, digest: &str) -> String {
        let urls = MEMBERS.map(|m| self.backend(m));
        let watching = Arc::new(AtomicBool::new(true));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let watcher = {
            let (watching, answers, urls) = (watching.clone(), answers.clone(), urls.clone());
            std::thread::spawn(move || {
                while watching.load(Ordering::SeqCst) {
                    for url in &urls {
                        let seen = version_at(url);
                        answers.lock().unwrap().push((url.clone(), seen));
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        };
        // It never becomes ready, so relctl gives up after 30 s, as after the flow's
        // deploy_timeout; the same time is enough to put 0.1.0's pods back.
        let east = super::canary::Watch::images("prod-east");
        let failed = self.deploy(version, digest, 30);
        watching.store(false, Ordering::SeqCst);
        watcher.join().unwrap();
        east.never_saw(digest);

        let reason = String::from_utf8_lossy(&failed.stderr).into_owned();
        assert_eq!(failed.status.code(), Some(1), "{reason}");
        let stopped = format!("{version} stopped on prod-west");
        assert!(reason.contains(&stopped), "{reason}");
        assert!(reason.contains("prod-east never took it"), "{reason}");
        assert!(
            reason.contains(&format!("{SERVING} runs there again")),
            "{reason}"
        );
        // Refused at the rollout, not at the smoke check.
        assert!(reason.contains("not ready after 30s"), "{reason}");
        let answers = answers.lock().unwrap();
        assert!(!answers.is_empty());
        for (url, seen) in answers.iter() {
            assert_eq!(seen.as_deref(), Some(SERVING), "{url} during the rollout");
        }
        let release = self.ledger.get(&format!("/api/releases/{version}")).json();
        for member in MEMBERS {
            for app in APPS {
                rolled_out(member, app, &self.digest);
            }
            let statuses: Vec<&str> = release["deployments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["cluster"] == member)
                .map(|e| e["status"].as_str().unwrap())
                .collect();
            // The canary alone took it, and gave it up.
            let expected: &[&str] = match member {
                "prod-west" => &["started", "failed", "rolled_back"],
                _ => &[],
            };
            assert_eq!(statuses, expected, "{member}");
            for image in super::images_on(member, "automatizacion") {
                assert_eq!(
                    image,
                    format!("{}@{}", self.repository, self.digest),
                    "{member}"
                );
            }
        }
        assert!(
            !self.config_has_newer_manifests(),
            "{SERVING} was put back with the failed release's manifests, not its own commit's"
        );
        reason
    }
}

/// One test in phases, as each starts from the 0.1.0 the one before put back (or left): the
/// nodes and the first rollout are the slow part.
#[test]
fn production_on_real_nodes_rolls_back_drifts_and_fails_over() {
    let _only = exclusive();
    let world = World::serving_previous("pipeline-spinkube");

    // A digest that cannot be pulled: relctl says why, from the pods.
    let unpullable = format!("sha256:{}", "0".repeat(64));
    world.approved(BROKEN, &unpullable, &built_commit());
    let reason = world.fails_while_previous_serves(BROKEN, &unpullable);
    assert!(
        reason.contains("ImagePullBackOff") || reason.contains("ErrImagePull"),
        "relctl does not say why: {reason}"
    );

    // The real 1.4.0 the flow built, which pulls and starts, but whose manifests, as
    // clone_release left them, name the wrong PostgreSQL server for the API: its pods start
    // and fail their readiness probe, while the pods that are ready keep theirs. (0.1.0 is put
    // back from its own commit's manifests.)
    let backend = world.root.join("k8s/base/backend.yaml");
    let manifest = std::fs::read_to_string(&backend).unwrap();
    let from_config =
        "valueFrom:\n        configMapKeyRef: {name: automatizacion-config, key: db_outbound_host}";
    assert!(manifest.contains(from_config), "{manifest}");
    let wrong = "value: postgres://automatizacion-db-gone.automatizacion.svc.cluster.local:5432";
    std::fs::write(&backend, manifest.replace(from_config, wrong)).unwrap();
    let built = super::build::built();
    world.approved(super::VERSION, &built.digest, &built.commit);
    world.fails_while_previous_serves(super::VERSION, &built.digest);
    // It did start, and failed its readiness probe: the kubelet's events on the canary, which
    // it posts on its own time.
    eventually(
        "a 1.4.0 pod that started and failed its readiness probe",
        || started_and_unready("prod-west", &built.digest),
    );

    // Drift on real pods: prod-west's backend set by hand while Karmada's dispatching to it is
    // suspended, until the pipeline deploys 0.1.0 again, from its own commit.
    let own_commit = checkout(&previous_commit());
    let serving = drift::Serving {
        ledger: &world.ledger,
        version: SERVING,
        repository: &world.repository,
        digest: &world.digest,
    };
    drift::shows_until_a_deploy_puts_it_back(&serving, || {
        world.deploy_at(&own_commit, SERVING, &world.digest, 120)
    });
    for app in APPS {
        rolled_out("prod-west", app, &world.digest);
    }

    // Application failover on the same pods: a node that stops reporting (`failover.rs`),
    // first for as long as it takes relctl to say where production is not ready.
    let nodes = world.on.nodes;
    failover::a_cluster_down_is_named_when_waiting_for_readiness(nodes);
    failover::both_clusters_down_production_stays_on_both(nodes);
    failover::one_cluster_down_moves_its_replicas_and_they_come_back(nodes);
}

/// The tag's commit, which the broken releases claim.
fn built_commit() -> String {
    super::build::built().commit.clone()
}

/// The task ID among TASKS, or among the tasks of any task that holds tasks.
fn find_task<'a>(tasks: &'a serde_yaml::Value, id: &str) -> Option<&'a serde_yaml::Value> {
    tasks.as_sequence()?.iter().find_map(|task| {
        if task["id"] == id {
            Some(task)
        } else {
            find_task(&task["tasks"], id)
        }
    })
}

/// The version `/api/info` reports at URL, if it answers within a few tries. A request that
/// fails is tried again, as a load balancer does: a Service may send one to a pod that was just
/// told to stop (a Deployment of 4 replaces one old pod at once) until kube-proxy has seen it
/// go, and the pod refuses or resets it. No answer through five retries a second apart is none.
fn version_at(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args([
            "-fsS",
            "--max-time",
            "5",
            "--retry",
            "5",
            "--retry-all-errors",
        ])
        .args(["--retry-delay", "1", &format!("{url}/api/info")])
        .output()
        .ok()?;
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    info["version"].as_str().map(str::to_owned)
}

/// The Deployment the operator made for APP on MEMBER has rolled out DIGEST: every replica
/// it wants is new and available, and no old one is left.
fn rolled_out(member: &str, app: &str, digest: &str) {
    let deployment = super::json_of(member, &["-n", "automatizacion", "get", "deployment", app]);
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert!(image.ends_with(digest), "{member} {app}: {image}");
    let status = &deployment["status"];
    let wanted = &deployment["spec"]["replicas"];
    assert_eq!(
        status["observedGeneration"],
        deployment["metadata"]["generation"]
    );
    // Every pod new and none old: these hold from the rollout's end whatever a pod does next.
    for count in ["replicas", "updatedReplicas"] {
        assert_eq!(&status[count], wanted, "{member} {app} {count}: {status}");
    }
    // Available ones were all of them when the rollout ended, but a pod the shim restarts
    // (kbox/README.md's first-start race) is briefly not: wait for them, as a reader would.
    eventually(&format!("{member}'s {app} available"), || {
        let deployment =
            super::json_of(member, &["-n", "automatizacion", "get", "deployment", app]);
        let status = &deployment["status"];
        match status["availableReplicas"] == deployment["spec"]["replicas"] {
            true => Ok(()),
            false => Err(status.to_string()),
        }
    });
}

/// The pods on MEMBER that ran DIGEST and failed their readiness probe, as the kubelet's events
/// tell it (the pods themselves are gone once the release is put back). Failed: a 503 (the API
/// cannot reach its database), or no answer within the probe's one second, which a busy machine
/// can turn the same 503 into. Err: every event, which says what the kubelet saw instead.
fn started_and_unready(member: &str, digest: &str) -> Result<Vec<String>, String> {
    let events = super::json_of(member, &["-n", "automatizacion", "get", "events"]);
    let events = events["items"].as_array().unwrap();
    let pods_where = |reason: &str, says: &dyn Fn(&str) -> bool| -> Vec<String> {
        let found = events
            .iter()
            .filter(|e| e["reason"] == reason && says(e["message"].as_str().unwrap_or("")));
        found
            .map(|e| e["involvedObject"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let ran = pods_where("Started", &|_| true);
    let of_digest = pods_where("Pulled", &|m| m.contains(digest));
    let unready = pods_where("Unhealthy", &|m| m.contains("Readiness probe failed"));
    let pods: Vec<String> = of_digest
        .into_iter()
        .filter(|pod| ran.contains(pod) && unready.contains(pod))
        .collect();
    match pods.is_empty() {
        false => Ok(pods),
        // What the kubelet did say, for the reader of a failure.
        true => Err(events
            .iter()
            .map(|e| {
                format!(
                    "{} {}: {}",
                    e["involvedObject"]["name"], e["reason"], e["message"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")),
    }
}
