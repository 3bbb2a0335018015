//! Observations and drift: what a cluster was seen running against what the ledger recorded,
//! with the audit log marking where drift starts and ends, on both databases.

use super::*;
use ledger::drift::STALE_AFTER_MICROS;
use ledger::model::{DriftKind, NewObservation};

const NOW: i64 = 1_800_000_000_000_000;

fn seen(digest: &str, at: i64) -> NewObservation {
    NewObservation {
        digest: Digest::parse(digest).unwrap(),
        observed_at: Timestamp::from_micros(at),
        source: "karmada:spinapp/automatizacion-backend".into(),
    }
}

fn west() -> ClusterName {
    ClusterName::parse("prod-west").unwrap()
}

fn observer(at: i64) -> Context {
    ctx("kestra", "req-observe", at)
}

pub fn drift_starts_and_ends_with_what_is_observed(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        deploy(ledger, "1.0.0", "prod-west", DeploymentStatus::Succeeded).unwrap();
        let agrees = ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_A, NOW))
            .unwrap();
        assert_eq!(agrees.drift, None);
        assert_eq!(agrees.observed.unwrap().version.unwrap().as_str(), "1.0.0");

        // Another digest, twice: drift starts once.
        for _ in 0..2 {
            let drifted = ledger
                .observe(&observer(NOW), &west(), &seen(DIGEST_B, NOW))
                .unwrap();
            let drift = drifted.drift.unwrap();
            assert_eq!(drift.kind, DriftKind::UnexpectedDigest);
            assert_eq!(
                drift.summary,
                "prod-west runs sha256:bbbbbbbbbbbb… (unknown to the ledger), expected 1.0.0 (sha256:aaaaaaaaaaaa…)"
            );
        }
        // Back to the release: drift ends.
        ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_A, NOW))
            .unwrap();
        let drift_entries: Vec<(String, Option<String>)> = ledger
            .audit(ALL)
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.action.starts_with("drift."))
            .map(|e| (e.action, e.detail))
            .rev()
            .collect();
        assert_eq!(
            drift_entries,
            [
                ("drift.started".to_owned(), Some("prod-west runs sha256:bbbbbbbbbbbb… (unknown to the ledger), expected 1.0.0 (sha256:aaaaaaaaaaaa…)".to_owned())),
                ("drift.ended".to_owned(), Some("prod-west runs 1.0.0 again".to_owned())),
            ]
        );
        // The clusters' list carries the same view; prod-east, never observed, has none.
        let clusters = ledger.clusters().unwrap();
        let east = clusters
            .iter()
            .find(|c| c.name.as_str() == "prod-east")
            .unwrap();
        assert_eq!((&east.observed, &east.drift), (&None, &None));
        let counts = ledger.counts().unwrap();
        let observed: Vec<(&str, bool)> = counts
            .observed
            .iter()
            .map(|(c, d, _)| (c.as_str(), *d))
            .collect();
        assert_eq!(observed, [("prod-west", false)]);
    });
}

pub fn a_cluster_running_something_before_any_release_drifts(db: &TestDb) {
    with_ledger(db, |ledger| {
        let staging = ClusterName::parse("staging").unwrap();
        let status = ledger
            .observe(&observer(NOW), &staging, &seen(DIGEST_B, NOW))
            .unwrap();
        assert!(
            status
                .drift
                .unwrap()
                .summary
                .ends_with("expected no release (none has succeeded there)")
        );
    });
}

pub fn observations_of_unknown_clusters_or_from_the_future_are_refused(db: &TestDb) {
    with_ledger(db, |ledger| {
        let south = ClusterName::parse("prod-south").unwrap();
        let unknown = ledger.observe(&observer(NOW), &south, &seen(DIGEST_A, NOW));
        assert!(matches!(
            unknown,
            Err(LedgerError::Rejected { field: "name", .. })
        ));
        let ahead = NOW + 6 * 60 * 1_000_000;
        let future = ledger.observe(&observer(NOW), &west(), &seen(DIGEST_A, ahead));
        assert!(matches!(
            future,
            Err(LedgerError::Rejected {
                field: "observed_at",
                ..
            })
        ));
        assert!(
            ledger.audit(ALL).unwrap().items.is_empty(),
            "a refusal records nothing"
        );
    });
}

/// An old observation says nothing about now: reading the clusters at a later time shows it
/// as not observed.
pub fn an_old_observation_shows_as_not_observed(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        deploy(ledger, "1.0.0", "prod-west", DeploymentStatus::Succeeded).unwrap();
        ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_A, NOW))
            .unwrap();
    });
    let exec = db.connect();
    let clusters = clusters();
    let later = Timestamp::from_micros(NOW + STALE_AFTER_MICROS + 60_000_000);
    let statuses = Ledger::read(exec.as_ref(), &clusters, later, |l| l.clusters()).unwrap();
    let west = statuses
        .iter()
        .find(|c| c.name.as_str() == "prod-west")
        .unwrap();
    let drift = west.drift.as_ref().unwrap();
    assert_eq!(drift.kind, DriftKind::NotObserved);
    assert_eq!(drift.summary, "prod-west not observed for 16 min");
}
