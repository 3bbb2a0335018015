//! The README's way to try the whole system without containers, as a person types it: each
//! line of README.md's `make playground` block (local-dev/README.md's is the same), run in
//! order from the checkout, in a state directory of its own (`PLAYGROUND_DIR`) beside the
//! suite's control plane. Each cluster's console must say which cluster and region serve it,
//! and `down` must leave nothing running.

use repo_checks::{read, repo};
use std::process::Command;

/// The commands of README's block that starts the playground, comments dropped.
fn walkthrough(readme: &str) -> Vec<String> {
    let readme = read(readme);
    let block = readme
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .find(|block| block.contains("make playground"))
        .expect("the README shows `make playground` in a sh block");
    block
        .lines()
        .map(|line| line.split(" #").next().unwrap().trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

/// COMMAND in a shell with a person's environment, not this test's: the variables cargo sets
/// for a test (CARGO_*, LD_LIBRARY_PATH, …) would make the build inside rebuild everything.
fn as_typed(command: &str) -> Command {
    let mut shell = Command::new("bash");
    shell.args(["-c", command]).current_dir(repo()).env_clear();
    for name in [
        "PATH",
        "HOME",
        "USER",
        "LANG",
        "TERM",
        "RUSTUP_HOME",
        "CARGO_HOME",
        "CI",
    ] {
        if let Some(value) = std::env::var_os(name) {
            shell.env(name, value);
        }
    }
    shell
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
    let _down = Down(dir.clone());
    let mut printed = Vec::new();
    for command in &commands {
        let out = as_typed(command)
            .env("PLAYGROUND_DIR", &dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "`{command}` failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        printed.push(text);
        if command.ends_with("playground.sh status") {
            check_consoles(printed.last().unwrap());
        }
    }
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
        let console = line.split_whitespace().nth(2).unwrap();
        let html = page(console);
        assert!(
            html.contains(&format!("Served by <strong>{member}</strong> ({region})")),
            "{console}: {html}"
        );
    }
    assert!(status.contains("MiB resident"), "{status}");
}
