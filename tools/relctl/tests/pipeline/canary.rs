//! Production in stages, over a previous release that really runs, judged by a real Prometheus
//! (Debian's): the canary with no traffic to judge is "inconclusive" and stopped there by
//! default; a Prometheus that cannot answer stops the stage it judges with one line; and each
//! re-run of the flow starts from the ledger's record, moving only the clusters that do not
//! run the release. The members show what Karmada's override engine gave them: a stopped
//! release never reaches the clusters after the stop, sampled throughout.
//!
//! Judging live traffic, a good release and one that answers ready and fails its pages:
//! `live_traffic`.

use super::build::{built, origin};
use super::doubles::{
    Pipeline, change_setting, previous_commit, previous_image, staging_new_production, statuses_on,
};
use super::{PREVIOUS, VERSION, exclusive, images_on, kubeconfigs, restore_workloads, succeeded};
use host_harness::prometheus::Prometheus;
use host_harness::{free_port, repo, scratch_dir, token};
use pipeline_standins::kestra::run::State;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `production_stages` as kestra/settings.example sets it.
pub fn stages_as_set() -> Vec<String> {
    let settings = std::fs::read_to_string(repo().join("kestra/settings.example")).unwrap();
    let line = settings
        .lines()
        .find_map(|l| l.strip_prefix("production_stages="))
        .expect("kestra/settings.example sets production_stages");
    line.split(',').map(str::to_owned).collect()
}

/// What one member's SpinApps name, sampled four times a second until `never_saw`.
pub struct Watch {
    watching: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
    member: &'static str,
}

