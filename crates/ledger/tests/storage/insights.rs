//! DORA's four keys over a history whose answers are worked out by hand below: two production
//! clusters, a release that never reaches production, an outage that is restored and one that
//! is not, and events on both sides of a week's boundary (Monday 00:00 UTC).

use super::*;
use DeploymentStatus::{Failed, RolledBack, Succeeded};
use ledger::Executor;
use ledger::insights::{FailureRate, Insights, Keys, Restore, Spread, Window};

fn t(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn by(actor: &str, when: &str) -> Context {
    ctx(actor, &format!("req-{actor}"), t(when).as_micros())
}

/// VERSION recorded at RECORDED (its commit made at COMMITTED), staged and approved then.
fn released(ledger: &Ledger, version: &str, recorded: &str, committed: Option<&str>) {
    let mut new = release(version, DIGEST_A);
    new.commit_time = committed.map(t);
    let kestra = by("kestra", recorded);
    ledger.create_release(&kestra, &new).unwrap();
    let staged = event("staging", Succeeded);
    ledger
        .record_deployment(&kestra, &v(version), &staged)
        .unwrap();
    ledger.request_approval(&kestra, &v(version), None).unwrap();
    let alice = by("alice", recorded);
    ledger.decide(&alice, &v(version), &approve("ok")).unwrap();
}

fn rolled(ledger: &Ledger, version: &str, cluster: &str, status: DeploymentStatus, when: &str) {
    let event = event(cluster, status);
    ledger
        .record_deployment(&by("kestra", when), &v(version), &event)
        .unwrap();
}

fn window(days: u32, now: &str) -> Window {
    Window {
        environment: Environment::Production,
        days,
        now: t(now),
    }
}

fn spread(median_seconds: i64, p90_seconds: i64, count: i64) -> Option<Spread> {
    Some(Spread {
        count,
        median_seconds,
        p90_seconds,
    })
}

fn rate(failed: i64, rollouts: i64) -> Option<FailureRate> {
    Some(FailureRate {
        failed,
        rollouts,
        rate: failed as f64 / rollouts as f64,
    })
}

const HOUR: i64 = 3600;

pub fn the_four_keys_over_a_known_history(db: &TestDb) {
    let insights = with_ledger(db, |ledger| {
        // Before the window: what prod-east ran when it opened.
        released(ledger, "0.9.0", "2026-10-01T00:00:00Z", None);
        rolled(
            ledger,
            "0.9.0",
            "prod-east",
            Succeeded,
            "2026-10-02T00:00:00Z",
        );
        // Week of 11-09: one release on both clusters, lead 26 h from commit, 24 h from record.
        let committed = Some("2026-11-09T08:00:00Z");
        released(ledger, "1.0.0", "2026-11-09T10:00:00Z", committed);
        rolled(
            ledger,
            "1.0.0",
            "prod-east",
            Succeeded,
            "2026-11-10T10:00:00Z",
        );
        rolled(
            ledger,
            "1.0.0",
            "prod-west",
            Succeeded,
            "2026-11-10T12:00:00Z",
        );
        // Week of 11-16: 1.1.0 fails on prod-east and never reaches production; 1.2.0 restores
        // prod-east 48 h after the failure.
        released(ledger, "1.1.0", "2026-11-16T00:00:00Z", None);
        rolled(ledger, "1.1.0", "prod-east", Failed, "2026-11-17T00:00:00Z");
        rolled(
            ledger,
            "1.1.0",
            "prod-east",
            RolledBack,
            "2026-11-17T01:00:00Z",
        );
        let committed = Some("2026-11-17T02:00:00+02:00");
        released(ledger, "1.2.0", "2026-11-18T00:00:00Z", committed);
        rolled(ledger, "1.2.0", "staging", Failed, "2026-11-18T01:00:00Z");
        // A first attempt fails and the retry succeeds: the rollout ended well, and the
        // outage that 1.1.0 began still ends here.
        rolled(ledger, "1.2.0", "prod-east", Failed, "2026-11-18T23:00:00Z");
        rolled(
            ledger,
            "1.2.0",
            "prod-east",
            Succeeded,
            "2026-11-19T00:00:00Z",
        );
        // The last microsecond of Sunday: a rollout of the week of 11-23.
        rolled(
            ledger,
            "1.2.0",
            "prod-west",
            Succeeded,
            "2026-11-29T23:59:59.999999Z",
        );
        // Monday 00:00, week of 11-30: 1.3.0 reaches prod-east; prod-west fails, unrestored.
        released(ledger, "1.3.0", "2026-11-28T22:00:00Z", None);
        rolled(
            ledger,
            "1.3.0",
            "prod-east",
            Succeeded,
            "2026-11-30T00:00:00Z",
        );
        rolled(ledger, "1.3.0", "prod-west", Failed, "2026-12-01T00:00:00Z");
        ledger
            .insights(&window(30, "2026-12-04T12:00:00Z"))
            .unwrap()
    });
    let Insights {
        from,
        to,
        deployments_per_week,
        summary,
        weeks,
        ..
    } = insights;
    assert_eq!(from.to_string(), "2026-11-04T12:00:00.000Z");
    assert_eq!(to.to_string(), "2026-12-04T12:00:00.000Z");
    assert_eq!(deployments_per_week, Some(3.0 * 7.0 / 30.0));
    assert_eq!(
        summary,
        Keys {
            deployments: 3,
            lead_time_from_commit: spread(26 * HOUR, 48 * HOUR, 2),
            lead_time_from_recording: spread(24 * HOUR, 26 * HOUR, 3),
            change_failure_rate: rate(2, 7),
            time_to_restore: Some(Restore {
                restored: 1,
                unrestored: 1,
                median_seconds: Some(48 * HOUR),
                worst_seconds: Some(48 * HOUR),
            }),
        }
    );
    let starts: Vec<String> = weeks
        .iter()
        .map(|w| w.starts.to_string()[..10].into())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-11-02",
            "2026-11-09",
            "2026-11-16",
            "2026-11-23",
            "2026-11-30"
        ]
    );
    let keys: Vec<&Keys> = weeks.iter().map(|w| &w.keys).collect();
    assert_eq!(keys[0], &Keys::default());
    assert_eq!(
        keys[1],
        &Keys {
            deployments: 1,
            lead_time_from_commit: spread(26 * HOUR, 26 * HOUR, 1),
            lead_time_from_recording: spread(24 * HOUR, 24 * HOUR, 1),
            change_failure_rate: rate(0, 2),
            time_to_restore: None,
        }
    );
    assert_eq!(
        keys[2],
        &Keys {
            deployments: 1,
            lead_time_from_commit: spread(48 * HOUR, 48 * HOUR, 1),
            lead_time_from_recording: spread(24 * HOUR, 24 * HOUR, 1),
            change_failure_rate: rate(1, 2),
            time_to_restore: Some(Restore {
                restored: 1,
                unrestored: 0,
                median_seconds: Some(48 * HOUR),
                worst_seconds: Some(48 * HOUR),
            }),
        }
    );
    assert_eq!(
        keys[3],
        &Keys {
            change_failure_rate: rate(0, 1),
            ..Keys::default()
        }
    );
    assert_eq!(
        keys[4],
        &Keys {
            deployments: 1,
            lead_time_from_commit: None,
            lead_time_from_recording: spread(26 * HOUR, 26 * HOUR, 1),
            change_failure_rate: rate(1, 2),
            time_to_restore: Some(Restore {
                restored: 0,
                unrestored: 1,
                median_seconds: None,
                worst_seconds: None,
            }),
        }
    );
}

