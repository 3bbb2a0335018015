//! `relctl failback` when the cluster that would serve is cut off while it decides: the end of
//! `failover.rs`'s scene with one cluster down, on real nodes. prod-west was evicted and keeps
//! its copy; it recovers, and failback finds it ready to come back while prod-east serves.
//! Then, between failback's two checks, prod-east's API server stops, as a member that Karmada
//! can no longer reach: Karmada keeps prod-east's last reflected status, "Healthy", but turns
//! its `Ready` condition false, and failback keeps prod-west's copy. Had it given the copy up on
//! the reflected health alone, production would have had no copy that Karmada could vouch for.
//! Once prod-east is back, the next runs fail back as usual.
//!
//! The control plane runs Karmada's cluster status controller with a shorter clock
//! (`--cluster-failure-threshold` 10 s: local-dev/control-plane.sh), so the second check comes
//! 40 s after the first, not 90 s. The cut outlasts the member's node-lifecycle grace period
//! (20 s), so when prod-east's API server is back its pods may be marked not ready for a few
//! seconds, until its kubelet reports again; nothing here depends on them meanwhile: prod-west's
//! kept copy serves.

use super::failover::{APPS, MEMBERS, NAMESPACE, Scene, something_serves};
use super::{json_of, kubeconfigs};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Seconds between failback's two checks here (see the module's note).
const SETTLE: &str = "40";

/// A member's API server stopped, as a cluster cut off from the control plane; started again
/// by `control-plane.sh up`, which starts whatever of it is not running, when dropped.
struct CutOff;

impl CutOff {
    fn member(name: &str) -> Self {
        let dir = kubeconfigs().parent().unwrap().to_owned();
        let pid = std::fs::read_to_string(dir.join(format!("pids/{name}-apiserver"))).unwrap();
        let pid = pid.trim();
        // Abruptly, as a link goes down: a stopping server would first drain its watches.
        let killed = Command::new("kill").args(["-KILL", pid]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                Instant::now() < deadline,
                "{name}'s API server did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        CutOff
    }
}

impl Drop for CutOff {
    fn drop(&mut self) {
        let up = Command::new(host_harness::repo().join("local-dev/control-plane.sh"))
            .args(["up", "--no-workloads"])
            .output()
            .unwrap();
        assert!(
            up.status.success(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
    }
}

/// Karmada's `Ready` for each production member.
fn ready(member: &str) -> bool {
    let cluster = json_of(
        "karmada-apiserver",
        &["get", "clusters.cluster.karmada.io", member],
    );
    cluster["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Which clusters' copies each app's binding reflects as healthy.
fn reflected_healthy(app: &str) -> Vec<String> {
    let binding = json_of(
        "karmada-apiserver",
        &[
            "-n",
            NAMESPACE,
            "get",
            "resourcebinding",
            &format!("{app}-spinapp"),
        ],
    );
    binding["status"]["aggregatedStatus"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["health"] == "Healthy")
        .filter_map(|item| item["clusterName"].as_str().map(str::to_owned))
        .collect()
}

/// Whether each app's binding still keeps prod-west's evicted copy (`suppressDeletion`).
fn prod_west_kept() -> bool {
    APPS.iter().all(|app| {
        let binding = json_of(
            "karmada-apiserver",
            &[
                "-n",
                NAMESPACE,
                "get",
                "resourcebinding",
                &format!("{app}-spinapp"),
            ],
        );
        binding["spec"]["gracefulEvictionTasks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["fromCluster"] == "prod-west" && t["suppressDeletion"] == true)
    })
}

/// SCENE starts where `failover::one_cluster_down…` leaves it: prod-east runs them all,
/// prod-west's evicted copy is kept, and prod-west's node reports again.
pub(super) fn a_cluster_cut_off_during_failback_leaves_the_kept_copy_kept(scene: &Scene) {
    scene.until(
        "prod-west's kept copy healthy again",
        something_serves,
        |_| {
            APPS.iter()
                .all(|app| reflected_healthy(app).len() == MEMBERS.len())
        },
    );

    let mut failback = Command::new(env!("CARGO_BIN_EXE_relctl"))
        .args(["failback", "--settle", SETTLE, "--kubeconfig"])
        .arg(kubeconfigs().join("karmada"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut stderr = BufReader::new(failback.stderr.take().unwrap());
    while !said.contains("checking again") {
        said.clear();
        assert!(
            stderr.read_line(&mut said).unwrap() > 0,
            "failback ended before its second check"
        );
    }
    let cut = CutOff::member("prod-east");
    let out = failback.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{printed}");
    for app in APPS {
        assert!(
            printed.contains(&format!("{app}: kept on prod-west")),
            "{printed}"
        );
        assert!(
            reflected_healthy(app).contains(&"prod-east".to_owned()),
            "Karmada still reflects prod-east as healthy: the test shows what that is worth"
        );
    }
    assert!(!ready("prod-east"), "Karmada sees prod-east cut off");
    assert!(prod_west_kept(), "the kept copy was given up");
    let west = json_of("prod-west", &["-n", NAMESPACE, "get", "spinapps"]);
    assert_eq!(west["items"].as_array().unwrap().len(), APPS.len());

    drop(cut);
    scene.until("prod-east Ready again", something_serves, |_| {
        ready("prod-east")
    });
    scene.fail_back(something_serves);
}
