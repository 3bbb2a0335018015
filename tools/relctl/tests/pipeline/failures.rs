//! When a check fails: the staging check and the production rollout put the previous release
//! back. (Waiting for readiness names the cluster that is not ready: `failover.rs`, on real
//! nodes.)

use super::doubles::{Pipeline, pairs, previous_image, staging_new_production, statuses_on};
use super::{PREVIOUS, VERSION, exclusive, images_on, restore_workloads};
use pipeline_standins::kestra::run::{Execution, State};

/// PREVIOUS ran (on production too, when the PRODUCTION check is to fail, and then on
/// PostgreSQL), VERSION is recorded as built, and the failing check finds another version at
/// once, so that step's waits (the rollout, the check, the put-back's rollout) are cut: to a
/// minute on staging, a pod per app, and ninety seconds on production, a dozen pods on two
/// nodes, with room for a busy machine (twenty seconds was not enough for staging's put-back
/// beside the other lane), without three minutes' wait for a check that fails. Staging keeps
/// the pipeline's wait when production is the one that fails.
/// The clusters run VERSION for real, and PREVIOUS is put back for real (`previous_image`).
fn failing(label: &str, production: bool) -> (Pipeline, Execution) {
    let mut pipeline = Pipeline::on_clusters(label, production);
    pipeline.seed_previous(production);
    pipeline.recorded_as_built();
    if production {
        let urls = ["prod_east_url", "prod_west_url"];
        pipeline.smoke_finds_another_version("deploy_production", &urls, 90);
    } else {
        pipeline.smoke_finds_another_version("deploy_staging", &["staging_url"], 60);
    }
    let execution = pipeline.start();
    (pipeline, execution)
}

#[test]
fn a_failed_staging_check_puts_the_previous_release_back() {
    let _lock = exclusive();
    let (mut pipeline, mut execution) = failing("pipeline-staging-fails", false);
    let state = pipeline.kestra.run(&mut execution);
    let staging_after = images_on("staging", "automatizacion-staging");
    restore_workloads();

    let State::Failed(error) = state else {
        panic!("the staging check fails: {state:?}");
    };
    assert!(
        error.contains(&format!("{PREVIOUS} was put back")),
        "{error}"
    );
    assert!(
        staging_after.iter().all(|i| i == previous_image()),
        "{staging_after:?}"
    );
    assert_eq!(
        pipeline.events(VERSION),
        pairs(&[
            ("staging", "started"),
            ("staging", "failed"),
            ("staging", "rolled_back")
        ])
    );
    let release = pipeline.release(VERSION);
    assert!(
        release["approval"].is_null(),
        "no approval after a failed staging check"
    );
    let failed = release["deployments"][1]["message"].as_str().unwrap();
    assert!(
        failed.contains("did not show staging running 1.4.0"),
        "{failed}"
    );
    assert_eq!(
        pipeline.current_versions(),
        pairs(&[
            ("staging", PREVIOUS),
            ("prod-east", "none"),
            ("prod-west", "none")
        ])
    );
}

#[test]
fn a_failed_production_rollout_is_rolled_back_on_both_clusters() {
    let _lock = exclusive();
    let (mut pipeline, mut execution) = failing("pipeline-production-fails", true);
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    assert!(pipeline.approve("carol", "approve", &execution).succeeded);
    let (state, after) = pipeline.finish(&mut execution);

    let State::Failed(error) = state else {
        panic!("the production check fails: {state:?}");
    };
    assert!(
        error.starts_with("deploy_production:")
            && error.contains(&format!("{PREVIOUS} was put back")),
        "{error}"
    );
    assert!(after.iter().all(|i| i == previous_image()), "{after:?}");
    let events = pipeline.events(VERSION);
    for cluster in ["prod-east", "prod-west"] {
        let of = statuses_on(&events, cluster);
        assert_eq!(of, ["started", "failed", "rolled_back"], "{cluster}");
    }
    assert_eq!(
        pipeline.current_versions(),
        staging_new_production(PREVIOUS)
    );
}
