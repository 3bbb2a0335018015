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

/// scripts' shell Commands: rendered `inputFiles` and `env`, `set -e` unless `failFast` is
/// off, and the outputs of its `::{"outputs":…}::` lines.
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
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("TMPDIR", std::env::temp_dir());
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
