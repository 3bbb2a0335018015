//! Rundeck's rollback: refused for a release production never approved, and otherwise a
//! deploy of the earlier release from its own commit's manifests.

use super::doubles::{Pipeline, previous_image, staging_new_production, statuses_on};
use super::{PREVIOUS, VERSION, exclusive, production_images, restore_workloads};

/// Rundeck's rollback asks the ledger before it touches production: a release that was never
/// approved is refused, and nothing changes anywhere.
#[test]
fn a_rollback_to_a_release_never_approved_is_refused_with_production_untouched() {
    let _lock = exclusive();
    let pipeline = Pipeline::new("pipeline-rollback-refused", false);
    pipeline.seed_previous(false);
    let everything = || {
        (
            production_images(),
            pipeline.ledger.get("/api/audit?limit=100").json(),
        )
    };
    let before = everything();
    let run = pipeline.roll_back("root", PREVIOUS);
    assert!(!run.succeeded);
    assert!(
        run.output.contains("never approved for production"),
        "{}",
        run.output
    );
    assert_eq!(before, everything(), "production or the ledger changed");
    // An approver may not run it at all: `rd run` does not even find it for her.
    let approver = pipeline.roll_back("carol", PREVIOUS);
    assert!(
        approver.output.starts_with(
            "Could not find a unique job with name: automatizacion/rollback-production"
        ),
        "{}",
        approver.output
    );
}

/// Rolling back is a deploy of the earlier release from its own commit's manifests: recorded
/// `started` and `succeeded` for it, `rolled_back` for what ran, production on its digest, its
/// pods ready on the nodes.
#[test]
fn a_rollback_puts_an_approved_release_back_from_its_own_commit() {
    let _lock = exclusive();
    let pipeline = Pipeline::on_clusters("pipeline-rollback", true);
    pipeline.seed_previous(true);
    pipeline.recorded_as_built();
    // 1.4.0 reached production (recorded as the flow would, then applied as Karmada had it).
    pipeline.record(VERSION, "staging", "succeeded");
    pipeline.approved_by_carol(VERSION);
    pipeline.record(VERSION, "prod-east", "succeeded");
    pipeline.record(VERSION, "prod-west", "succeeded");

    let run = pipeline.roll_back("root", PREVIOUS);
    let production = production_images();
    restore_workloads();
    assert!(run.succeeded, "{}", run.output);
    assert!(
        production.iter().all(|i| i == previous_image()),
        "{production:?}"
    );
    let (current, previous) = (pipeline.events(VERSION), pipeline.events(PREVIOUS));
    for cluster in ["prod-east", "prod-west"] {
        let current = statuses_on(&current, cluster);
        assert_eq!(current.last().unwrap(), "rolled_back", "{cluster}");
        let previous = statuses_on(&previous, cluster);
        assert_eq!(previous, ["succeeded", "started", "succeeded"], "{cluster}");
    }
    assert_eq!(
        pipeline.current_versions(),
        staging_new_production(PREVIOUS)
    );
    let rolled = pipeline.release(VERSION)["deployments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        rolled["recorded_by"], "root",
        "recorded as the person who ran the job"
    );
}
