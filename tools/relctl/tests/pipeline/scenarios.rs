//! The release story: from a pushed tag through the flow, the approval in Rundeck and Karmada
//! to both production clusters; a rejection; a run that stopped half-way, released again.

use super::build::built;
use super::doubles::{PUSHER, Pipeline, change_setting, pairs, staging_new_production};
use super::{VERSION, exclusive};
use pipeline_standins::kestra::run::State;

#[test]
fn a_release_goes_from_tag_to_both_production_clusters_with_an_approval() {
    release_reaches_production(false);
}

#[test]
fn a_release_goes_from_tag_to_both_production_clusters_on_postgres() {
    release_reaches_production(true);
}

fn release_reaches_production(postgres: bool) {
    let _lock = exclusive();
    let (mut pipeline, mut execution) = Pipeline::waiting_for_approval("pipeline-happy", postgres);
    assert_eq!(execution.ran.last().unwrap(), "wait_for_decision");
    // Paused: only the approver's resume moves it on.
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    let job = pipeline.approve("carol", "approve", &execution);
    assert!(job.succeeded, "approve-release failed: {}", job.output);
    let (state, production) = pipeline.finish(&mut execution);
    assert_eq!(state, State::Success, "{:?}", execution.ran);

    let built = built();
    let pinned = format!("{}@{}", built.repository, built.digest);
    assert!(production.iter().all(|i| *i == pinned), "{production:?}");
    let release = pipeline.release(VERSION);
    assert_eq!(release["digest"], built.digest.as_str());
    assert_eq!(release["on_behalf_of"], PUSHER);
    assert_eq!(release["approval"]["state"], "approved");
    assert_eq!(release["approval"]["decided_by"], "carol");
    assert_eq!(release["approval"]["on_behalf_of"], PUSHER);
    assert_eq!(
        pipeline.events(VERSION),
        pairs(&[
            ("staging", "started"),
            ("staging", "succeeded"),
            ("prod-east", "started"),
            ("prod-west", "started"),
            ("prod-east", "succeeded"),
            ("prod-west", "succeeded"),
        ])
    );
    for deployment in release["deployments"].as_array().unwrap() {
        let url = deployment["execution_url"].as_str().unwrap();
        assert!(
            url.ends_with(&format!("/automatizacion/release/{}", execution.id)),
            "{url}"
        );
    }
    assert_eq!(pipeline.current_versions(), staging_new_production(VERSION));
    // Kestra was resumed once, on its 2.0 path, with Basic authentication.
    assert_eq!(
        pipeline.resumes(),
        [format!(
            "POST /api/v1/main/executions/{}/actions/resume Basic",
            execution.id
        )]
    );
    // Who did what: Kestra for the pusher, the approver as themself.
    let audit = pipeline.audit();
    let actors_of = |action: &str| {
        let (_, actor, on_behalf_of) = audit.iter().find(|(a, _, _)| a == action).unwrap();
        (actor.as_str(), on_behalf_of.as_deref())
    };
    assert_eq!(actors_of("approval.requested"), ("kestra", Some(PUSHER)));
    assert_eq!(actors_of("approval.decided").0, "carol");
    // Kestra's UI finds the execution by release and by person.
    let shown = pipeline_standins::kestra::api::execution(
        &pipeline.kestra.shared.lock().unwrap(),
        &execution.id,
    )
    .unwrap();
    assert_eq!(
        shown["labels"],
        serde_json::json!([{"key": "person", "value": PUSHER}, {"key": "version", "value": VERSION}])
    );
    assert_eq!(
        execution.ran,
        [
            "label_version",
            "staging",
            "clone",
            "verify_tag",
            "build_and_push",
            "record_release",
            "deploy_staging",
            "request_approval",
            "label_person",
            "wait_for_decision",
            "decision",
            "rejected",
            "production",
            "clone_release",
            "deploy_production",
        ]
    );
}

#[test]
fn a_rejected_release_never_reaches_production() {
    let _lock = exclusive();
    let mut pipeline = Pipeline::on_clusters("pipeline-rejected", true);
    pipeline.recorded_as_built();
    let before = super::production_images();
    let mut execution = pipeline.run_to_the_pause();
    let job = pipeline.approve("dave", "reject", &execution);
    assert!(job.succeeded, "{}", job.output);
    let (state, after) = pipeline.finish(&mut execution);

    let State::Failed(error) = state else {
        panic!("a rejected release fails the execution: {state:?}");
    };
    assert!(
        error.starts_with("rejected:") && error.contains("production is unchanged"),
        "{error}"
    );
    assert_eq!(before, after, "production changed");
    assert!(!execution.ran.contains(&"deploy_production".to_owned()));
    let release = pipeline.release(VERSION);
    assert_eq!(release["approval"]["state"], "rejected");
    assert_eq!(release["approval"]["decided_by"], "dave");
    assert_eq!(
        pipeline.events(VERSION),
        pairs(&[("staging", "started"), ("staging", "succeeded")])
    );
    // The errors branch ran (its notifications stay off), with who stopped it and why.
    assert!(execution.ran.contains(&"log_failure".to_owned()));
    assert_eq!(
        execution.output("stop_reason", "reason").as_deref(),
        Some("rejected by dave: rejectd after reading the staging check")
    );
}

/// A run stopped while it waited (its pause ran out); the same tag is released by running the
/// flow again: nothing is built, pushed or deployed to staging twice, the approval is not asked
/// for twice, and the release goes on from the pending approval.
#[test]
fn a_rerun_of_a_half_finished_version_continues_where_it_stopped() {
    let _lock = exclusive();
    let (mut pipeline, mut first) = Pipeline::waiting_for_approval("pipeline-rerun", false);
    pipeline.kestra.expire(&mut first);
    let staging_events = pipeline.events(VERSION);

    // The second run cannot push at all: its registry is gone. It never tries.
    pipeline.change_setting("artifact", "127.0.0.1:9/automatizacion".into());
    let mut second = pipeline.start();
    let registry = format!("{}/automatizacion", super::registry());
    let shared = pipeline.kestra.shared.clone();
    pipeline.kestra.before(
        "record_release",
        Box::new(move |_| change_setting(&shared, "artifact", registry.as_str().into())),
    );
    assert_eq!(
        pipeline.kestra.run(&mut second),
        State::Paused,
        "{:?}",
        second.ran
    );
    assert_eq!(
        pipeline.events(VERSION),
        staging_events,
        "staging was deployed again"
    );
    assert_eq!(
        second.output("build_and_push", "digest").unwrap(),
        built().digest
    );
    assert_eq!(
        second.output("request_approval", "state").as_deref(),
        Some("pending")
    );
    assert_eq!(pipeline.audited("approval.requested"), 1);
    assert!(pipeline.approve("carol", "approve", &second).succeeded);
    let (state, production) = pipeline.finish(&mut second);
    assert_eq!(state, State::Success, "{:?}", second.ran);
    assert!(
        production.iter().all(|i| i.ends_with(&built().digest)),
        "{production:?}"
    );
}