impl Watch {
    pub fn images(member: &'static str) -> Self {
        let watching = Arc::new(AtomicBool::new(true));
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (w, s) = (watching.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while w.load(Ordering::SeqCst) {
                s.lock()
                    .unwrap()
                    .extend(images_on(member, "automatizacion"));
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        Watch {
            watching,
            seen,
            thread,
            member,
        }
    }

    /// Stops watching; no sample named DIGEST.
    pub fn never_saw(self, digest: &str) {
        self.watching.store(false, Ordering::SeqCst);
        self.thread.join().unwrap();
        let seen = self.seen.lock().unwrap();
        assert!(!seen.is_empty(), "{} was never sampled", self.member);
        let took = seen.iter().find(|image| image.ends_with(digest));
        assert_eq!(took, None, "{} ran the stopped release", self.member);
    }
}

/// `relctl deploy` of VERSION at IMAGE (`repository@digest`) to production with ROOT's
/// manifests and EXTRA flags, run in ROOT as Kestra's deployer.
pub fn deploy_production(
    pipeline: &Pipeline,
    version: &str,
    image: &str,
    root: &Path,
    extra: &[&str],
) -> Output {
    let (repository, digest) = image.split_once('@').unwrap();
    Command::new(env!("CARGO_BIN_EXE_relctl"))
        .current_dir(root)
        .args([
            "deploy",
            "--environment",
            "production",
            "--version",
            version,
        ])
        .args([
            "--digest",
            digest,
            "--new-name",
            repository,
            "--timeout",
            "180",
        ])
        .args(extra)
        .arg("--root")
        .arg(root)
        .arg("--kubeconfig")
        .arg(kubeconfigs().join("karmada"))
        .env("LEDGER_URL", &pipeline.ledger.base)
        .env("LEDGER_TOKEN", token("kestra", &["deployer"]))
        .output()
        .unwrap()
}

/// 1.3.0 really running on both production clusters, so that a cluster kept on it stays
/// ready: this checkout's app pushed to the test registry, recorded, approved, and deployed at
/// once from its own commit. Returns its digest.
pub fn previous_runs(pipeline: &Pipeline) -> String {
    let image = previous_image();
    let (_, digest) = image.split_once('@').unwrap();
    pipeline.checked_on_staging(PREVIOUS, image, &previous_commit());
    pipeline.approved_by_carol(PREVIOUS);
    let root = scratch_dir("canary-previous").join("automatizacion");
    let source = format!("file://{}", origin().display());
    let root_text = root.to_str().unwrap();
    for args in [
        vec!["clone", "-q", &source, root_text],
        vec![
            "-C",
            root_text,
            "checkout",
            "-q",
            "--detach",
            &previous_commit(),
        ],
    ] {
        assert!(Command::new("git").args(&args).status().unwrap().success());
    }
    let deployed = deploy_production(pipeline, PREVIOUS, image, &root, &[]);
    succeeded(deployed);
    digest.to_owned()
}

#[test]
fn the_canary_stops_what_cannot_be_judged_and_reruns_move_only_the_rest() {
    let _lock = exclusive();
    let dir = scratch_dir("canary-prometheus");
    // A real Prometheus that scrapes nothing: no request was measured in any window.
    let prometheus = Prometheus::start(&dir, "global: {scrape_interval: 1s}\n");
    let mut pipeline = Pipeline::on_clusters("pipeline-canary", true);
    let previous = previous_runs(&pipeline);
    pipeline.recorded_as_built();
    let shared = pipeline.kestra.shared.clone();
    let set = |name: &str, value: serde_json::Value| change_setting(&shared, name, value);
    set("production_stages", stages_as_set().join(",").into());
    set(
        "production_prometheus",
        format!("prod-west={}", prometheus.base).into(),
    );
    set("analysis_window", 5.into());
    set("analysis_settle", 1.into());
    let digest = &built().digest;

    // 1. Nothing to judge on the canary: inconclusive, which stops by default.
    let mut first = pipeline.start();
    assert_eq!(pipeline.kestra.run(&mut first), State::Paused);
    assert!(pipeline.approve("carol", "approve", &first).succeeded);
    let east = Watch::images("prod-east");
    let state = pipeline.kestra.run(&mut first);
    east.never_saw(digest);
    let State::Failed(error) = state else {
        panic!("an inconclusive canary stops the release: {state:?}");
    };
    assert!(
        error.contains(&format!("{VERSION} stopped on prod-west")),
        "{error}"
    );
    assert!(
        error.contains("analysis inconclusive: 0 requests"),
        "{error}"
    );
    assert!(error.contains("prod-east never took it"), "{error}");
    let images = super::production_images();
    assert!(images.iter().all(|i| i.ends_with(&previous)), "{images:?}");
    // The errors branch says where and why, from the ledger, for Slack and mail.
    let why = first.output("stop_reason", "reason").unwrap();
    assert!(why.starts_with("prod-west: analysis inconclusive"), "{why}");
    let release = pipeline.release(VERSION);
    let failed = release["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "failed");
    let failed = failed.unwrap()["message"].as_str().unwrap();
    assert!(
        failed.contains("prod-west: analysis inconclusive"),
        "{failed}"
    );

    // 2. Let inconclusive through: the canary moves and passes; prod-east's Prometheus does
    // not answer, so prod-east stops, and prod-west keeps the release.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let both = format!("prod-west={},prod-east={closed}", prometheus.base);
    set("analysis_inconclusive", "pass".into());
    set("production_prometheus", both.into());
    let mut second = pipeline.start();
    let state = pipeline.kestra.run(&mut second);
    let State::Failed(error) = state else {
        panic!("prod-east's stage cannot be judged: {state:?}");
    };
    assert!(
        error.contains(&format!("{VERSION} stopped on prod-east")),
        "{error}"
    );
    assert!(
        error.contains(&format!("Prometheus at {closed} cannot answer")),
        "{error}"
    );
    assert!(error.contains("prod-west keep it"), "{error}");
    assert!(
        images_on("prod-west", "automatizacion")
            .iter()
            .all(|i| i.ends_with(digest))
    );
    let east = images_on("prod-east", "automatizacion");
    assert!(east.iter().all(|i| i.ends_with(&previous)), "{east:?}");

    // 3. Again with prod-east's Prometheus back: only prod-east moves.
    let both = format!("prod-west={0},prod-east={0}", prometheus.base);
    set("production_prometheus", both.into());
    let mut third = pipeline.start();
    let state = pipeline.kestra.run(&mut third);
    let images = super::production_images();
    restore_workloads();
    assert_eq!(state, State::Success, "{:?}", third.ran);
    assert!(images.iter().all(|i| i.ends_with(digest)), "{images:?}");
    let events = pipeline.events(VERSION);
    let moved_once = ["started", "failed", "rolled_back", "started", "succeeded"];
    assert_eq!(statuses_on(&events, "prod-west"), moved_once);
    assert_eq!(statuses_on(&events, "prod-east"), moved_once);
    assert_eq!(pipeline.current_versions(), staging_new_production(VERSION));
}