pub fn an_empty_window_says_so(db: &TestDb) {
    let insights = with_ledger(db, |ledger| {
        released(ledger, "1.0.0", "2026-11-09T10:00:00Z", None);
        rolled(
            ledger,
            "1.0.0",
            "prod-east",
            Succeeded,
            "2026-11-10T10:00:00Z",
        );
        ledger.insights(&window(1, "2026-12-04T12:00:00Z")).unwrap()
    });
    assert_eq!(insights.deployments_per_week, None);
    assert_eq!(insights.summary, Keys::default());
    // The one day from Thursday noon to Friday noon lies in one week.
    assert_eq!(insights.weeks.len(), 1);
    assert_eq!(insights.weeks[0].keys, Keys::default());
}

/// Releases recorded before commit times were bounded may carry any time: 40 dated
/// 9999-12-31 would have overflowed the sum of their lead times (a 500 from `/api/insights`
/// and `/metrics`), and any in the future made lead times negative. Neither figure can now:
/// nothing is summed, and a commit after its release's success measures nothing.
pub fn hostile_stored_commit_times_neither_overflow_nor_go_negative(db: &TestDb) {
    let insights = with_ledger(db, |ledger| {
        for n in 0..40 {
            let version = format!("1.{n}.0");
            released(ledger, &version, "2026-11-09T10:00:00Z", None);
            rolled(
                ledger,
                &version,
                "prod-east",
                Succeeded,
                "2026-11-10T10:00:00Z",
            );
        }
        ledger
            .insights(&window(30, "2026-12-04T12:00:00Z"))
            .unwrap()
    });
    assert_eq!(insights.summary.deployments, 40);
    let far_future = t("9999-12-31T23:59:59Z").as_micros();
    db.connect()
        .execute(
            &format!("UPDATE releases SET commit_time = {far_future}"),
            &[],
        )
        .unwrap();
    let exec = db.connect();
    let clusters = clusters();
    let now = t("2026-12-04T12:00:00Z");
    let hostile = Ledger::read(exec.as_ref(), &clusters, now, |ledger| {
        ledger.insights(&window(30, "2026-12-04T12:00:00Z"))
    })
    .unwrap();
    assert_eq!(hostile.summary.lead_time_from_commit, None);
    assert_eq!(hostile.summary, insights.summary, "the rest is unchanged");
}

