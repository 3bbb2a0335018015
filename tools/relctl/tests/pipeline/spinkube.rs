//! The production rollout against clusters that run what they are given (`clusters`): the
//! **SpinKube stand-in** runs every production SpinApp that Karmada placed with real Spin. The
//! flow's own `deploy_production` command, read from the flow file and run with the environment
//! its task declares, first rolls out this checkout's build (version 0.1.0, what it reports),
//! then a release that cannot run: a pushed digest that cannot be pulled, or the real 1.4.0 on
//! clusters whose `db_url` Secret is wrong, so that it starts and never gets ready. Each time
//! relctl waits, records `failed`, puts 0.1.0 back by its digest, from its own commit's manifests
//! (the commit before the tag's: v1.4.0's own adds `manifests_of` to the ConfigMap, which must
//! not survive the put-back) and records `rolled_back`, and 0.1.0 answers on both clusters from
//! the first request to the last.

use super::clusters::OnClusters;
use super::doubles::previous_commit;
use super::{exclusive, kubeconfigs, registry, succeeded};
use host_harness::{HostBuilder, push_checkout, release_body, repo, scratch_dir, token};
use serde_json::json;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SERVING: &str = "0.1.0";
const BROKEN: &str = "0.2.0";
const MEMBERS: [&str; 2] = ["prod-east", "prod-west"];

/// A clone of the origin (`build::origin`) at REV, as the flow's `clone_release` leaves its
/// working directory.
fn checkout(rev: &str) -> std::path::PathBuf {
    let root = scratch_dir("pipeline-spinkube-checkout").join("automatizacion");
    let source = format!("file://{}", super::build::origin().display());
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

/// Production served by 0.1.0 through the stand-in, rolled out by the flow's command, with
/// the ledger that recorded it; and the control plane put back when dropped.
struct World {
    on: OnClusters,
    ledger: host_harness::Host,
    kestra: String,
    root: std::path::PathBuf,
    repository: String,
    digest: String,
}

impl World {
    fn serving_previous(label: &str) -> Self {
        let on = OnClusters::start(label, &MEMBERS);
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
        // Time for Spin to pull and start the first release, from its own commit.
        succeeded(world.deploy(SERVING, digest, 180));
        assert!(!world.config_has_newer_manifests());
        // The releases after it come from the tag's commit, as clone_release checks it out.
        world.root = checkout(&format!("v{}", super::VERSION));
        world
    }

    /// VERSION recorded with DIGEST from COMMIT, checked on staging, and approved for
    /// production.
    fn approved(&self, version: &str, digest: &str, commit: &str) {
        let ledger = &self.ledger;
        let mut body = release_body(version);
        body["artifact"] = format!("{}:{version}", self.repository).into();
        body["digest"] = digest.into();
        body["commit"] = commit.into();
        let created = ledger.post_json("/api/releases", &self.kestra, &body);
        assert_eq!(created.status, 201, "{}", created.body);
        let event = json!({"cluster": "staging", "status": "succeeded"});
        let path = format!("/api/releases/{version}/deployments");
        assert_eq!(ledger.post_json(&path, &self.kestra, &event).status, 201);
        let path = format!("/api/releases/{version}/approval");
        assert_eq!(ledger.post_empty(&path, &self.kestra).status, 201);
        ledger.decide(version, "approve", "ship it");
    }

    fn backend(&self, member: &str) -> String {
        self.on.clusters.backend(member, "automatizacion")
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

    /// The flow's `deploy_production` with the environment its task declares.
    fn deploy(&self, version: &str, digest: &str, timeout: u64) -> std::process::Output {
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
        ];
        deploy_production(&env, &self.root)
    }

    /// Deploys VERSION (DIGEST), which must fail, while watching what both clusters serve;
    /// then checks that 0.1.0 answered throughout and the ledger tells the whole story.
    fn fails_while_previous_serves(&self, version: &str, digest: &str) {
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
        // It never becomes ready, so its smoke check gives up after 20 s, as the flow's
        // deploy_timeout would after its own.
        let failed = self.deploy(version, digest, 20);
        watching.store(false, Ordering::SeqCst);
        watcher.join().unwrap();

        let reason = String::from_utf8_lossy(&failed.stderr).into_owned();
        assert_eq!(failed.status.code(), Some(1), "{reason}");
        assert!(
            reason.contains(&format!("{SERVING} was put back")),
            "{reason}"
        );
        let answers = answers.lock().unwrap();
        assert!(!answers.is_empty());
        for (url, seen) in answers.iter() {
            assert_eq!(seen.as_deref(), Some(SERVING), "{url} during the rollout");
        }
        let release = self.ledger.get(&format!("/api/releases/{version}")).json();
        for member in MEMBERS {
            let statuses: Vec<&str> = release["deployments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["cluster"] == member)
                .map(|e| e["status"].as_str().unwrap())
                .collect();
            assert_eq!(statuses, ["started", "failed", "rolled_back"], "{member}");
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
    }
}

#[test]
fn a_release_that_cannot_be_pulled_is_rolled_back_while_the_previous_one_serves() {
    let _only = exclusive();
    let world = World::serving_previous("pipeline-spinkube-unpullable");
    let unpullable = format!("sha256:{}", "0".repeat(64));
    world.approved(BROKEN, &unpullable, &built_commit());
    world.fails_while_previous_serves(BROKEN, &unpullable);
}

#[test]
fn a_release_that_starts_but_is_never_ready_is_rolled_back_while_the_previous_one_serves() {
    let _only = exclusive();
    let world = World::serving_previous("pipeline-spinkube-not-ready");
    // The cluster's Secret now names a database the app may not reach: what was ready keeps
    // serving, and every new process starts and fails its readiness check.
    let (_, authority) = world.on.db_url.split_once('@').unwrap();
    let host = authority.split('/').next().unwrap();
    let wrong = world
        .on
        .db_url
        .replace(host, &format!("127.0.0.1:{}", host_harness::free_port()));
    world.on.apply_secrets("automatizacion", &wrong);
    // The real 1.4.0 the flow built, which pulls and starts.
    let built = super::build::built();
    world.approved(super::VERSION, &built.digest, &built.commit);
    world.fails_while_previous_serves(super::VERSION, &built.digest);
    // It did start, and failed its readiness check.
    let processes = world
        .on
        .clusters
        .state()
        .join("prod-east/automatizacion/automatizacion-backend");
    let started_and_unready = std::fs::read_dir(processes).unwrap().any(|dir| {
        let dir = dir.unwrap().path();
        let image = std::fs::read_to_string(dir.join("image")).unwrap_or_default();
        let log = std::fs::read_to_string(dir.join("spin.log")).unwrap_or_default();
        image.ends_with(&built.digest) && log.contains(r#""route":"/api/ready","status":503"#)
    });
    assert!(
        started_and_unready,
        "no 1.4.0 backend started and failed its readiness check"
    );
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

/// The version `/api/info` reports at URL, if it answers.
fn version_at(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "5", &format!("{url}/api/info")])
        .output()
        .ok()?;
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    info["version"].as_str().map(str::to_owned)
}
