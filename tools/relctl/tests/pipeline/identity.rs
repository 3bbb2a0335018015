//! Who is behind a release, and the approval gate's resume, on the Kestra and Rundeck
//! stand-ins: the tag's SSH signature names the person (never the webhook's body or a run's
//! input), a tag nobody allowed stops the run before the build, and the approve job resumes
//! only its own release's execution, whether Kestra confirms late or the decision comes first.
//!
//! These runs go no further than the approval: the ledger already holds the release as the
//! build recorded it and staging on it, so `build_and_push` and `deploy_staging` find their
//! work done, as in a re-run.

use super::build::origin_tagged;
use super::doubles::{Pipeline, local_settings, put_settings};
use super::{VERSION, build};
use pipeline_standins::kestra::run::{Execution, State};
use std::path::Path;
use std::time::Duration;

/// A pipeline whose flow clones ORIGIN.
fn cloning(label: &str, origin: &Path) -> Pipeline {
    let pipeline = Pipeline::new(label, false);
    let mut settings = local_settings(&pipeline.ledger.base, &pipeline.api.base);
    settings.retain(|(name, _)| *name != "repository_url");
    settings.push(("repository_url", format!("file://{}", origin.display())));
    put_settings(&pipeline.api.base, &settings);
    pipeline
}

/// A pipeline whose flow clones ORIGIN, with the release recorded for SIGNER and on staging.
pub fn ready_for_approval(label: &str, origin: &Path, signer: &str) -> Pipeline {
    let mut pipeline = cloning(label, origin);
    pipeline.recorded_for(signer);
    pipeline.record(VERSION, "staging", "succeeded");
    pipeline
        .rundeck
        .users
        .insert("mallory".into(), vec!["release-approvers".into()]);
    pipeline
}

pub fn paused(pipeline: &mut Pipeline, mut execution: Execution) -> Execution {
    let state = pipeline.kestra.run(&mut execution);
    assert_eq!(state, State::Paused, "{state:?} after {:?}", execution.ran);
    execution
}

/// Mallory may push releases and approve others'. She signs and pushes v1.4.0, or starts a
/// run naming it by hand: either way the release is hers (the webhook's body names someone
/// else), and her own approval is refused.
#[test]
fn the_tags_signer_is_the_person_behind_the_release_and_cannot_approve_it() {
    let origin = origin_tagged("pipeline-mallory-origin", Some("mallory"), false);
    for manual in [false, true] {
        let label = format!("pipeline-mallory-{manual}");
        let mut pipeline = ready_for_approval(&label, &origin, "mallory");
        let started = if manual {
            let inputs = [("version", VERSION)];
            pipeline
                .kestra
                .create("automatizacion", "release", &inputs)
                .unwrap()
        } else {
            pipeline.start()
        };
        let execution = paused(&mut pipeline, started);
        assert_eq!(
            execution.output("verify_tag", "signer").as_deref(),
            Some("mallory")
        );
        let release = pipeline.release(VERSION);
        assert_eq!(release["approval"]["on_behalf_of"], "mallory", "{release}");
        let own = pipeline.approve("mallory", "approve", &execution);
        assert!(
            !own.succeeded && own.output.contains("refused (403)"),
            "manual {manual}: {}",
            own.output
        );
        assert!(pipeline.resumes().is_empty(), "Kestra was resumed");
        assert_eq!(pipeline.release(VERSION)["approval"]["state"], "pending");
    }
}

/// A tag nobody signed, one signed with a key no allowed signer holds, and one changed after
/// it was signed: each stops the run at `verify_tag` with its line, before anything is built
/// or recorded.
#[test]
fn an_unsigned_unknown_or_forged_tag_stops_before_the_build() {
    for (label, signer, forged, line) in [
        ("unsigned", None, false, "is not signed"),
        (
            "stranger",
            Some("stranger"),
            false,
            "is signed with a key no allowed signer holds",
        ),
        (
            "forged",
            Some(super::doubles::PUSHER),
            true,
            "signature does not verify",
        ),
    ] {
        let label = format!("pipeline-tag-{label}");
        let origin = origin_tagged(&format!("{label}-origin"), signer, forged);
        let mut pipeline = cloning(&label, &origin);
        let mut execution = pipeline.start();
        let State::Failed(error) = pipeline.kestra.run(&mut execution) else {
            panic!("{label}: the run went on: {:?}", execution.ran)
        };
        assert!(
            error.starts_with("verify_tag:") && error.contains(line),
            "{label}: {error}"
        );
        assert!(
            !execution.ran.iter().any(|t| t == "build_and_push"),
            "{label}: {:?}",
            execution.ran
        );
        assert_eq!(
            pipeline
                .ledger
                .get(&format!("/api/releases/{VERSION}"))
                .status,
            404,
            "{label}: something was recorded"
        );
    }
}

