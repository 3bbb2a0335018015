//! Production on **real SpinKube nodes** for one scenario (`spinkube_nodes`: the real kubelet,
//! containerd with containerd-shim-spin, kube-proxy and spin-operator on each member): every
//! production SpinApp Karmada places runs as pods, pulled from the suite's registry, reading a
//! PostgreSQL database and a Redis of the scenario's own through the environment's Secret and
//! the members' Services for them. Everything is put back when the scenario ends.

use super::kubeconfigs;
use host_harness::Redis;
use host_harness::control_plane::eventually_within;
use native_db::testing::TestDb;
use spinkube_nodes::{Nodes, service_url};
use spinkube_standin::put_back::PutBack;
use std::time::Duration;

const NAMESPACE: &str = "automatizacion";
/// From nothing to a Service takes the operator about a second; a busy machine may take more.
const WAIT: Duration = Duration::from_secs(120);

pub struct OnNodes {
    /// Declared first: the nodes stop, and leave the members as they found them, before the
    /// control plane is put back.
    pub nodes: Nodes,
    _redis: Redis,
    _db: TestDb,
    _put_back: PutBack,
}

impl OnNodes {
    pub fn start(members: &[&str]) -> Self {
        let put_back = PutBack::take(&kubeconfigs());
        let db = TestDb::postgres();
        let redis = Redis::start();
        let nodes = Nodes::up(members);
        nodes.read_from_outside(NAMESPACE, db.db_url().unwrap(), &redis.url);
        OnNodes {
            nodes,
            _redis: redis,
            _db: db,
            _put_back: put_back,
        }
    }

    /// The backend's Service on MEMBER, by its ClusterIP (the host routes each member's
    /// Service range to its node): what the flow's smoke URLs name.
    pub fn backend(&self, member: &str) -> String {
        eventually_within(WAIT, &format!("the backend's Service on {member}"), || {
            service_url(member, NAMESPACE, "automatizacion-backend")
        })
    }
}
