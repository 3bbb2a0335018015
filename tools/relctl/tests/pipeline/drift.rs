//! Drift on the real Karmada control plane: a cluster changed by hand shows as drift in the
//! ledger (its API, its console, its gauge, its audit log) once `relctl observe` reports what
//! Karmada reflects from the member, and a deploy through the pipeline clears it.
//!
//! While Karmada dispatches to a member it puts a hand change back within seconds (measured
//! here: under 2 s), so drift that lasts needs Karmada to stop doing so: an operator who
//! suspends dispatching to a cluster during an incident (`suspension.dispatchingOnClusters`)
//! and fixes it by hand, as here; a member Karmada cannot reach; or a change to the control
//! plane's own copy outside the pipeline.

use super::build::checkout;
use super::doubles::Pipeline;
use super::{
    PREVIOUS, PRODUCTION_BEFORE, exclusive, json_of, kubeconfigs, restore_workloads, succeeded,
};
use host_harness::token;
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const HAND_SET: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn relctl(pipeline: &Pipeline, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relctl"))
        .env("LEDGER_URL", &pipeline.ledger.base)
        .env("LEDGER_TOKEN", token("kestra", &["deployer"]))
        .env("KARMADA_KUBECONFIG", kubeconfigs().join("karmada"))
        .args(args)
        .output()
        .unwrap()
}

/// `relctl deploy` of PREVIOUS, the approved release, to production through Karmada.
fn deploy_production(pipeline: &Pipeline) {
    let root = checkout().to_str().unwrap();
    let deploy = [
        "deploy",
        "--environment",
        "production",
        "--version",
        PREVIOUS,
        "--digest",
        PRODUCTION_BEFORE,
        "--root",
        root,
        "--timeout",
        "120",
    ];
    succeeded(relctl(pipeline, &deploy));
}

/// prod-west's entry of `/api/clusters`.
fn prod_west(pipeline: &Pipeline) -> Value {
    let clusters = pipeline.ledger.get("/api/clusters").json();
    clusters
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "prod-west")
        .unwrap()
        .clone()
}

