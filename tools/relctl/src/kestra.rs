//! Kestra's API, as the approval gate uses it: resuming the paused release execution.
//!
//! Kestra 2.0 moved execution actions under `/actions/` (`POST /api/v1/{tenant}/executions/
//! {id}/actions/resume`, multipart, 200 with the execution); the 1.x path now reads as "create
//! an execution of a flow named `resume`" and answers 404. Kestra OSS authenticates with HTTP
//! Basic only; an API token is an Enterprise feature. Both come from the environment.
//!
//! A resume is more than one call (`testing/reference/kestra/runtime.json`, `resumeEndpoint`):
//! - the execution must be this release's: a job run must never resume another version's;
//! - a decision can come before the execution reaches its Pause (between `request_approval`
//!   and `wait_for_decision` it is RUNNING, and a resume is 409 "not paused"): wait for it;
//! - Kestra waits 30 s for its executor to confirm, then answers 504 although the resume may
//!   still happen: then watch the execution leave its Pause;
//! - a job run again after a resume that went through finds the Pause done: that is success.

use crate::cli;
use crate::failure::Failure;
use crate::ledger_client::agent;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The credentials, from KESTRA_USER and KESTRA_PASSWORD (Basic), else KESTRA_API_TOKEN.
fn authorization() -> Result<String, Failure> {
    use base64::Engine;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("KESTRA_USER"),
        var("KESTRA_PASSWORD"),
        var("KESTRA_API_TOKEN"),
    ) {
        (Some(user), Some(password), _) => {
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Ok(format!("Basic {pair}"))
        }
        (None, None, Some(token)) => Ok(format!("Bearer {token}")),
        _ => Err(Failure::Invalid(
            "no Kestra credentials: set KESTRA_USER and KESTRA_PASSWORD (Kestra OSS), or \
             KESTRA_API_TOKEN (Enterprise)"
                .into(),
        )),
    }
}

/// Where an execution stands, as far as its approval gate goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Stage {
    /// Not at its Pause yet (created, queued, or running the tasks before it).
    Before,
    /// Waiting at its Pause.
    Paused,
    /// Its Pause is done: someone resumed it.
    Resumed,
    /// It ended without reaching the Pause, or failed there (the pause ran out).
    Ended(String),
}

/// The stage of EXECUTION (`GET …/executions/{id}`), whose Pause task is PAUSE. A Pause run
/// goes CREATED → PAUSED → SUCCESS, or through RUNNING after PAUSED when it has subtasks
/// (testing/reference/kestra/runtime.json, `onResumeEffect`); so a RUNNING execution whose
/// Pause run is not done was resumed only if that run's `histories` hold PAUSED. Before that,
/// the executor has created the run and not yet paused the execution.
pub fn stage(execution: &Value, pause: &str) -> Stage {
    let state = execution["state"]["current"].as_str().unwrap_or("");
    let pause_run = execution["taskRunList"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|run| run["taskId"] == pause);
    let pause_state = pause_run.map(|run| run["state"]["current"].as_str().unwrap_or(""));
    let was_paused = pause_run.is_some_and(|run| {
        run["state"]["histories"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|history| history["state"] == "PAUSED")
    });
    match (state, pause_state) {
        ("PAUSED", _) => Stage::Paused,
        (_, Some("SUCCESS")) => Stage::Resumed,
        ("RUNNING", Some(_)) if was_paused => Stage::Resumed,
        ("CREATED" | "QUEUED" | "RUNNING", _) => Stage::Before,
        (other, _) => Stage::Ended(other.to_owned()),
    }
}

struct Kestra {
    base: String,
    tenant: String,
    authorization: String,
}

impl Kestra {
    fn execution(&self, id: &str) -> Result<Value, Failure> {
        let url = format!("{}/api/v1/{}/executions/{id}", self.base, self.tenant);
        let mut response = agent(Duration::from_secs(30))
            .get(&url)
            .header("authorization", &self.authorization)
            .call()
            .map_err(|e| {
                Failure::Unreachable(format!("cannot reach Kestra at {}: {e}", self.base))
            })?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        match status {
            200 => serde_json::from_str(&body).map_err(|e| {
                Failure::Unreachable(format!("Kestra's execution {id} is not JSON: {e}"))
            }),
            _ => Err(refusal(status, &body, id)),
        }
    }

    /// `POST …/actions/resume` with no resume inputs: the status and body.
    fn resume(&self, id: &str) -> Result<(u16, String), Failure> {
        let url = format!(
            "{}/api/v1/{}/executions/{id}/actions/resume",
            self.base, self.tenant
        );
        // Longer than Kestra's own 30 s wait for its executor, so that its 504 reaches us.
        let mut response = agent(Duration::from_secs(60))
            .post(&url)
            .header("authorization", &self.authorization)
            .header("content-type", "multipart/form-data; boundary=relctl")
            .send("--relctl--\r\n")
            .map_err(|e| {
                Failure::Unreachable(format!("cannot reach Kestra at {}: {e}", self.base))
            })?;
        let status = response.status().as_u16();
        Ok((
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        ))
    }
}

