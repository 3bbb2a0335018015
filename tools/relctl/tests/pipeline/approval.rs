//! The approval gate: who may decide, what a decision signed by Rundeck may do, and a resume
//! that failed once.

use super::doubles::{PUSHER, Pipeline, RELEASE_MAIL, signed};
use super::{VERSION, exclusive, restore_workloads};
use pipeline_standins::kestra::run::State;
use pipeline_standins::rundeck::JobRun;
use std::process::Command;

/// Kestra is down when the approver's job starts: it fails with one line before deciding
/// anything. Kestra goes down after the job read it: the decision stands, the execution stays
/// paused, and running the job again resumes it without deciding twice. Along the way the run
/// forms list the release from the ledger (waiting, then approved for a rollback), and every
/// run mails the release list how it ended.
#[test]
fn a_resume_that_failed_once_is_run_again_and_the_release_goes_on() {
    let _lock = exclusive();
    let (mut pipeline, mut execution) =
        Pipeline::waiting_for_approval("pipeline-resume-again", false);
    let last_line = |output: &str| output.trim_end().lines().last().unwrap().to_owned();
    let approvable = |p: &Pipeline| p.choices("approve-release.yaml", "version", "carol");
    let restorable = |p: &Pipeline| p.choices("rollback-production.yaml", "to_version", "root");
    let listed = Ok(vec![VERSION.to_owned()]);
    let nothing = Err("Empty result".to_owned());
    assert_eq!(approvable(&pipeline), listed);
    assert_eq!(restorable(&pipeline), nothing, "nothing approved yet");
    let mailed = |run: &JobRun| {
        let notices = run.notified.iter();
        notices
            .map(|n| (n.trigger.clone(), n.recipients.clone()))
            .collect::<Vec<_>>()
    };
    let mail = |trigger: &str| vec![(trigger.to_owned(), RELEASE_MAIL.to_owned())];
    pipeline.api.unavailable_for(1);
    let unread = pipeline.approve("carol", "approve", &execution);
    assert_eq!(mailed(&unread), mail("onfailure"), "a refusal is news too");
    assert!(!unread.succeeded);
    assert!(
        last_line(&unread.output).starts_with("relctl: refused (503)"),
        "{}",
        unread.output
    );
    assert_eq!(pipeline.release(VERSION)["approval"]["state"], "pending");

    pipeline.api.resumes_unavailable_for(1);
    let failed = pipeline.approve("carol", "approve", &execution);
    assert!(!failed.succeeded);
    assert!(
        last_line(&failed.output).starts_with("relctl: refused (503)"),
        "{}",
        failed.output
    );
    assert_eq!(
        pipeline.kestra.run(&mut execution),
        State::Paused,
        "not resumed"
    );
    assert_eq!(pipeline.release(VERSION)["approval"]["state"], "approved");

    let again = pipeline.approve("carol", "approve", &execution);
    assert!(again.succeeded, "{}", again.output);
    assert_eq!(mailed(&again), mail("onsuccess"));
    assert_eq!(approvable(&pipeline), nothing, "nothing waits");
    assert_eq!(restorable(&pipeline), listed);
    let (state, _) = pipeline.finish(&mut execution);
    assert_eq!(state, State::Success, "{:?}", execution.ran);
    assert_eq!(pipeline.audited("approval.decided"), 1, "decided once");
    // Someone else deciding differently after the fact is still refused.
    let late = pipeline.approve("dave", "reject", &execution);
    assert!(
        !late.succeeded && late.output.contains("refused (409)"),
        "{}",
        late.output
    );
}

/// Alice pushed the tag; she approves others' releases, never her own.
#[test]
fn the_approver_who_pushed_the_tag_is_refused() {
    let _lock = exclusive();
    let (mut pipeline, mut execution) =
        Pipeline::waiting_for_approval("pipeline-own-release", false);
    let own = pipeline.approve(PUSHER, "approve", &execution);
    restore_workloads();
    assert!(!own.succeeded);
    assert!(
        own.output.contains("refused (403)") && own.output.contains("someone else must decide"),
        "{}",
        own.output
    );
    assert!(pipeline.resumes().is_empty(), "Kestra was resumed");
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    assert_eq!(pipeline.release(VERSION)["approval"]["state"], "pending");
}

/// A token signed with Rundeck's approver key cannot deploy, whatever it claims.
#[test]
fn a_rundeck_signed_token_cannot_deploy() {
    let pipeline = Pipeline::for_the_build("pipeline-rundeck-deploys", false);
    let before = pipeline.release(VERSION);
    let relctl = |issuer: &str, key: &str| {
        Command::new(env!("CARGO_BIN_EXE_relctl"))
            .args([
                "record-deployment",
                "--version",
                VERSION,
                "--cluster",
                "staging",
                "--status",
                "started",
            ])
            .env_remove("LEDGER_TOKEN")
            .env("LEDGER_URL", &pipeline.ledger.base)
            .env("LEDGER_SIGNING_KEY", pipeline_standins::key(key))
            .env("LEDGER_ISSUER", issuer)
            .env("LEDGER_KEY_ID", format!("{issuer}-1"))
            .env("LEDGER_SUBJECT", "mallory")
            .env("LEDGER_ROLE", "deployer")
            .output()
            .unwrap()
    };
    let line = super::one_line(&relctl("rundeck", "rundeck-1.pem"), 1);
    assert!(
        line.starts_with("relctl: refused (403)") && line.contains("deployer"),
        "{line}"
    );
    // Claiming Kestra's issuer with Rundeck's key fails the signature.
    let forged = super::one_line(&relctl("kestra", "rundeck-1.pem"), 1);
    assert!(forged.contains("refused (401)"), "{forged}");
    assert_eq!(pipeline.release(VERSION), before, "the ledger changed");
    // The same token as an approver is fine: that is what Rundeck's key is for.
    let approver = signed("rundeck", "carol", "approver");
    assert_eq!(
        pipeline
            .ledger
            .get_as(&format!("/api/releases/{VERSION}"), Some(&approver))
            .status,
        200
    );
}
