//! The README's way to try the whole system without containers, as a person types it: each
//! line of README.md's `make playground` block (local-dev/README.md's is the same), typed in
//! order into one shell at the checkout, in a state directory of its own (`PLAYGROUND_DIR`)
//! beside the suite's control plane. Each cluster's console must say which cluster and region
//! serve it, from pods on that cluster's real SpinKube node; each release must reach staging
//! alone, wait for the approval, and reach production once carol has approved it, the second
//! one in stages (prod-west done before prod-east starts, as the ledger records it); and
//! `down` must leave nothing running.

use repo_checks::repo;
use repo_checks::shell::{Shell, sh_block};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The commands of the README's block that starts the playground.
fn walkthrough(readme: &str) -> Vec<String> {
    sh_block(readme, "make playground")
}

/// Stops whatever the walkthrough left running, even when an assertion fails halfway.
struct Down(std::path::PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("local-dev/playground.sh"))
            .arg("down")
            .env("PLAYGROUND_DIR", &self.0)
            .status();
    }
}

fn page(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "10", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_readmes_playground_walkthrough_works_as_written() {
    let commands = walkthrough("README.md");
    // local-dev/README.md shows the same walkthrough, so this runs both.
    assert_eq!(walkthrough("local-dev/README.md"), commands);
    assert_eq!(
        commands.first().map(String::as_str),
        Some("make playground")
    );
    assert!(
        commands.last().unwrap().ends_with("playground.sh down"),
        "{commands:?}"
    );
    let dir =
        std::env::temp_dir().join(format!("automatizacion-playground-{}", std::process::id()));
    // The playground's nodes are its slot's one set (`make test` gives this lane slot 1, its
    // later tests' control plane too): those wait for these to stop (dropped last).
    let _one_set = host_harness::OneSetOfNodes::wait_for_slot_to_start();
    let _down = Down(dir.clone());
    let mut shell = Shell::start(&[("PLAYGROUND_DIR", dir.as_os_str())]);
    let mut released = None;
    let mut finished = 0;
    for command in &commands {
        let printed = shell
            .type_line(command)
            .unwrap_or_else(|why| panic!("{why}"));
        if command.ends_with("playground.sh status") {
            check_consoles(&printed);
        }
        if let Some(version) = command.strip_prefix("local-dev/playground.sh release ") {
            // Staging runs the release; production waits for the decision.
            assert!(printed.contains("relctl decide --version"), "{printed}");
            serves_only(&dir, "staging", version);
            for member in ["prod-east", "prod-west"] {
                assert_ne!(
                    version_served(&dir, member),
                    version,
                    "{member} before approval"
                );
            }
            released = Some(version.to_owned());
        }
        if command.ends_with("playground.sh wait") {
            let version = released.as_deref().expect("wait follows a release");
            for member in ["staging", "prod-east", "prod-west"] {
                serves_only(&dir, member, version);
            }
            // The first release had nothing in production to keep; the next goes in stages.
            if finished > 0 {
                in_stages(&mut shell, version);
            }
            finished += 1;
        }
    }
    assert!(released.is_some(), "the walkthrough releases a version");
    assert!(!dir.exists(), "down leaves {}", dir.display());
    let left = Command::new("pgrep")
        .args(["-af", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "still running:\n{}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// VERSION's production events, read with the approver's `relctl` as a person would: all of
/// prod-west's before any of prod-east's.
fn in_stages(shell: &mut Shell, version: &str) {
    let printed = shell
        .type_line(&format!("relctl release {version} -o json"))
        .unwrap_or_else(|why| panic!("{why}"));
    let release: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let order: Vec<(&str, &str)> = release["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["environment"] == "production")
        .map(|d| {
            (
                d["cluster"].as_str().unwrap(),
                d["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("prod-west", "started"),
            ("prod-west", "succeeded"),
            ("prod-east", "started"),
            ("prod-east", "succeeded")
        ],
        "{printed}"
    );
}

/// The version MEMBER's backend says it runs, through its Service on that cluster.
fn version_served(playground: &Path, member: &str) -> String {
    let namespace = if member == "staging" {
        "automatizacion-staging"
    } else {
        "automatizacion"
    };
    let kubeconfig = playground.join("control-plane/kubeconfig").join(member);
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", namespace, "get", "service", "automatizacion-backend"])
        .args(["-o", "jsonpath={.spec.clusterIP}"])
        .output()
        .unwrap();
    let ip = String::from_utf8(out.stdout).unwrap();
    assert!(!ip.is_empty(), "no backend Service on {member}");
    let info: serde_json::Value =
        serde_json::from_str(&page(&format!("http://{ip}/api/info"))).unwrap();
    info["version"].as_str().unwrap().to_owned()
}

/// MEMBER serves VERSION, from every pod its Service picks: a rollout that the flow saw answer
/// may still be taking the previous release's pods away, which takes seconds.
fn serves_only(playground: &Path, member: &str, version: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut in_a_row = 0;
    while in_a_row < 10 {
        let served = version_served(playground, member);
        in_a_row = if served == version { in_a_row + 1 } else { 0 };
        assert!(
            Instant::now() < deadline,
            "{member} still serves {served}, not only {version}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Each line of `status` names a console whose page says that cluster and its region serve it.
fn check_consoles(status: &str) {
    for (member, region) in [
        ("staging", "eu-central-1"),
        ("prod-east", "eu-east-1"),
        ("prod-west", "eu-west-1"),
    ] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{member} ")))
            .unwrap_or_else(|| panic!("status says nothing of {member}:\n{status}"));
        let served_by = format!("Served by {member} ({region})");
        assert!(line.ends_with(&served_by), "{line}");
        let on_its_node = format!(" {member}-node Running");
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("  pod automatizacion-frontend-")
                    && l.ends_with(&on_its_node)),
            "no running console pod on {member}-node:\n{status}"
        );
        let console = line.split_whitespace().nth(2).unwrap();
        let html = page(console);
        assert!(
            html.contains(&format!("Served by <strong>{member}</strong> ({region})")),
            "{console}: {html}"
        );
    }
    assert!(status.contains("MiB resident"), "{status}");
}
