//! local-dev/README.md's "Real SpinKube nodes" block, as a person types it, line by line into
//! one shell, on the suite's control plane (its `make control-plane` finds it running, starts
//! nothing and applies the project again): staging gets a node whose kubelet registers, the
//! operator makes the SpinApps' Deployments there, their pods' sandboxes run on
//! containerd-shim-spin, `status` names the node, and `down` leaves no node behind.

use host_harness::control_plane::{exclusive, kubeconfigs};
use repo_checks::shell::{Shell, sh_block};
use spinkube_nodes::{Nodes, node_namespaces};
use spinkube_standin::put_back::PutBack;
use std::time::{Duration, Instant};

/// How long a line may be typed again until it shows what it should (the operator and the
/// kubelet act within seconds; a busy machine may take many times that).
const PATIENCE: Duration = Duration::from_secs(120);

/// Types LINE until its output contains every one of SHOWS.
fn until_it_shows(shell: &mut Shell, line: &str, shows: &[&str]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let printed = shell.type_line(line).unwrap_or_else(|why| panic!("{why}"));
        if shows.iter().all(|s| printed.contains(s)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{line}` never showed {shows:?}:\n{printed}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn the_readmes_nodes_block_works_as_written() {
    let _one_at_a_time = exclusive();
    let commands = sh_block("local-dev/README.md", "local-dev/nodes.sh up");
    assert_eq!(
        commands.first().map(String::as_str),
        Some("make control-plane")
    );
    assert!(
        commands
            .last()
            .unwrap()
            .starts_with("local-dev/nodes.sh down"),
        "{commands:?}"
    );
    // Whatever the block leaves, even when it fails halfway: the nodes stopped and the member
    // as found, then the control plane as the suite left it (dropped last).
    let _put_back = PutBack::take(&kubeconfigs());
    let _nodes = Nodes::started_elsewhere(&["staging"]);
    let control_plane = kubeconfigs().parent().unwrap().to_owned();
    let mut shell = Shell::start(&[("CONTROL_PLANE_DIR", control_plane.as_os_str())]);
    for command in &commands {
        if command.contains("get nodes") {
            until_it_shows(&mut shell, command, &["staging-node", " Ready "]);
        } else if command.contains("get spinapps,deployments,pods") {
            let deployment = "deployment.apps/automatizacion-backend";
            until_it_shows(&mut shell, command, &[deployment, "staging-node"]);
        } else if command.contains("containers ls") {
            until_it_shows(&mut shell, command, &["io.containerd.spin.v2"]);
        } else if command.ends_with("nodes.sh status") {
            until_it_shows(&mut shell, command, &["staging-node"]);
        } else {
            shell
                .type_line(command)
                .unwrap_or_else(|why| panic!("{why}"));
        }
    }
    let netns = node_namespaces();
    assert!(netns.is_empty(), "down left:\n{netns}");
}