/// What the four keys cost SQLite (its virtual machine's steps: the same for the same data and
/// plan on any machine) for a production history of N rollouts, each a failure, its put-back
/// and a success on one cluster.
fn insights_cost(rollouts: i64) -> u64 {
    let db = TestDb::sqlite();
    let TestDb::Sqlite(path) = &db else {
        unreachable!()
    };
    let exec = native_db::SqliteExecutor::open(path).unwrap();
    migrations::migrate(&exec, Timestamp::from_micros(1)).unwrap();
    exec.execute("BEGIN", &[]).unwrap();
    let start = t("2026-11-10T00:00:00Z").as_micros();
    for n in 0..rollouts {
        let release = n + 1;
        exec.execute(
            &format!(
                "INSERT INTO releases (id, version, artifact, digest, git_commit, notes, created_by,
                                       created_at)
                 VALUES ({release}, '1.{n}.0', 'ghcr.io/acme/automatizacion:1.{n}.0',
                         '{DIGEST_A}', '{COMMIT}', '', 'kestra', {start})"
            ),
            &[],
        )
        .unwrap();
        for (i, status) in ["failed", "rolled_back", "succeeded"].iter().enumerate() {
            let at = start + (3 * n + i as i64) * 60_000_000;
            exec.execute(
                &format!(
                    "INSERT INTO deployments (release_id, cluster, environment, status,
                                              recorded_by, recorded_at)
                     VALUES ({release}, 'prod-east', 'production', '{status}', 'kestra', {at})"
                ),
                &[],
            )
            .unwrap();
        }
    }
    exec.execute("COMMIT", &[]).unwrap();
    let clusters = clusters();
    let now = t("2026-12-04T12:00:00Z");
    let before = exec.vm_steps();
    let insights = Ledger::read(&exec, &clusters, now, |ledger| {
        ledger.insights(&window(30, "2026-12-04T12:00:00Z"))
    })
    .unwrap();
    assert_eq!(insights.summary.deployments, rollouts);
    exec.vm_steps() - before
}

/// Every scrape of `/metrics` computes the four keys (when no kept answer is current), so their
/// cost must grow with the history, not with its square: four times the rollouts may cost at
/// most six times as much (linear is four; the old time-to-restore query, which scanned the
/// cluster's history for every failure, cost twelve).
#[test]
fn the_four_keys_cost_grows_linearly_with_the_history() {
    let (small, large) = (insights_cost(300), insights_cost(1200));
    let ratio = large as f64 / small as f64;
    eprintln!("insights: {small} VM steps for 300 rollouts, {large} for 1200 ({ratio:.1}×)");
    assert!(ratio < 6.0, "{small} → {large} VM steps: {ratio:.1}×");
}
