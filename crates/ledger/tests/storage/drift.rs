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
            .unwrap()
            .status;
        assert_eq!(agrees.drift, None);
        assert_eq!(agrees.observed.unwrap().version.unwrap().as_str(), "1.0.0");

        // Another digest, twice: drift starts once.
        for _ in 0..2 {
            let drifted = ledger
                .observe(&observer(NOW), &west(), &seen(DIGEST_B, NOW))
                .unwrap()
                .status;
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
            .unwrap()
            .status;
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

/// The drift entries of the audit log, oldest first.
fn drift_entries(ledger: &Ledger) -> Vec<String> {
    let mut entries: Vec<String> = ledger
        .audit(ALL)
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.action.starts_with("drift."))
        .map(|e| e.action)
        .collect();
    entries.reverse();
    entries
}

/// A deployer replaying an old observation (the cluster's release, seen an hour ago) cannot
/// clear a drift: the newest `observed_at` decides, and the replay is kept as history only.
/// With the latest chosen by arrival (`MAX(id)`), the replay ends the drift.
pub fn a_replayed_old_observation_decides_nothing(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        deploy(ledger, "1.0.0", "prod-west", DeploymentStatus::Succeeded).unwrap();
        let drifted = ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_B, NOW))
            .unwrap();
        assert!(drifted.latest && drifted.status.drift.is_some());

        let hour_ago = NOW - 3_600_000_000;
        let replay = ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_A, hour_ago))
            .unwrap();
        assert!(!replay.latest, "an older observation is history only");
        assert_eq!(replay.status, drifted.status, "and changes nothing");
        let west_now = |ledger: &Ledger| {
            let clusters = ledger.clusters().unwrap();
            clusters.into_iter().find(|c| c.name == west()).unwrap()
        };
        assert_eq!(west_now(ledger).observed.unwrap().digest.as_str(), DIGEST_B);
        assert_eq!(drift_entries(ledger), ["drift.started"]);

        // The same instant as the latest: the later report wins, as it always did.
        let same_time = ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_A, NOW))
            .unwrap();
        assert!(same_time.latest);
        assert_eq!(same_time.status.drift, None);
        assert_eq!(drift_entries(ledger), ["drift.started", "drift.ended"]);
    });
}

/// The pipeline moves a cluster before it records the outcome, so the observer sees the new
/// digest while the rollout's `started` has no end yet: that is a rollout, not drift, and
/// the audit log says nothing. Once the rollout fails, the same digest is drift.
pub fn the_release_being_rolled_out_is_not_drift(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        deploy(ledger, "1.0.0", "prod-west", DeploymentStatus::Succeeded).unwrap();
        pending_release(ledger, "1.1.0", DIGEST_B);
        ledger
            .decide(
                &ctx("alice", "req-alice", 2_000),
                &v("1.1.0"),
                &approve("ok"),
            )
            .unwrap();
        deploy(ledger, "1.1.0", "prod-west", DeploymentStatus::Started).unwrap();

        let moving = ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_B, NOW))
            .unwrap()
            .status;
        assert_eq!(moving.drift, None);
        assert_eq!(
            moving.rolling_out.as_ref().map(Version::as_str),
            Some("1.1.0")
        );
        let counts = ledger.counts().unwrap();
        assert!(!counts.observed[0].1, "no drift in /metrics either");

        deploy(ledger, "1.1.0", "prod-west", DeploymentStatus::Failed).unwrap();
        let failed = ledger
            .observe(&observer(NOW + 1), &west(), &seen(DIGEST_B, NOW + 1))
            .unwrap()
            .status;
        assert_eq!(failed.rolling_out, None);
        assert_eq!(failed.drift.unwrap().kind, DriftKind::UnexpectedDigest);
        assert_eq!(drift_entries(ledger), ["drift.started"]);

        // Put back: the cluster runs its release again, and the drift ends.
        ledger
            .observe(&observer(NOW + 2), &west(), &seen(DIGEST_A, NOW + 2))
            .unwrap();
        assert_eq!(drift_entries(ledger), ["drift.started", "drift.ended"]);
    });
}

/// Two observers report the same new digest at once on PostgreSQL, whose transactions run side
/// by side: `drift.started` is logged once. The test makes the race certain: it holds the
/// observations table so that neither can insert until both are inside their transaction (each
/// waiting on a lock), then lets them go. Without the per-cluster lock both read "not drifted"
/// before either inserts, and both log the start.
#[test]
fn concurrent_observations_on_postgres_start_drift_once() {
    let db = TestDb::postgres();
    with_ledger(&db, |ledger| {
        approved_release(ledger, "1.0.0");
        deploy(ledger, "1.0.0", "prod-west", DeploymentStatus::Succeeded).unwrap();
        ledger
            .observe(&observer(NOW), &west(), &seen(DIGEST_A, NOW))
            .unwrap();
    });
    let (holder, watcher) = (db.connect(), db.connect());
    holder.execute("BEGIN", &[]).unwrap();
    holder
        .execute("LOCK TABLE observations IN EXCLUSIVE MODE", &[])
        .unwrap();
    std::thread::scope(|s| {
        let observers: Vec<_> = (0..2)
            .map(|n| {
                let db = &db;
                s.spawn(move || {
                    with_ledger(db, |ledger| {
                        let at = NOW + 1 + n;
                        ledger.observe(&observer(at), &west(), &seen(DIGEST_B, at))
                    })
                })
            })
            .collect();
        // Outside any transaction: within one, PostgreSQL shows one snapshot of the activity.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut waiting = 0;
        while waiting < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            waiting = watcher
                .query(
                    "SELECT COUNT(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .unwrap()[0]
                .int(0)
                .unwrap();
        }
        holder.execute("COMMIT", &[]).unwrap();
        assert_eq!(
            waiting, 2,
            "both observers inside their transactions within 60 s"
        );
        for observer in observers {
            observer.join().unwrap().unwrap();
        }
    });
    with_ledger(&db, |ledger| {
        assert_eq!(drift_entries(ledger), ["drift.started"]);
    });
}
