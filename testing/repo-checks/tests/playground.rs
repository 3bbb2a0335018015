//! The README's way to try the whole system without containers, as a person types it: each
//! line of README.md's `make playground` block (local-dev/README.md's is the same), typed in
//! order into one shell at the checkout, in a state directory of its own (`PLAYGROUND_DIR`)
//! beside the suite's control plane. Each cluster's console must say which cluster and region
//! serve it, from pods on that cluster's real SpinKube node; the release must reach staging
//! alone, wait for the approval, and reach production once carol has approved it; and `down`
//! must leave nothing running.

use repo_checks::{read, repo};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

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

/// One bash, with a person's environment rather than this test's (the variables cargo sets for
/// a test, CARGO_*, LD_LIBRARY_PATH, …, would make the build inside rebuild everything), that
/// lines are typed into one after another: what one line exports, the next sees.
struct Shell {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    errors: PathBuf,
}

/// Ends each typed line's output, with its exit status after it.
const DONE: &str = "\u{1e}done";

impl Shell {
    fn start(playground: &Path) -> Self {
        let errors = std::env::temp_dir().join(format!(
            "automatizacion-playground-{}.stderr",
            std::process::id()
        ));
        let mut shell = Command::new("bash");
        shell
            .current_dir(repo())
            .env_clear()
            .env("PLAYGROUND_DIR", playground)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&errors).unwrap());
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
        let mut child = shell.spawn().unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Shell {
            child,
            input,
            output,
            errors,
        }
    }

    /// Types LINE; its output, once it has ended, or why it failed.
    fn type_line(&mut self, line: &str) -> Result<String, String> {
        let errors_before = std::fs::metadata(&self.errors).unwrap().len() as usize;
        writeln!(self.input, "{line} </dev/null\nprintf '\\n{DONE} %s\\n' $?").unwrap();
        let mut printed = String::new();
        let status = loop {
            let mut text = String::new();
            assert!(
                self.output.read_line(&mut text).unwrap() > 0,
                "the shell ended during `{line}`"
            );
            if let Some(status) = text.strip_prefix(DONE) {
                break status.trim().to_owned();
            }
            printed.push_str(&text);
        };
        if status == "0" {
            Ok(printed)
        } else {
            let errors = std::fs::read_to_string(&self.errors).unwrap();
            Err(format!(
                "`{line}` exited {status}:\n{printed}\n{}",
                &errors[errors_before.min(errors.len())..]
            ))
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.errors);
    }
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
    let mut shell = Shell::start(&dir);
    let mut released = None;
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
