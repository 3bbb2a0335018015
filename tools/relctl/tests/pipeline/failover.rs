//! Application failover on the real Karmada control plane and **real SpinKube nodes**, as
//! phases of the production rollout on them (`spinkube.rs`), with `karmada/propagation/
//! production.yaml` as the repository has it except for its clock: `tolerationSeconds` 120 → 30
//! (and a grace period, where a policy has one, 600 → 30), so that a scene takes a minute or two,
//! not ten. 30 s leaves a rescheduled copy's new pods (ready within seconds) far inside it.
//!
//! A cluster goes down as a node does that stops reporting: its kubelet is frozen
//! (`nodes.sh pause`). Its pods run on, but the member's node-lifecycle controller marks them not
//! ready once the node's lease has lapsed (20 s there), the Deployments the operator made count
//! no available replica, the operator writes that into each SpinApp's status, and Karmada's
//! interpreter judges the SpinApp unhealthy. Everything after that (evict, reschedule, keep the
//! evicted copy) is Karmada's own; thawed, the kubelet reports its pods ready again.

use super::{json_of, kubeconfigs, succeeded};
use host_harness::control_plane::{KARMADA, get, kubectl};
use serde_json::{Value, json};
use spinkube_nodes::Nodes;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) const NAMESPACE: &str = "automatizacion";
pub(super) const MEMBERS: [&str; 2] = ["prod-east", "prod-west"];
pub(super) const APPS: [&str; 2] = ["automatizacion-backend", "automatizacion-frontend"];
/// The shortened clock, in seconds.
const TOLERATION: u64 = 30;
/// Production's replicas in the test clusters' copy, and the policy's 2:1 division of them.
const ALL: i64 = super::build::PRODUCTION_REPLICAS;
const EAST: i64 = ALL * 2 / 3;
const WEST: i64 = ALL - EAST;
/// Production as the weights divide it.
const DIVIDED: [(&str, i64); 2] = [("prod-east", EAST), ("prod-west", WEST)];
/// Longest wait for Karmada to reach a state the test expects: a node's lease lapsing (20 s),
/// the toleration and new pods, with room for a busy machine.
const SETTLE: Duration = Duration::from_secs(240);

/// Where production is, as Karmada and the members say it.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    /// app → the binding's clusters and their replicas.
    scheduled: BTreeMap<String, Vec<(String, i64)>>,
    /// app → the clusters whose evicted copy is kept until someone confirms (`Never`).
    kept: BTreeMap<String, Vec<String>>,
    /// app → the clusters whose evicted copy Karmada will purge on its own.
    purging: BTreeMap<String, Vec<String>>,
    /// (member, app) → (desired, ready) of the copy there, when there is one.
    copies: BTreeMap<(String, String), (i64, i64)>,
}

impl Snapshot {
    pub(super) fn take() -> Self {
        let mut snapshot = Snapshot::default();
        let bindings = json_of(
            "karmada-apiserver",
            &["-n", NAMESPACE, "get", "resourcebindings"],
        );
        for binding in bindings["items"].as_array().unwrap() {
            if binding["spec"]["resource"]["kind"] != "SpinApp" {
                continue;
            }
            let app = binding["spec"]["resource"]["name"]
                .as_str()
                .unwrap()
                .to_owned();
            let spec = &binding["spec"];
            let clusters = spec["clusters"].as_array().into_iter().flatten();
            let scheduled = clusters
                .map(|c| (text(c, "name"), c["replicas"].as_i64().unwrap_or(0)))
                .collect();
            snapshot.scheduled.insert(app.clone(), scheduled);
            for task in spec["gracefulEvictionTasks"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let into = if task["suppressDeletion"] == true {
                    &mut snapshot.kept
                } else {
                    &mut snapshot.purging
                };
                into.entry(app.clone())
                    .or_default()
                    .push(text(task, "fromCluster"));
            }
        }
        for member in MEMBERS {
            let apps = json_of(member, &["-n", NAMESPACE, "get", "spinapps"]);
            for app in apps["items"].as_array().unwrap() {
                let desired = app["spec"]["replicas"].as_i64().unwrap_or(1);
                let ready = app["status"]["readyReplicas"].as_i64().unwrap_or(0);
                let key = (member.to_owned(), text(&app["metadata"], "name"));
                snapshot.copies.insert(key, (desired, ready));
            }
        }
        snapshot
    }

