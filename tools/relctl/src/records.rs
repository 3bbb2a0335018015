//! The steps that only talk to the ledger: record, request, decide, and the reads the next
//! step needs. The writes a pipeline may repeat (a re-run, a retried job) are idempotent: the
//! same release, the same approval, the same person's same decision succeed again.

use crate::cli::{self, CurrentField};
use crate::failure::Failure;
use crate::ledger_client::{LedgerClient, NewEvent, NewRelease};
use ledger::Timestamp;
use ledger::types::{ApprovalState, CommitSha, DeploymentStatus, Version};

/// Prints `version@digest` as recorded.
pub fn record_release(ledger: &LedgerClient, args: &cli::RecordRelease) -> Result<String, Failure> {
    let release = NewRelease {
        version: &args.version,
        artifact: &args.artifact,
        digest: &args.digest,
        commit: &args.commit,
        commit_time: args.commit_time.or_else(|| committed_at(&args.commit)),
        notes: &args.notes,
        on_behalf_of: args.on_behalf_of.as_ref(),
    };
    let recorded = ledger.record_release(&release)?;
    Ok(format!("{}@{}", recorded.version, recorded.digest))
}

/// COMMIT's committer date, as the repository in the working directory knows it; `None`
/// where there is no repository, no such commit, or no `git`.
fn committed_at(commit: &CommitSha) -> Option<Timestamp> {
    let shown = std::process::Command::new("git")
        .args(["show", "-s", "--format=%cI", commit.as_str(), "--"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    Timestamp::parse_rfc3339(String::from_utf8(shown.stdout).ok()?.trim())
}

pub fn record_deployment(
    ledger: &LedgerClient,
    args: &cli::RecordDeployment,
) -> Result<String, Failure> {
    let event = NewEvent {
        cluster: &args.cluster,
        status: args.status,
        message: args.message.as_deref(),
        execution_url: args.execution_url.as_ref(),
        analysis: None,
    };
    ledger.record_deployment(&args.version, &event)?;
    Ok(format!(
        "{} {} on {}",
        args.version, event.status, event.cluster
    ))
}

/// Prints the approval's state. When the release already has an approval (a re-run of the
/// pipeline), its state is the answer: `pending` waits again, `approved` goes on, `rejected`
/// stops the flow at its decision step.
pub fn request_approval(
    ledger: &LedgerClient,
    args: &cli::RequestApproval,
) -> Result<String, Failure> {
    let version = &args.version;
    match ledger.request_approval(version, args.on_behalf_of.as_ref()) {
        Ok(approval) => Ok(approval.state.to_string()),
        Err(refused @ Failure::Refused { status: 409, .. }) => {
            match ledger.release(version)?.approval {
                Some(existing) => Ok(existing.state.to_string()),
                None => Err(refused),
            }
        }
        Err(other) => Err(other),
    }
}

/// Prints the approval's new state. If the caller already decided this approval the same way
/// (the Rundeck job ran before and failed after this step), that is a success too, so that a
/// re-run goes on to resume Kestra; anyone else's decision is still refused.
pub fn decide(ledger: &LedgerClient, args: &cli::Decide) -> Result<String, Failure> {
    let (version, decision, comment) = (&args.version, args.decision, args.comment.as_str());
    if comment.trim().is_empty() {
        return Err(Failure::Invalid("--comment is empty: say why".into()));
    }
    match ledger.decide(version, decision, comment) {
        Ok(approval) => Ok(approval.state.to_string()),
        Err(refused @ Failure::Refused { status: 409, .. }) => {
            let me = ledger.caller()?;
            let approval = ledger.release(version)?.approval;
            match approval {
                Some(a)
                    if a.decided_by.as_ref() == Some(&me)
                        && a.state == decision.resulting_state() =>
                {
                    Ok(a.state.to_string())
                }
                _ => Err(refused),
            }
        }
        Err(other) => Err(other),
    }
}

/// Prints none, pending, approved or rejected.
pub fn approval_state(ledger: &LedgerClient, version: &Version) -> Result<String, Failure> {
    Ok(ledger
        .release(version)?
        .approval
        .map_or_else(|| "none".to_owned(), |a| a.state.to_string()))
}

/// Prints why a release stopped, for the flow's notifications: where and why it last failed
/// (`CLUSTER: MESSAGE`, its newest `failed` event), or who rejected it, or why the ledger
/// cannot say. It never fails: a notification with a reason beats none. With
/// `--kestra-output`, as Kestra's output line `::{"outputs":{"reason":…}}::`.
pub fn stop_reason(ledger: &LedgerClient, args: &cli::StopReason) -> Result<String, Failure> {
    let reason = match ledger.release(&args.version) {
        Ok(release) => why_stopped(&release),
        Err(e) => format!("the ledger cannot say why: {e}"),
    };
    if !args.kestra_output {
        return Ok(reason);
    }
    let line = serde_json::json!({"outputs": {"reason": reason}});
    Ok(format!("::{line}::"))
}

fn why_stopped(release: &crate::answers::ReleaseDetail) -> String {
    let failed = release
        .deployments
        .iter()
        .rfind(|d| d.status == DeploymentStatus::Failed);
    if let Some(event) = failed {
        let message = event.message.as_deref().unwrap_or("no reason recorded");
        let message: String = message.chars().take(600).collect();
        let cluster = event.cluster.as_str();
        return match message.starts_with(&format!("{cluster}:")) {
            true => message,
            false => format!("{cluster}: {message}"),
        };
    }
    match &release.approval {
        Some(a) if a.state == ApprovalState::Rejected => {
            let by = a.decided_by.as_ref().map_or("an approver", |s| s.as_str());
            let comment = a.comment.as_deref().unwrap_or("");
            format!("rejected by {by}: {comment}")
        }
        _ => format!("no cluster recorded a failure of {}", release.version),
    }
}

/// Prints `repository@digest`: the artifact as recorded, pinned by its digest.
pub fn release_artifact(ledger: &LedgerClient, version: &Version) -> Result<String, Failure> {
    let release = ledger.release(version)?;
    Ok(format!(
        "{}@{}",
        release.artifact.repository(),
        release.digest
    ))
}

/// Prints one field of what CLUSTER runs now.
pub fn current_release(
    ledger: &LedgerClient,
    args: &cli::CurrentRelease,
) -> Result<String, Failure> {
    let cluster = &args.cluster;
    let entry = ledger
        .clusters()?
        .into_iter()
        .find(|c| &c.name == cluster)
        .ok_or_else(|| Failure::Invalid(format!("the ledger knows no cluster {cluster}")))?;
    let current = entry.current.ok_or_else(|| Failure::Refused {
        status: 404,
        reason: format!("no release runs on {cluster}"),
    })?;
    Ok(match args.field {
        CurrentField::Version => current.version.to_string(),
        CurrentField::Digest => current.digest.to_string(),
        CurrentField::Artifact => current.artifact.to_string(),
    })
}
