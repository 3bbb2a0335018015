//! The suite's member clusters on **real SpinKube nodes** (`spinkube_nodes`: the real kubelet,
//! containerd with containerd-shim-spin, kube-proxy and spin-operator on each member), one set
//! for the whole binary (`Nodes::shared`). For one scenario, every SpinApp Karmada places runs
//! as pods, pulled from the suite's registry, reading a PostgreSQL database and a Redis of the
//! scenario's own through each environment's Secret and the members' Services for them, with
//! staging's override as the test clusters' copy of the repository says (`build::origin`).
//! The control plane is put back when the scenario ends; the next one clears what its pods
//! left on the nodes before it starts.

use super::kubeconfigs;
use host_harness::Redis;
use host_harness::control_plane::{KARMADA, eventually_within, kubectl_ok};
use native_db::testing::TestDb;
use spinkube_nodes::{Nodes, service_url};
use spinkube_standin::put_back::PutBack;
use std::time::Duration;

/// Each environment's namespace and the members Karmada takes it to.
const ENVIRONMENTS: [(&str, &[&str]); 2] = [
    ("automatizacion-staging", &["staging"]),
    ("automatizacion", &["prod-east", "prod-west"]),
];
/// From nothing to a Service takes the operator about a second; a busy machine may take more.
const WAIT: Duration = Duration::from_secs(120);
/// How long Karmada tolerates production unhealthy, in seconds, while the shared nodes run: a
/// day, longer than the whole binary. Between scenarios, and at each one's start, production
/// is on the overlays' placeholder digests, which no registry holds, so its pods are not
/// ready; with the repository's two minutes Karmada evicts it, and an evicted copy stays on
/// its cluster (`purgeMode: Never`), where no later release reaches it. Set when a scenario
/// starts and kept by its put-back (`PutBack::tolerating`); `failover`'s scenes set their own
/// clock and give this one back.
pub(super) const TOLERATION: u64 = 24 * 3600;

/// A production cluster's Collector on the host (its address, `HOST:PORT`), as the executor
/// names it: `otel-collector.monitoring`, port 4318.
pub struct Collector<'a> {
    pub member: &'a str,
    pub address: &'a str,
}

pub struct OnNodes {
    pub nodes: &'static Nodes,
    /// Dropped first (fields drop in order, after `drop`'s account): the Secrets that name the
    /// database go before it does, and production's failover clock stays `TOLERATION`.
    _put_back: PutBack,
    _redis: Redis,
    _db: TestDb,
}

/// A scenario that failed says what the members held, before its put-back changes it.
impl Drop for OnNodes {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "The members when the scenario failed:\n{}",
                self.nodes.account()
            );
        }
    }
}

impl OnNodes {
    /// The members' nodes with what the test before left cleared, reading a database and a
    /// Redis of their own, each member in COLLECTORS sending its spans to its Collector, and
    /// production's SpinApps tolerated unhealthy (`TOLERATION`).
    pub fn start(collectors: &[Collector]) -> Self {
        let put_back = PutBack::take(&kubeconfigs()).tolerating(TOLERATION);
        let nodes = Nodes::shared();
        super::failover::tolerate_for(TOLERATION);
        nodes.clear();
        let overrides = super::build::checkout().join("karmada/overrides/staging.yaml");
        kubectl_ok(KARMADA, &["apply", "-f", overrides.to_str().unwrap()], None);
        let db = TestDb::postgres();
        let redis = Redis::start();
        for (namespace, members) in ENVIRONMENTS {
            nodes.read_from_outside_on(members, namespace, db.db_url().unwrap(), &redis.url);
        }
        for Collector { member, address } in collectors {
            let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: monitoring}\n";
            kubectl_ok(member, &["apply", "-f", "-"], Some(namespace));
            let port = address.rsplit_once(':').expect("HOST:PORT").1;
            nodes.outside(member, "monitoring", "otel-collector", 4318, port);
        }
        OnNodes {
            nodes,
            _put_back: put_back,
            _redis: redis,
            _db: db,
        }
    }

    /// The backend's Service in NAMESPACE on MEMBER, by its ClusterIP (the host routes each
    /// member's Service range to its node): what the flow's smoke URLs name.
    pub fn backend(&self, member: &str, namespace: &str) -> String {
        self.service(member, namespace, "automatizacion-backend")
    }

    /// The Service of SpinApp NAMESPACE/NAME on MEMBER, by its ClusterIP, once the operator
    /// has made it.
    pub fn service(&self, member: &str, namespace: &str, name: &str) -> String {
        eventually_within(WAIT, &format!("the Service {name} on {member}"), || {
            service_url(member, namespace, name)
        })
    }
}