    pub(super) fn copy(&self, member: &str, app: &str) -> Option<(i64, i64)> {
        self.copies
            .get(&(member.to_owned(), app.to_owned()))
            .copied()
    }

    /// Every app scheduled exactly as WANT, nothing evicted, and each copy ready as desired.
    fn is(&self, want: &[(&str, i64)]) -> bool {
        let want: Vec<(String, i64)> = want.iter().map(|(c, r)| ((*c).to_owned(), *r)).collect();
        APPS.iter().all(|app| {
            self.scheduled.get(*app) == Some(&want)
                && !self.kept.contains_key(*app)
                && !self.purging.contains_key(*app)
                && want.iter().all(|(m, r)| {
                    self.copy(m, app)
                        .is_some_and(|(d, ready)| d == *r && ready >= d)
                })
        })
    }
}

fn text(record: &Value, key: &str) -> String {
    record[key].as_str().unwrap().to_owned()
}

/// One failover scene: the production policy with the shortened clock (or one of its own),
/// production divided by the weights (`DIVIDED`) to start from, and, when it ends, every node
/// reporting and the shared nodes' clock back.
pub(super) struct Scene<'a> {
    nodes: &'a Nodes,
    /// The members whose kubelet is frozen.
    down: Mutex<BTreeSet<String>>,
}

impl<'a> Scene<'a> {
    pub(super) fn start(nodes: &'a Nodes) -> Self {
        Self::with_toleration(nodes, TOLERATION)
    }

    /// A scene whose policy tolerates an unhealthy cluster for SECONDS.
    fn with_toleration(nodes: &'a Nodes, seconds: u64) -> Self {
        tolerate_for(seconds);
        let scene = Scene {
            nodes,
            down: Mutex::default(),
        };
        scene.until(
            "production divided by the weights",
            |_| Ok(()),
            |s| s.is(&DIVIDED),
        );
        scene
    }
}

/// The production policy with its failover clock at SECONDS (its toleration, and its grace
/// period where it has one), until `karmada/` is applied again.
pub(super) fn tolerate_for(seconds: u64) {
    try_tolerate_for(seconds).unwrap_or_else(|why| panic!("{why}"));
}

/// [`tolerate_for`], saying why not instead of panicking (for a `Drop` that may run while a
/// failed test unwinds).
fn try_tolerate_for(seconds: u64) -> Result<(), String> {
    let policy = "propagationpolicy/automatizacion-production";
    let policy = get(KARMADA, NAMESPACE, policy)?;
    let application = &policy["spec"]["failover"]["application"];
    let mut shortened = json!({"decisionConditions": {"tolerationSeconds": seconds}});
    if application.get("gracePeriodSeconds").is_some() {
        shortened["gracePeriodSeconds"] = seconds.into();
    }
    let patch = json!({"spec": {"failover": {"application": shortened}}}).to_string();
    let args = [
        "-n",
        NAMESPACE,
        "patch",
        "propagationpolicy",
        "automatizacion-production",
    ];
    kubectl(
        KARMADA,
        &[&args[..], &["--type=merge", "-p", &patch]].concat(),
        None,
    )
    .map(drop)
}

