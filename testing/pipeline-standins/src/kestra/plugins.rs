//! The plugin tasks the stand-in runs for real, here instead of in a container: git's Clone
//! and the shell's Commands.

use super::pebble;
use serde_json::{Map, Value};
use std::path::Path;
use std::process::Command;

/// Renders a property's text in the execution's scope.
pub type Render<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// What a script task declared on its `::{"outputs":…}::` lines.
pub type Outputs = Map<String, Value>;

/// plugin-git's Clone: `commit` wins, then `tag` (both with full history), then `branch`
/// (shallow, `depth`); `username`/`password` must render (their secrets must exist).
pub fn clone(task: &Value, dir: &Path, render: Render) -> Result<(), String> {
    let property = |name: &str| -> Result<Option<String>, String> {
        task[name].as_str().map(render).transpose()
    };
    let url = property("url")?.ok_or("url is required")?;
    property("username")?;
    property("password")?;
    let target = match property("directory")? {
        Some(sub) => dir.join(sub),
        None => dir.to_owned(),
    };
    let git = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("git")
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };
    let target_text = target.to_string_lossy().into_owned();
    match (property("commit")?, property("tag")?, property("branch")?) {
        (Some(commit), _, _) => {
            git(&["clone", "-q", &url, &target_text])?;
            git(&["-C", &target_text, "checkout", "-q", "--detach", &commit])
        }
        (None, Some(tag), _) => {
            git(&["clone", "-q", &url, &target_text])?;
            git(&[
                "-C",
                &target_text,
                "checkout",
                "-q",
                "--detach",
                &format!("refs/tags/{tag}"),
            ])
        }
        (None, None, branch) => {
            let depth = task["depth"].as_u64().unwrap_or(1).to_string();
            let mut args = vec!["clone", "-q", "--depth", &depth];
            if let Some(branch) = &branch {
                args.extend(["--branch", branch]);
            }
            args.extend([url.as_str(), target_text.as_str()]);
            git(&args)
        }
    }
}

/// The uid and gid the working directory's files have when the Docker runner hands them to the
/// container: the Kestra worker's (`testing/reference/kestra/runtime.json`: the official image runs
/// as its own user `kestra`, whose uid the image does not fix; 1000 here), while the builder
/// runs as root. git checks that ownership for real.
pub const KESTRA_WORKER_UID: u32 = 1000;

/// Gives DIR and everything in it the Kestra worker's owners, as the runner's copy into the
/// container keeps them, when the stand-in runs as root, the container's user (the test suite
/// does). Run as anyone else (the playground on a workstation), it cannot, and the commands
/// find their own files, as with Kestra run as root.
fn owned_by_the_worker(dir: &Path) -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective_uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("");
    if effective_uid != "0" {
        return Ok(());
    }
    let owner = format!("{KESTRA_WORKER_UID}:{KESTRA_WORKER_UID}");
    let out = Command::new("chown")
        .args(["-R", &owner])
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot give the working directory Kestra's owners: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// scripts' shell Commands, as Kestra's Docker runner runs them: the working directory with
/// the worker's owners (`KESTRA_WORKER_UID`), the commands as the container's root with a home
/// of their own (nothing of this machine's git or shell configuration), rendered `inputFiles`
/// and `env`, `set -e` unless `failFast` is off, and the outputs of its `::{"outputs":…}::`
/// lines. The tools come from PATH (the builder image's, from this checkout); the Rust
/// toolchain's homes are the image's `CARGO_HOME` and `RUSTUP_HOME`.
pub fn commands(task: &Value, dir: &Path, path: &str, render: Render) -> Result<Outputs, String> {
    for (name, content) in task["inputFiles"].as_object().into_iter().flatten() {
        let content = render(content.as_str().unwrap_or(""))?;
        std::fs::write(dir.join(name), content).map_err(|e| e.to_string())?;
    }
    let image = task["containerImage"].as_str().unwrap_or("ubuntu");
    render(image)?;
    let mut script = String::new();
    if task["failFast"] != false {
        script.push_str("set -e\n");
    }
    for list in ["beforeCommands", "commands"] {
        for command in task[list].as_array().into_iter().flatten() {
            script.push_str(&render(command.as_str().unwrap_or(""))?);
            script.push('\n');
        }
    }
    owned_by_the_worker(dir)?;
    let home = dir.with_extension("home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("TMPDIR", std::env::temp_dir());
    for toolchain in ["CARGO_HOME", "RUSTUP_HOME"] {
        let default = std::env::var("HOME").unwrap_or_default()
            + if toolchain == "CARGO_HOME" {
                "/.cargo"
            } else {
                "/.rustup"
            };
        command.env(toolchain, std::env::var(toolchain).unwrap_or(default));
    }
    for (name, value) in task["env"].as_object().into_iter().flatten() {
        let text = match value {
            Value::String(s) => render(s)?,
            other => pebble::to_text(other),
        };
        command.env(name, text);
    }
    let out = command.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut outputs = Outputs::new();
    for line in stdout.lines() {
        let Some(json) = line
            .trim()
            .strip_prefix("::")
            .and_then(|l| l.strip_suffix("::"))
        else {
            continue;
        };
        let value: Value =
            serde_json::from_str(json).map_err(|e| format!("bad outputs line {line}: {e}"))?;
        for (k, v) in value["outputs"].as_object().into_iter().flatten() {
            outputs.insert(k.clone(), v.clone());
        }
    }
    if out.status.success() {
        Ok(outputs)
    } else {
        Err(format!(
            "exit {:?}: {stdout}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