/// Kestra waits 30 s for its executor to confirm a resume, then answers 504, and the resume
/// may still happen: here the executor takes 31 s, on a clock fifteen times faster (2 s of
/// waiting, an executor that takes 3 s). The job watches the execution leave its pause, and
/// succeeds.
#[test]
fn a_resume_kestra_confirms_only_after_its_504_still_succeeds() {
    let mut pipeline = ready_for_approval(
        "pipeline-slow-resume",
        build::origin(),
        super::doubles::PUSHER,
    );
    let start = pipeline.start();
    let execution = paused(&mut pipeline, start);
    pipeline
        .api
        .resume_clock(Duration::from_secs(2), Duration::from_secs(3));
    let job = pipeline.approve("carol", "approve", &execution);
    assert!(job.succeeded, "{}", job.output);
    assert!(
        job.output.contains("Kestra confirmed after answering 504"),
        "{}",
        job.output
    );
    assert_eq!(pipeline.execution_state(&execution), "RUNNING");
    assert_eq!(pipeline.release(VERSION)["approval"]["state"], "approved");
}

/// An approver decides while the execution is still on its way to the pause (between the
/// approval request and `wait_for_decision`, where a resume is 409 "not paused"): the job
/// records the decision, waits for the pause, and resumes it. The executor holds the
/// execution before its Pause until the job has read it there twice (its check, then its
/// resume's first look), so the job always finds it on its way.
#[test]
fn a_decision_before_the_pause_waits_for_it_and_resumes() {
    let mut pipeline = ready_for_approval(
        "pipeline-early-decision",
        build::origin(),
        super::doubles::PUSHER,
    );
    let (done, outcome) = std::sync::mpsc::channel();
    let (rundeck, calls) = (pipeline.rundeck.clone(), pipeline.api.calls.clone());
    pipeline.kestra.before(
        "wait_for_decision",
        Box::new(move |execution: &mut Execution| {
            let id = execution.id.clone();
            let read = format!("GET /api/v1/main/executions/{id} ");
            let reads = || {
                calls
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|c| c.starts_with(&read))
                    .count()
            };
            let (rundeck, done, job_id) = (rundeck.clone(), done.clone(), id.clone());
            std::thread::spawn(move || {
                let job = host_harness::repo().join("rundeck/jobs/approve-release.yaml");
                let options = [
                    ("version", VERSION),
                    ("decision", "approve"),
                    ("comment", "- looked at staging before it asked"),
                    ("kestra_execution", job_id.as_str()),
                ];
                let _ = done.send(rundeck.run(&job, "carol", &options));
            });
            let waited = std::time::Instant::now();
            while reads() < 2 {
                assert!(
                    waited.elapsed() < Duration::from_secs(120),
                    "the job never read {id}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }),
    );
    let start = pipeline.start();
    let execution = paused(&mut pipeline, start);
    let job = outcome
        .recv_timeout(Duration::from_secs(120))
        .expect("the job ended");
    assert!(job.succeeded, "{}", job.output);
    assert!(
        job.output.contains(&format!("resumed {}", execution.id)),
        "{}",
        job.output
    );
    assert_eq!(pipeline.execution_state(&execution), "RUNNING");
    assert_eq!(pipeline.resumes().len(), 1);
}

/// The job names a Kestra execution: one of another release's is refused before anything is
/// recorded or resumed.
#[test]
fn an_execution_of_another_release_is_never_resumed() {
    let mut pipeline = ready_for_approval(
        "pipeline-wrong-execution",
        build::origin(),
        super::doubles::PUSHER,
    );
    let start = pipeline.start();
    let execution = paused(&mut pipeline, start);
    let other = pipeline
        .kestra
        .create("automatizacion", "release", &[("version", "1.5.0")])
        .unwrap();
    let job = pipeline.approve("carol", "approve", &other);
    assert!(!job.succeeded);
    assert!(
        job.output.contains(&format!(
            "execution {} releases 1.5.0, not {VERSION}",
            other.id
        )),
        "{}",
        job.output
    );
    assert!(pipeline.resumes().is_empty());
    assert_eq!(pipeline.release(VERSION)["approval"]["state"], "pending");
    assert_eq!(pipeline.execution_state(&execution), "PAUSED");
}