impl Scene<'_> {
    /// MEMBERS down (their nodes paused), every other production member up.
    pub(super) fn set_down(&self, members: &[&str]) {
        let mut down = self.down.lock().unwrap();
        for member in MEMBERS {
            let want = members.contains(&member);
            if want && down.insert(member.to_owned()) {
                self.nodes.pause(member);
            } else if !want && down.remove(member) {
                self.nodes.resume(member);
            }
        }
    }

    /// Polls until DONE holds, checking KEEPS on every snapshot on the way; the last snapshot.
    pub(super) fn until(
        &self,
        what: &str,
        keeps: impl Fn(&Snapshot) -> Result<(), String>,
        done: impl Fn(&Snapshot) -> bool,
    ) -> Snapshot {
        let deadline = Instant::now() + SETTLE;
        loop {
            let snapshot = Snapshot::take();
            if let Err(broken) = keeps(&snapshot) {
                panic!("while waiting for {what}: {broken}\n{snapshot:#?}");
            }
            if done(&snapshot) {
                return snapshot;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not after {SETTLE:?}\n{snapshot:#?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Checks KEEPS for FOR_, whatever Karmada does meanwhile.
    fn holds(&self, for_: Duration, keeps: impl Fn(&Snapshot) -> Result<(), String>) {
        let end = Instant::now() + for_;
        loop {
            let snapshot = Snapshot::take();
            if let Err(broken) = keeps(&snapshot) {
                panic!("{broken}\n{snapshot:#?}");
            }
            if Instant::now() >= end {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs `relctl failback`, as the observe flow does, until production is `DIVIDED` again. Its
    /// two checks are a second apart: nothing is cut off in these scenes (see `failback`).
    pub(super) fn fail_back(&self, keeps: impl Fn(&Snapshot) -> Result<(), String>) {
        let done = |s: &Snapshot| {
            if s.is(&DIVIDED) {
                return true;
            }
            let out = Command::new(env!("CARGO_BIN_EXE_relctl"))
                .args(["failback", "--settle", "1", "--kubeconfig"])
                .arg(kubeconfigs().join("karmada"))
                .output()
                .unwrap();
            succeeded(out);
            false
        };
        self.until("production divided by the weights again", keeps, done);
    }
}

impl Drop for Scene<'_> {
    /// Every node reporting, and the shared nodes' clock back (`nodes::TOLERATION`): the
    /// repository's two minutes, even for a moment, would evict production as soon as it is on
    /// its placeholders again.
    fn drop(&mut self) {
        self.set_down(&[]);
        if let Err(why) = try_tolerate_for(super::nodes::TOLERATION) {
            eprintln!("production's failover clock not given back: {why}");
        }
    }
}

/// prod-east alone runs all the replicas of each app, and they are ready.
fn all_on_prod_east(s: &Snapshot) -> bool {
    APPS.iter().all(|app| {
        s.scheduled[*app] == [("prod-east".to_owned(), ALL)]
            && s.copy("prod-east", app) == Some((ALL, ALL))
    })
}

/// Each app has a copy somewhere with a ready replica.
pub(super) fn something_serves(s: &Snapshot) -> Result<(), String> {
    for app in APPS {
        if !MEMBERS
            .iter()
            .any(|m| s.copy(m, app).is_some_and(|(_, r)| r > 0))
        {
            return Err(format!("no cluster serves {app}"));
        }
    }
    Ok(())
}

/// prod-west down: Karmada moves its replicas to prod-east, keeping prod-west's copy until they
/// are ready there; prod-west back, `relctl failback` restores the weights, though prod-east is
/// cut off while it decides (`failback.rs`).
pub(super) fn one_cluster_down_moves_its_replicas_and_they_come_back(nodes: &Nodes) {
    let scene = Scene::start(nodes);

    scene.set_down(&["prod-west"]);
    // prod-west's copy is kept until prod-east runs everything.
    let no_early_purge = |s: &Snapshot| {
        for app in APPS {
            let east_ready = s.copy("prod-east", app).map_or(0, |(_, r)| r);
            if s.copy("prod-west", app).is_none() && east_ready < ALL {
                return Err(format!("{app} left prod-west before prod-east was ready"));
            }
        }
        something_serves(s)
    };
    scene.until("prod-east runs them all", no_early_purge, all_on_prod_east);

    scene.set_down(&[]);
    super::failback::a_cluster_cut_off_during_failback_leaves_the_kept_copy_kept(&scene);
}

/// Both clusters down: Karmada evicts both and keeps both copies, for as long as they are down.
pub(super) fn both_clusters_down_production_stays_on_both(nodes: &Nodes) {
    let scene = Scene::start(nodes);

    scene.set_down(&MEMBERS);
    let stays = |s: &Snapshot| {
        for (member, app) in MEMBERS.iter().flat_map(|m| APPS.map(|a| (*m, a))) {
            if s.copy(member, app).is_none() {
                return Err(format!("{app} was removed from {member}"));
            }
        }
        if let Some((app, clusters)) = s.purging.iter().next() {
            return Err(format!("Karmada will purge {app} from {clusters:?}"));
        }
        Ok(())
    };
    // Karmada evicts both, whenever its clock says so; the copies stay all along.
    scene.until("both clusters evicted", stays, |s| {
        APPS.iter()
            .all(|app| s.kept.get(*app).map(Vec::len) == Some(2))
    });
    // Then past any grace period the evictions could carry (as long as the toleration), and as
    // long again.
    scene.holds(Duration::from_secs(2 * TOLERATION), stays);

    scene.set_down(&[]);
    scene.until("both clusters ready again", stays, |s| {
        something_serves(s).is_ok()
    });
    scene.fail_back(something_serves);
}

/// prod-west down for longer than it takes to see, and never evicted (the policy tolerates it
/// for an hour): the operator's SpinApp status on prod-west, and Karmada's aggregation of it,
/// say its replicas are not available, and `relctl wait-ready` times out naming the cluster
/// and its Deployment, as the flow's deploy would.
pub(super) fn a_cluster_down_is_named_when_waiting_for_readiness(nodes: &Nodes) {
    let scene = Scene::with_toleration(nodes, 3600);
    assert_eq!(
        succeeded(wait_ready(30)),
        format!("automatizacion-backend {ALL}/{ALL}, automatizacion-frontend {ALL}/{ALL}")
    );

    scene.set_down(&["prod-west"]);
    let divided = DIVIDED.map(|(member, replicas)| (member.to_owned(), replicas));
    let not_evicted = |s: &Snapshot| match APPS
        .iter()
        .find(|app| s.scheduled.get(**app).map(Vec::as_slice) != Some(&divided[..]))
    {
        Some(app) => Err(format!("{app} was moved")),
        None => Ok(()),
    };
    scene.until(
        "Karmada to see prod-west's copies unavailable",
        not_evicted,
        |s| {
            APPS.iter().all(|app| {
                s.copy("prod-west", app) == Some((WEST, 0))
                    && unavailable_on(app).is_some_and(|m| m.starts_with("prod-west:"))
            })
        },
    );
    let timed_out = wait_ready(4);
    scene.set_down(&[]);
    scene.until("prod-west's copies ready again", not_evicted, |s| {
        s.is(&DIVIDED)
    });

    let line = super::one_line(&timed_out, 3);
    for app in APPS {
        let why = format!("{app}: on prod-west, 0 of {WEST} new replicas available");
        assert!(line.contains(&why), "{line}");
    }
    assert!(!line.contains("prod-east"), "{line}");
}

/// `relctl wait-ready` on production, as the flow's deploy waits, for at most SECONDS.
fn wait_ready(seconds: u64) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_relctl"))
        .args(["wait-ready", "--namespace", NAMESPACE, "--timeout"])
        .arg(seconds.to_string())
        .arg("--kubeconfig")
        .arg(kubeconfigs().join("karmada"))
        .output()
        .unwrap()
}

/// The message of an `Available=False` condition in Karmada's aggregated status of APP (each
/// starts with the cluster it came from), if it has one.
fn unavailable_on(app: &str) -> Option<String> {
    let status = json_of(
        "karmada-apiserver",
        &["-n", NAMESPACE, "get", "spinapp", app],
    )["status"]
        .clone();
    let conditions = status["conditions"].as_array()?;
    conditions
        .iter()
        .find(|c| c["type"] == "Available" && c["status"] == "False")
        .and_then(|c| c["message"].as_str().map(str::to_owned))
}
