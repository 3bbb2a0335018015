//! Real SpinKube nodes for the members of the suite's control plane (`local-dev/nodes.sh`):
//! containerd with containerd-shim-spin, a kubelet, kube-proxy, the real spin-operator and a
//! cluster DNS stand-in, each member's node in a network namespace of its own. Its pods and
//! Services are reached from the host at their own addresses.

use host_harness::control_plane::kubeconfigs;
use host_harness::repo;
use std::process::{Command, Output};

/// The nodes of some members, started for a test and stopped, with everything they leave
/// outside their directories, when dropped.
pub struct Nodes {
    _private: (),
}

impl Nodes {
    /// Starts a node for each of MEMBERS, pulling from the suite's registry (`TEST_REGISTRY`).
    ///
    /// # Panics
    /// When a node does not start: with `nodes.sh`'s own account.
    pub fn up(members: &[&str]) -> Self {
        let registry = std::env::var("TEST_REGISTRY")
            .expect("TEST_REGISTRY: run under scripts/with-registry.sh, as `make test` does");
        let out = nodes_sh(&[&["up"], members].concat(), &[("REGISTRY", &registry)]);
        assert!(out.status.success(), "nodes.sh up: {}", text(&out));
        Nodes { _private: () }
    }

    /// `ctr ARGS…` against MEMBER's containerd: its stdout.
    ///
    /// # Panics
    /// When ctr fails.
    pub fn ctr(&self, member: &str, args: &[&str]) -> String {
        let out = nodes_sh(&[&["ctr", member], args].concat(), &[]);
        assert!(
            out.status.success(),
            "ctr {}: {}",
            args.join(" "),
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Nodes {
    /// Makes SERVICE.NAMESPACE:PORT on MEMBER reach the host's 127.0.0.1:HOST_PORT, as a cluster
    /// reaches a managed database (`nodes.sh outside`).
    ///
    /// # Panics
    /// When nodes.sh refuses.
    pub fn outside(
        &self,
        member: &str,
        namespace: &str,
        service: &str,
        port: u16,
        host_port: &str,
    ) {
        let port = port.to_string();
        let args = ["outside", member, namespace, service, &port, host_port];
        let out = nodes_sh(&args, &[]);
        assert!(out.status.success(), "nodes.sh outside: {}", text(&out));
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        let out = nodes_sh(&["down"], &[]);
        if !out.status.success() {
            eprintln!("nodes.sh down: {}", text(&out));
        }
    }
}

fn nodes_sh(args: &[&str], env: &[(&str, &str)]) -> Output {
    let control_plane = kubeconfigs().parent().unwrap().to_owned();
    Command::new(repo().join("local-dev/nodes.sh"))
        .args(args)
        .env("CONTROL_PLANE_DIR", control_plane)
        .envs(env.iter().copied())
        .output()
        .expect("local-dev/nodes.sh runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