/// What Kestra's answer says, as a refusal.
fn refusal(status: u16, body: &str, execution: &str) -> Failure {
    let said = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned));
    let reason = match (status, said) {
        (401, _) => "Kestra refused the credentials (Kestra OSS takes HTTP Basic: \
                     KESTRA_USER and KESTRA_PASSWORD)"
            .to_owned(),
        (404, _) => format!("Kestra has no execution {execution}"),
        (_, Some(message)) => message,
        _ => format!("execution {execution} answered {status}"),
    };
    Failure::Refused { status, reason }
}

/// Checks EXECUTION's `version` input, then waits for its Pause if it has not reached it,
/// resumes it, and makes sure it left the Pause; with `--check-only`, checks only.
pub fn resume(args: &cli::ResumeKestra) -> Result<String, Failure> {
    let id = args.execution.as_str();
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) || id.is_empty() {
        return Err(Failure::Invalid(format!(
            "--execution {id:?} is not a Kestra execution id"
        )));
    }
    let kestra = Kestra {
        base: args.url.trim_end_matches('/').to_owned(),
        tenant: args.tenant.clone(),
        authorization: authorization()?,
    };
    let execution = kestra.execution(id)?;
    let runs = execution["inputs"]["version"].as_str().unwrap_or("");
    if runs != args.version.as_str() {
        return Err(Failure::Refused {
            status: 409,
            reason: format!(
                "execution {id} releases {}, not {}: nothing resumed",
                if runs.is_empty() { "no version" } else { runs },
                args.version
            ),
        });
    }
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let watch = |mut current: Value, until: fn(&Stage) -> bool| -> Result<Stage, Failure> {
        loop {
            let now = stage(&current, &args.pause_task);
            if until(&now) || Instant::now() >= deadline {
                return Ok(now);
            }
            std::thread::sleep(Duration::from_millis(500));
            current = kestra.execution(id)?;
        }
    };
    if args.check_only {
        return match stage(&execution, &args.pause_task) {
            Stage::Ended(state) => Err(ended(id, &state)),
            _ => Ok(format!("{id} is release {}'s", args.version)),
        };
    }
    match watch(execution, |s| *s != Stage::Before)? {
        Stage::Paused => {}
        Stage::Resumed => return Ok(format!("{id} was already resumed")),
        Stage::Before => {
            return Err(Failure::TimedOut(format!(
                "{id} did not reach its pause within {}s; run the job again later",
                args.wait
            )));
        }
        Stage::Ended(state) => return Err(ended(id, &state)),
    }
    let (status, body) = kestra.resume(id)?;
    match status {
        200 => return Ok(format!("resumed {id}")),
        // 504: Kestra stopped waiting for its executor, which may still resume it. 409: not
        // paused any more (resumed meanwhile, by Kestra's executor or another run of the job).
        504 | 409 => {}
        _ => return Err(refusal(status, &body, id)),
    }
    match watch(kestra.execution(id)?, |s| *s != Stage::Paused)? {
        Stage::Resumed => Ok(format!(
            "resumed {id} (Kestra confirmed after answering {status})"
        )),
        Stage::Ended(state) => Err(ended(id, &state)),
        _ => Err(Failure::TimedOut(format!(
            "{id} is still paused {}s after Kestra answered {status}; run the job again",
            args.wait
        ))),
    }
}

fn ended(id: &str, state: &str) -> Failure {
    Failure::Refused {
        status: 409,
        reason: format!("execution {id} ended ({state}) without waiting for this decision"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An execution in STATE whose Pause run went through PAUSE's states, the last current.
    fn execution(state: &str, pause: &[&str]) -> Value {
        let mut runs = vec![json!({"taskId": "request_approval", "state": {"current": "SUCCESS"}})];
        if let Some(current) = pause.last() {
            let histories: Vec<Value> = pause.iter().map(|s| json!({"state": s})).collect();
            runs.push(json!({"taskId": "wait_for_decision",
                "state": {"current": current, "histories": histories}}));
        }
        json!({"state": {"current": state}, "taskRunList": runs})
    }

    #[test]
    fn an_execution_is_before_at_or_past_its_pause() {
        let at = |state, pause: &[&str]| stage(&execution(state, pause), "wait_for_decision");
        assert_eq!(at("RUNNING", &[]), Stage::Before);
        assert_eq!(at("QUEUED", &[]), Stage::Before);
        // Created, or running, but not yet paused: a decision now must wait for the pause.
        assert_eq!(at("RUNNING", &["CREATED"]), Stage::Before);
        assert_eq!(at("RUNNING", &["CREATED", "RUNNING"]), Stage::Before);
        assert_eq!(at("PAUSED", &["CREATED", "PAUSED"]), Stage::Paused);
        assert_eq!(
            at("RUNNING", &["CREATED", "PAUSED", "SUCCESS"]),
            Stage::Resumed
        );
        // Resumed, running its subtasks.
        assert_eq!(
            at("RUNNING", &["CREATED", "PAUSED", "RUNNING"]),
            Stage::Resumed
        );
        assert_eq!(
            at("SUCCESS", &["CREATED", "PAUSED", "SUCCESS"]),
            Stage::Resumed
        );
        assert_eq!(
            at("FAILED", &["CREATED", "PAUSED", "FAILED"]),
            Stage::Ended("FAILED".into())
        );
        assert_eq!(at("SUCCESS", &[]), Stage::Ended("SUCCESS".into()));
    }
}
