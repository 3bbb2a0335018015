//! Kestra's API, as the approval gate uses it: resuming the paused release execution.
//!
//! Kestra 2.0 moved execution actions under `/actions/` (`POST /api/v1/{tenant}/executions/
//! {id}/actions/resume`, multipart, 200 with the execution); the 1.x path now reads as "create
//! an execution of a flow named `resume`" and answers 404. Kestra OSS authenticates with HTTP
//! Basic only; an API token is an Enterprise feature. Both come from the environment.

use crate::cli;
use crate::failure::Failure;
use crate::ledger_client::agent;
use std::time::Duration;

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

/// Resumes the execution with no resume inputs.
pub fn resume(args: &cli::ResumeKestra) -> Result<String, Failure> {
    let (base, tenant, execution) = (&args.url, &args.tenant, args.execution.as_str());
    if !execution.chars().all(|c| c.is_ascii_alphanumeric()) || execution.is_empty() {
        return Err(Failure::Invalid(format!(
            "--execution {execution:?} is not a Kestra execution id"
        )));
    }
    let authorization = authorization()?;
    let base = base.trim_end_matches('/');
    let url = format!("{base}/api/v1/{tenant}/executions/{execution}/actions/resume");
    let mut response = agent(Duration::from_secs(60))
        .post(&url)
        .header("authorization", &authorization)
        .header("content-type", "multipart/form-data; boundary=relctl")
        .send("--relctl--\r\n")
        .map_err(|e| Failure::Unreachable(format!("cannot reach Kestra at {base}: {e}")))?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(format!("resumed {execution}"));
    }
    let body = response.body_mut().read_to_string().unwrap_or_default();
    let said = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned));
    let reason = match (status, said) {
        (401, _) => "Kestra refused the credentials (Kestra OSS takes HTTP Basic: \
                     KESTRA_USER and KESTRA_PASSWORD)"
            .to_owned(),
        (_, Some(message)) => message,
        _ => format!("resuming {execution} answered {status}"),
    };
    Err(Failure::Refused { status, reason })
}
