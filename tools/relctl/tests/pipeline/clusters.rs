//! The suite's member clusters run by the **SpinKube stand-in** (`testing/spinkube-standin`,
//! here in-process) for one scenario: every SpinApp Karmada placed runs with real Spin, pulled
//! from the real registry, reading a PostgreSQL database and a Redis of the scenario's own
//! through each environment's Secret, with staging's override as the test clusters' copy of
//! the repository says (`build::origin`). Everything is put back when the scenario ends.

use super::kubeconfigs;
use host_harness::control_plane::{KARMADA, kubectl_ok};
use host_harness::{Redis, scratch_dir};
use native_db::testing::TestDb;
use spinkube_nodes::apply_secrets;
use spinkube_standin::desired::Services;
use spinkube_standin::put_back::PutBack;
use spinkube_standin::standin::{Config, StandIn};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Each environment's namespace on the control plane.
const NAMESPACES: [&str; 2] = ["automatizacion-staging", "automatizacion"];

/// The stand-in, stepping twice a second on a thread of its own until dropped.
pub struct Clusters {
    standin: Arc<Mutex<StandIn>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Clusters {
    /// PLATFORM: each member's Services that are not SpinApps (a Collector), on loopback.
    fn start(label: &str, members: &[&str], platform: BTreeMap<String, Services>) -> Self {
        let state = scratch_dir(label);
        // One wasmtime compile cache for the whole binary, as a node's shim keeps one: each
        // scenario's processes start without compiling the same components again.
        static COMPILED: OnceLock<PathBuf> = OnceLock::new();
        let compiled = COMPILED.get_or_init(|| scratch_dir("pipeline-wasmtime-cache"));
        std::os::unix::fs::symlink(compiled, state.join("compiled")).unwrap();
        let config = Config {
            kubeconfigs: kubeconfigs(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            spin: host_harness::spin_bin().to_owned(),
            state,
            insecure_registry: true,
            platform_services: platform,
        };
        let standin = Arc::new(Mutex::new(StandIn::new(config)));
        let stop: Arc<AtomicBool> = Arc::default();
        let (s, halt) = (standin.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                s.lock().unwrap().step();
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Clusters {
            standin,
            stop,
            thread: Some(thread),
        }
    }

    /// The console-facing Service of the backend in NAMESPACE on MEMBER: what the flow's smoke
    /// URLs name.
    pub fn backend(&self, member: &str, namespace: &str) -> String {
        self.service(member, namespace, "automatizacion-backend")
    }

    /// The URL of the Service of SpinApp NAMESPACE/NAME on MEMBER, once the stand-in has one.
    pub fn service(&self, member: &str, namespace: &str, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self
                .standin
                .lock()
                .unwrap()
                .service(member, namespace, name);
            if let Some(url) = found {
                return url;
            }
            assert!(Instant::now() < deadline, "no {name} Service on {member}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Clusters {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.standin.lock().unwrap().stop();
    }
}

/// The members run by the stand-in for one scenario, with what they read.
pub struct OnClusters {
    /// Declared first, so it stops before the control plane is put back.
    pub clusters: Clusters,
    redis: Redis,
    _db: TestDb,
    _put_back: PutBack,
}

impl OnClusters {
    pub fn start(label: &str, members: &[&str], platform: BTreeMap<String, Services>) -> Self {
        let put_back = PutBack::take(&kubeconfigs());
        let db = TestDb::postgres();
        let db_url = db.db_url().unwrap().to_owned();
        let overrides = super::build::checkout().join("karmada/overrides/staging.yaml");
        kubectl_ok(KARMADA, &["apply", "-f", overrides.to_str().unwrap()], None);
        let world = OnClusters {
            clusters: Clusters::start(&format!("{label}-spinkube"), members, platform),
            redis: Redis::start(),
            _db: db,
            _put_back: put_back,
        };
        for namespace in NAMESPACES {
            apply_secrets(namespace, &db_url, &world.redis.url);
        }
        world
    }
}
