//! Drift, as one phase of the production rollout on real nodes (`spinkube.rs`): a cluster
//! changed by hand shows as drift in the ledger (its API, its console, its gauge, its audit log)
//! once `relctl observe` reports what Karmada reflects from the member, and a deploy through
//! the pipeline clears it. On real nodes the hand change is real too: the operator rolls
//! prod-west's backend towards a digest that cannot be pulled, and the pods it had keep serving.
//!
//! While Karmada dispatches to a member it puts a hand change back within seconds (measured
//! here: under 2 s), so drift that lasts needs Karmada to stop doing so: an operator who
//! suspends dispatching to a cluster during an incident (`suspension.dispatchingOnClusters`)
//! and fixes it by hand, as here; a member Karmada cannot reach; or a change to the control
//! plane's own copy outside the pipeline.

use super::{json_of, kubeconfigs, succeeded};
use host_harness::{Host, token};
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const HAND_SET: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

/// The release production runs, as the ledger records it and the members run it.
pub(super) struct Serving<'a> {
    pub ledger: &'a Host,
    pub version: &'a str,
    pub repository: &'a str,
    pub digest: &'a str,
}

/// The phase: production runs SERVING everywhere when it starts and when it ends; DEPLOY is the
/// pipeline's deploy of SERVING again, from its own commit.
pub(super) fn shows_until_a_deploy_puts_it_back(serving: &Serving, deploy: impl Fn() -> Output) {
    let ledger = serving.ledger;
    let west = observe_until(ledger, "prod-west observed", |w| {
        w["observed"]["digest"] == serving.digest
    });
    assert_eq!(west["drift"], Value::Null, "{west}");
    assert_eq!(west["observed"]["version"], serving.version);
    assert_eq!(gauge(ledger, "prod-west"), "0");
    let before = drift_log(ledger, "prod-west");

    // An operator suspends Karmada's dispatching to prod-west and changes its backend by hand.
    let hand_change = HandChange::new(&format!("{}@{HAND_SET}", serving.repository));
    let west = observe_until(ledger, "drift shown", |w| !w["drift"].is_null());
    let short = &serving.digest[..19];
    assert_eq!(
        west["drift"]["summary"],
        format!(
            "prod-west runs sha256:333333333333… (unknown to the ledger), expected {} ({short}…)",
            serving.version
        ),
    );
    assert_eq!(west["drift"]["kind"], "unexpected_digest");
    assert_eq!(gauge(ledger, "prod-west"), "1");
    assert_eq!(gauge(ledger, "prod-east"), "0");
    let console = ledger.get("/").body;
    assert!(
        console.contains("prod-west runs sha256:333333333333… (unknown to the ledger)"),
        "the console's matrix shows the drift"
    );
    let started = [&before[..], &["drift.started".to_owned()]].concat();
    assert_eq!(drift_log(ledger, "prod-west"), started);

    // Dispatching resumes, and a deploy of the recorded release through the pipeline puts
    // prod-west back: relctl returns once its Deployment has rolled back out.
    hand_change.resume_dispatching();
    succeeded(deploy());
    let west = observe_until(ledger, "drift cleared", |w| w["drift"].is_null());
    assert_eq!(west["observed"]["digest"], serving.digest);
    assert_eq!(gauge(ledger, "prod-west"), "0");
    let ended = [&started[..], &["drift.ended".to_owned()]].concat();
    assert_eq!(drift_log(ledger, "prod-west"), ended);
    // prod-east ran its release throughout.
    assert!(drift_log(ledger, "prod-east").is_empty());

    // What an observer may not report.
    let observation =
        json!({"digest": HAND_SET, "observed_at": "2026-12-04T10:00:00Z", "source": "hand"});
    let deployer = token("kestra", &["deployer"]);
    let path = "/api/clusters/prod-south/observations";
    let unknown = ledger.post_json(path, &deployer, &observation);
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let mut malformed = observation.clone();
    malformed["digest"] = json!("sha256:abc");
    let path = "/api/clusters/prod-west/observations";
    let refused = ledger.post_json(path, &deployer, &malformed);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        drift_log(ledger, "prod-west"),
        ended,
        "a refusal records nothing"
    );
}

fn relctl(ledger: &Host, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relctl"))
        .env("LEDGER_URL", &ledger.base)
        .env("LEDGER_TOKEN", token("kestra", &["deployer"]))
        .env("KARMADA_KUBECONFIG", kubeconfigs().join("karmada"))
        .args(args)
        .output()
        .unwrap()
}

/// prod-west's entry of `/api/clusters`.
fn prod_west(ledger: &Host) -> Value {
    let clusters = ledger.get("/api/clusters").json();
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
fn observe_until(ledger: &Host, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let printed = succeeded(relctl(ledger, &["observe"]));
        let west = prod_west(ledger);
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
fn drift_log(ledger: &Host, cluster: &str) -> Vec<String> {
    let audit = ledger.get("/api/audit?limit=100").json();
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

fn gauge(ledger: &Host, cluster: &str) -> String {
    let metrics = ledger.get("/metrics").body;
    let line = format!("ledger_cluster_drift{{cluster=\"{cluster}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or("absent")
        .to_owned()
}

/// prod-west's backend SpinApp, changed by hand in the member while Karmada's dispatching to
/// prod-west is suspended. Dropped, dispatching resumes and the image is as before, whatever
/// happened in between.
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