/// Runs `relctl observe` until the ledger's view of prod-west passes CHECK (Karmada reflects
/// a member's change within a few seconds; the wait is for that, not for a time).
fn observe_until(pipeline: &Pipeline, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = relctl(pipeline, &["observe"]);
        let printed = succeeded(out);
        let west = prod_west(pipeline);
        if check(&west) {
            return west;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 60 s; last: {printed} {west}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The drift entries of CLUSTER's audit log, oldest first.
fn drift_log(pipeline: &Pipeline, cluster: &str) -> Vec<String> {
    let audit = pipeline.ledger.get("/api/audit?limit=100").json();
    let target = format!("cluster/{cluster}");
    let mut actions: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target.as_str())
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    actions.reverse();
    actions
}

fn gauge(pipeline: &Pipeline, cluster: &str) -> String {
    let metrics = pipeline.ledger.get("/metrics").body;
    let line = format!("ledger_cluster_drift{{cluster=\"{cluster}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or("absent")
        .to_owned()
}

#[test]
fn a_cluster_changed_by_hand_shows_as_drift_until_a_deploy_puts_it_back() {
    let _lock = exclusive();
    let pipeline = Pipeline::new("pipeline-drift", false);
    // PREVIOUS runs everywhere, as the workloads pin it, deployed through the pipeline.
    pipeline.seed_previous(true);
    deploy_production(&pipeline);
    let west = observe_until(&pipeline, "prod-west observed", |w| {
        !w["observed"].is_null()
    });
    assert_eq!(west["drift"], Value::Null, "{west}");
    assert_eq!(west["observed"]["version"], PREVIOUS);
    assert_eq!(gauge(&pipeline, "prod-west"), "0");

    // An operator suspends Karmada's dispatching to prod-west and changes its backend by hand.
    let hand_change = HandChange::new(&format!(
        "registry.example.com/acme/automatizacion@{HAND_SET}"
    ));
    let west = observe_until(&pipeline, "drift shown", |w| !w["drift"].is_null());
    assert_eq!(
        west["drift"]["summary"],
        "prod-west runs sha256:333333333333… (unknown to the ledger), expected 1.3.0 (sha256:222222222222…)",
    );
    assert_eq!(west["drift"]["kind"], "unexpected_digest");
    assert_eq!(gauge(&pipeline, "prod-west"), "1");
    assert_eq!(gauge(&pipeline, "prod-east"), "0");
    let console = pipeline.ledger.get("/").body;
    assert!(
        console.contains("prod-west runs sha256:333333333333… (unknown to the ledger)"),
        "the console's matrix shows the drift"
    );
    assert_eq!(drift_log(&pipeline, "prod-west"), ["drift.started"]);

    // Dispatching resumes, and a deploy of the recorded release through the pipeline puts
    // prod-west back.
    hand_change.resume_dispatching();
    deploy_production(&pipeline);
    let west = observe_until(&pipeline, "drift cleared", |w| w["drift"].is_null());
    assert_eq!(west["observed"]["digest"], PRODUCTION_BEFORE);
    assert_eq!(gauge(&pipeline, "prod-west"), "0");
    assert_eq!(
        drift_log(&pipeline, "prod-west"),
        ["drift.started", "drift.ended"]
    );
    // prod-east ran its release throughout; staging has run the workloads' pin, which the
    // seeded ledger never recorded, from the first observation on.
    assert_eq!(drift_log(&pipeline, "prod-east"), Vec::<String>::new());
    assert_eq!(drift_log(&pipeline, "staging"), ["drift.started"]);

    // What an observer may not report.
    let observation =
        json!({"digest": HAND_SET, "observed_at": "2026-12-04T10:00:00Z", "source": "hand"});
    let deployer = token("kestra", &["deployer"]);
    let unknown = pipeline.ledger.post_json(
        "/api/clusters/prod-south/observations",
        &deployer,
        &observation,
    );
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let mut malformed = observation.clone();
    malformed["digest"] = json!("sha256:abc");
    let refused = pipeline.ledger.post_json(
        "/api/clusters/prod-west/observations",
        &deployer,
        &malformed,
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        drift_log(&pipeline, "prod-west").len(),
        2,
        "a refusal records nothing"
    );
}

/// prod-west's backend SpinApp, changed by hand in the member while Karmada's dispatching to
/// prod-west is suspended. Dropped, everything is as before, so that a failure here leaves
/// the next scenario the pinned workloads.
struct HandChange {
    was: String,
}

const BACKEND: [&str; 4] = ["-n", "automatizacion", "spinapp", "automatizacion-backend"];
const POLICY: [&str; 2] = ["propagationpolicy", "automatizacion-production"];

impl HandChange {
    fn new(image: &str) -> Self {
        let get = [&["get"], &BACKEND[..]].concat();
        let was = json_of("prod-west", &get)["spec"]["image"]
            .as_str()
            .unwrap()
            .to_owned();
        suspend(json!({"dispatchingOnClusters": {"clusterNames": ["prod-west"]}}));
        // Karmada stops putting prod-west back once its Work says so.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !prod_west_suspended() {
            assert!(
                Instant::now() < deadline,
                "Karmada never suspended prod-west's Work"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        set_image(image);
        HandChange { was }
    }

    fn resume_dispatching(&self) {
        suspend(Value::Null);
    }
}

impl Drop for HandChange {
    fn drop(&mut self) {
        suspend(Value::Null);
        set_image(&self.was);
        restore_workloads();
    }
}

/// Sets the production SpinApps' policy's `suspension` (null lifts it).
fn suspend(suspension: Value) {
    let patch = json!({"spec": {"suspension": suspension}}).to_string();
    let args = [
        &["-n", "automatizacion", "patch"],
        &POLICY[..],
        &["--type=merge", "-p", &patch],
    ]
    .concat();
    json_of("karmada-apiserver", &args);
}

/// Whether the Work that carries the backend SpinApp to prod-west has dispatching suspended.
fn prod_west_suspended() -> bool {
    let works = json_of(
        "karmada-apiserver",
        &["-n", "karmada-es-prod-west", "get", "works.work.karmada.io"],
    );
    works["items"].as_array().into_iter().flatten().any(|w| {
        let manifest = &w["spec"]["workload"]["manifests"][0];
        manifest["kind"] == "SpinApp"
            && manifest["metadata"]["name"] == "automatizacion-backend"
            && w["spec"]["suspendDispatching"] == true
    })
}

fn set_image(image: &str) {
    let patch = json!({"spec": {"image": image}}).to_string();
    let args = [
        &["patch"],
        &BACKEND[2..],
        &["-n", "automatizacion", "--type=merge", "-p", &patch],
    ]
    .concat();
    json_of("prod-west", &args);
}
