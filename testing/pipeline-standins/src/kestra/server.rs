//! The Kestra stand-in as a server that keeps running, for the playground
//! (`local-dev/playground.sh release`): the REST API double on a port, and the executor behind
//! it, which runs each execution a Webhook starts until it pauses or ends, and goes on once the
//! API has resumed it.
//!
//! One thread executes, as one Kestra worker would: a Webhook that arrives while a task runs is
//! answered once that execution pauses or ends, and a resume is picked up within a second.

use super::api::{KestraApi, WebhookCall, execution};
use super::run::{Execution, Kestra, State};
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// What the builder image's Cargo cache holds, for a task that builds: a checkout's release
/// builds (`DIR`), linked into the working directory's `target/` before the task (`TASK`).
#[derive(Clone, Debug)]
pub struct CargoCache {
    pub task: String,
    pub target: PathBuf,
}

/// Links TARGET's release builds into CLONE's `target/` (hard links: no copy), so the clone
/// compiles only the workspace's own crates (their paths are new), not every dependency again.
pub fn seed_cargo_cache(clone: &Path, target: &Path) -> Result<(), String> {
    std::fs::create_dir_all(clone.join("target/wasm32-wasip2")).map_err(|e| e.to_string())?;
    for dir in ["wasm32-wasip2/release", "release"] {
        if !target.join(dir).exists() || clone.join("target").join(dir).exists() {
            continue;
        }
        let linked = Command::new("cp")
            .arg("-al")
            .arg(target.join(dir))
            .arg(clone.join("target").join(dir))
            .status()
            .map_err(|e| e.to_string())?;
        if !linked.success() {
            return Err(format!("cp -al {} failed", target.join(dir).display()));
        }
    }
    Ok(())
}

/// Kestra OSS's rules for its basic-auth account (`auth.credentials` in the reference): an
/// e-mail and a password of 8 or more with a lower, an upper and a digit. Kestra keeps an
/// invalid account as an error and answers every call 401; the stand-in refuses to start.
pub fn check_account(user: &str, password: &str) -> Result<(), String> {
    if user.len() > 256 || password.len() > 256 {
        return Err("The length of email or password should not exceed 256 characters.".into());
    }
    let email = regex_lite::Regex::new(r"^[a-zA-Z0-9_!#$%&'*+/=?`{|}~^.-]+@[a-zA-Z0-9.-]+$")
        .expect("a valid pattern");
    if !email.is_match(user) {
        return Err(
            "Invalid username for Basic Authentication. Please provide a valid email address."
                .into(),
        );
    }
    let strong = password.len() >= 8
        && password.chars().any(|c| c.is_ascii_lowercase())
        && password.chars().any(|c| c.is_ascii_uppercase())
        && password.chars().any(|c| c.is_ascii_digit());
    if !strong {
        return Err("Invalid password for Basic Authentication. The password must have 8 chars, one upper, one lower and one number".into());
    }
    Ok(())
}

/// Serves the API on LISTENER and executes until the process ends. Progress goes to stdout.
pub fn serve(
    mut kestra: Kestra,
    listener: TcpListener,
    (user, password): (&str, &str),
    cargo_cache: Option<CargoCache>,
) {
    let (calls, webhooks) = channel();
    let api = KestraApi::serve(listener, kestra.shared.clone(), user, password, Some(calls));
    println!("kestra stand-in: API on {}", api.base);
    let mut live: Vec<Execution> = Vec::new();
    loop {
        for call in next_calls(&webhooks) {
            if let Some(execution) = start(&mut kestra, call) {
                live.push(execution);
            }
        }
        for execution in &mut live {
            if let Some(cache) = &cargo_cache {
                let target = cache.target.clone();
                kestra.before(
                    &cache.task,
                    Box::new(move |execution: &mut Execution| {
                        let dir = execution.workdir.clone().expect("a working directory");
                        if let Err(e) = seed_cargo_cache(&dir, &target) {
                            println!("kestra stand-in: no Cargo cache for the build: {e}");
                        }
                    }),
                );
            }
            let before = execution.state.clone();
            let resumed = before == State::Paused
                && kestra
                    .shared
                    .lock()
                    .unwrap()
                    .executions
                    .get(&execution.id)
                    .map(|e| &e.2)
                    == Some(&State::Running);
            if resumed {
                println!("kestra stand-in: execution {} resumed", execution.id);
            }
            if kestra.run(execution) != before {
                report(execution);
            }
        }
        live.retain(|e| {
            !matches!(
                e.state,
                State::Success | State::Failed(_) | State::Cancelled
            )
        });
    }
}

/// The Webhook calls waiting: at least one, or none after a second.
fn next_calls(webhooks: &Receiver<WebhookCall>) -> Vec<WebhookCall> {
    let mut calls = Vec::new();
    match webhooks.recv_timeout(Duration::from_secs(1)) {
        Ok(call) => calls.push(call),
        Err(RecvTimeoutError::Timeout) => return calls,
        Err(RecvTimeoutError::Disconnected) => panic!("the API double stopped"),
    }
    calls.extend(webhooks.try_iter());
    calls
}

/// Answers CALL as Kestra does, with the execution it creates, if any.
fn start(kestra: &mut Kestra, call: WebhookCall) -> Option<Execution> {
    let created = kestra.webhook(&call.namespace, &call.flow, &call.key, &call.body);
    let (answer, execution) = match created {
        Ok(Some(execution)) => {
            let mut answer = execution_view(kestra, &execution.id);
            if execution.state == State::Running {
                answer["state"]["current"] = "CREATED".into();
            }
            println!(
                "kestra stand-in: execution {} of {}.{} created",
                execution.id, call.namespace, call.flow
            );
            ((200, answer), Some(execution))
        }
        Ok(None) => ((204, json!({})), None),
        Err(message) if message.starts_with("Not Found") => {
            ((404, json!({ "message": message })), None)
        }
        Err(message) => ((422, json!({ "message": message })), None),
    };
    let _ = call.reply.send(answer);
    execution
}

fn execution_view(kestra: &Kestra, id: &str) -> serde_json::Value {
    execution(&kestra.shared.lock().unwrap(), id).expect("a created execution is known")
}

fn report(execution: &Execution) {
    let state = match &execution.state {
        State::Failed(why) => format!("FAILED: {why}"),
        other => format!("{other:?}").to_uppercase(),
    };
    println!(
        "kestra stand-in: execution {} {state} (tasks run: {})",
        execution.id,
        execution.ran.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::check_account;

    #[test]
    fn the_account_follows_kestra_oss_rules() {
        assert!(check_account("release-bot@example.com", "Resume1sAllowed").is_ok());
        let refused = |user, password| check_account(user, password).unwrap_err();
        assert!(refused("release-bot", "Resume1sAllowed").contains("valid email address"));
        for weak in ["Short1", "alllower1x", "ALLUPPER1X", "NoDigitsHere"] {
            assert!(
                refused("bot@example.com", weak).contains("8 chars, one upper"),
                "{weak}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(refused(&long, "Resume1sAllowed").contains("256"));
    }
}
