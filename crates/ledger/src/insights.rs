//! DORA's four keys, read from the ledger's own record: deployment frequency, lead time for
//! changes, change failure rate and time to restore, for one environment over a window of
//! days and for each UTC week (Monday 00:00) it touches.
//!
//! Every figure is computed in SQL, in the subset SQLite and PostgreSQL share (window
//! functions included), so both stores answer identically. Percentiles are nearest-rank: the
//! median of 1, 2, 3, 4 is 2, and no value is ever interpolated. A figure with nothing to
//! measure is `None` (JSON `null`), never 0.

use crate::db::{DbError, Row, Sql, Value};
use crate::time::Timestamp;
use crate::types::Environment;
use serde::Serialize;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_WEEK: i64 = 7 * MICROS_PER_DAY;
/// 1970-01-05, the first Monday after the epoch: weeks start here, every seven days.
const FIRST_MONDAY: i64 = 4 * MICROS_PER_DAY;

/// The window asked for: the `days` days that end now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub environment: Environment,
    pub days: u32,
    pub now: Timestamp,
}

impl Window {
    pub const DEFAULT_DAYS: u32 = 30;
    pub const MAX_DAYS: u32 = 366;

    fn from(&self) -> Timestamp {
        Timestamp::from_micros(self.now.as_micros() - i64::from(self.days) * MICROS_PER_DAY)
    }
}

/// The Monday 00:00 UTC that starts the week holding T.
pub fn week_of(t: Timestamp) -> Timestamp {
    let since = t.as_micros() - FIRST_MONDAY;
    Timestamp::from_micros(since.div_euclid(MICROS_PER_WEEK) * MICROS_PER_WEEK + FIRST_MONDAY)
}

/// The four keys over the whole window, then week by week (oldest first, empty weeks too).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Insights {
    pub environment: Environment,
    pub days: u32,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Releases that first succeeded in the environment during the window, per week of it.
    /// `null` when nothing at all was rolled out there in the window.
    pub deployments_per_week: Option<f64>,
    pub summary: Keys,
    pub weeks: Vec<Week>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Week {
    /// Monday 00:00 UTC.
    pub starts: Timestamp,
    #[serde(flatten)]
    pub keys: Keys,
}

/// The four keys over one span of time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Keys {
    /// Releases whose first success in the environment fell in the span: each release counts
    /// once, however many clusters it reached.
    pub deployments: i64,
    /// From the commit's time (for releases that carry one) to the first success.
    pub lead_time_from_commit: Option<Spread>,
    /// From the release's recording in the ledger to its first success.
    pub lead_time_from_recording: Option<Spread>,
    pub change_failure_rate: Option<FailureRate>,
    pub time_to_restore: Option<Restore>,
}

/// A duration's median and 90th percentile, in seconds, over `count` releases.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Spread {
    pub count: i64,
    pub median_seconds: i64,
    pub p90_seconds: i64,
}

/// Rollouts (a release on a cluster) that ended `failed` or `rolled_back`, of all that ended
/// in the span. A rollout ends with its latest event other than `started`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureRate {
    pub failed: i64,
    pub rollouts: i64,
    /// `failed / rollouts`, from 0 to 1.
    pub rate: f64,
}

/// From a cluster's first failure after a success to its next success. A failure with no
/// success after it yet is `unrestored` and left out of the median and worst.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Restore {
    pub restored: i64,
    pub unrestored: i64,
    pub median_seconds: Option<i64>,
    pub worst_seconds: Option<i64>,
}

/// The first success of each release in environment `$1`, with its lead times: `t` is when,
/// `v` the duration the summary measures. A start after the success (a commit time from a
/// wrong clock, stored before commit times were bounded) measures nothing: NULL.
fn first_successes(lead_from: &str) -> String {
    format!(
        "SELECT f.t AS t, CASE WHEN {lead_from} <= f.t THEN f.t - {lead_from} END AS v
         FROM (SELECT release_id, MIN(recorded_at) AS t FROM deployments
               WHERE environment = $1 AND status = 'succeeded' GROUP BY release_id) f
         JOIN releases r ON r.id = f.release_id"
    )
}

/// Each rollout's end, `v` = 1 when it failed.
const ROLLOUT_ENDS: &str = "
    SELECT d.recorded_at AS t, CASE WHEN d.status = 'succeeded' THEN 0 ELSE 1 END AS v
    FROM deployments d
    WHERE d.environment = $1 AND d.status <> 'started'
      AND d.id = (SELECT MAX(e.id) FROM deployments e
                  WHERE e.release_id = d.release_id AND e.cluster = d.cluster
                    AND e.status <> 'started')";

/// Each outage of a cluster: its failures since the cluster's last success, grouped; `t` the
/// first of them, `v` the time to the next success (NULL while there is none). Both successes
/// are found by walking `deployments (cluster, status, id)` one step.
const OUTAGES: &str = "
    SELECT o.t AS t,
           (SELECT s.recorded_at FROM deployments s
            WHERE s.cluster = o.cluster AND s.status = 'succeeded' AND s.id > o.first_id
            ORDER BY s.id LIMIT 1) - o.t AS v
    FROM (SELECT x.cluster, MIN(x.recorded_at) AS t, MIN(x.id) AS first_id
          FROM (SELECT d.cluster, d.recorded_at, d.id,
                       COALESCE((SELECT p.id FROM deployments p
                                 WHERE p.cluster = d.cluster AND p.status = 'succeeded'
                                   AND p.id < d.id
                                 ORDER BY p.id DESC LIMIT 1), 0) AS after_success
                FROM deployments d
                WHERE d.environment = $1 AND d.status IN ('failed', 'rolled_back')) x
          GROUP BY x.cluster, x.after_success) o";

/// Summarises FACTS (rows of `t`, `v`) that fall in the window `[$2, $3)`: for the window
/// (bucket -1) and each week (bucket = its Monday), the rows, the non-NULL values, how many
/// are 1 (the failures, where facts are 0 or 1), nearest-rank median and p90, and maximum.
/// Nothing is summed, so no stored value can overflow an aggregate.
fn summarised(facts: &str) -> String {
    format!(
        "WITH facts AS ({facts}),
         bucketed AS (
             SELECT ((t - {FIRST_MONDAY}) / {MICROS_PER_WEEK}) * {MICROS_PER_WEEK} + {FIRST_MONDAY}
                      AS bucket, v
             FROM facts WHERE t >= $2 AND t < $3
             UNION ALL
             SELECT -1 AS bucket, v FROM facts WHERE t >= $2 AND t < $3),
         ranked AS (
             SELECT bucket, v,
                    ROW_NUMBER() OVER (PARTITION BY bucket
                                       ORDER BY CASE WHEN v IS NULL THEN 1 ELSE 0 END, v) AS rn,
                    COUNT(v) OVER (PARTITION BY bucket) AS n
             FROM bucketed)
         SELECT bucket, COUNT(*), COUNT(v), COUNT(CASE WHEN v = 1 THEN 1 END),
                MAX(CASE WHEN rn = (n + 1) / 2 THEN v END),
                MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END),
                MAX(v)
         FROM ranked GROUP BY bucket ORDER BY bucket"
    )
}

/// One bucket's figures, as [`summarised`] selects them.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    rows: i64,
    values: i64,
    ones: i64,
    median: Option<i64>,
    p90: Option<i64>,
    max: Option<i64>,
}

/// Runs one summary and returns it by bucket.
fn summaries(sql: &Sql, facts: &str, window: &Window) -> Result<Vec<(i64, Summary)>, DbError> {
    let params = [
        Value::from(window.environment.as_str()),
        Value::Int(window.from().as_micros()),
        Value::Int(window.now.as_micros()),
    ];
    let read = |row: &Row| -> Result<(i64, Summary), DbError> {
        Ok((
            row.int(0)?,
            Summary {
                rows: row.int(1)?,
                values: row.int(2)?,
                ones: row.int(3)?,
                median: row.opt_int(4)?,
                p90: row.opt_int(5)?,
                max: row.opt_int(6)?,
            },
        ))
    };
    sql.query(&summarised(facts), &params)?
        .iter()
        .map(read)
        .collect()
}

fn seconds(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

fn spread(s: &Summary) -> Option<Spread> {
    Some(Spread {
        count: s.values,
        median_seconds: seconds(s.median?),
        p90_seconds: seconds(s.p90?),
    })
}

fn failure_rate(s: &Summary) -> Option<FailureRate> {
    (s.values > 0).then(|| FailureRate {
        failed: s.ones,
        rollouts: s.values,
        rate: s.ones as f64 / s.values as f64,
    })
}

fn restore(s: &Summary) -> Option<Restore> {
    (s.rows > 0).then(|| Restore {
        restored: s.values,
        unrestored: s.rows - s.values,
        median_seconds: s.median.map(seconds),
        worst_seconds: s.max.map(seconds),
    })
}

/// The four keys of WINDOW.
pub(crate) fn insights(sql: &Sql, window: &Window) -> Result<Insights, DbError> {
    let from_recording = summaries(sql, &first_successes("r.created_at"), window)?;
    let from_commit = summaries(sql, &first_successes("r.commit_time"), window)?;
    let failures = summaries(sql, ROLLOUT_ENDS, window)?;
    let outages = summaries(sql, OUTAGES, window)?;
    let keys_of = |bucket: i64| {
        let get = |all: &[(i64, Summary)]| {
            all.iter()
                .find(|(b, _)| *b == bucket)
                .map_or_else(Summary::default, |(_, s)| *s)
        };
        let recorded = get(&from_recording);
        Keys {
            deployments: recorded.rows,
            lead_time_from_commit: spread(&get(&from_commit)),
            lead_time_from_recording: spread(&recorded),
            change_failure_rate: failure_rate(&get(&failures)),
            time_to_restore: restore(&get(&outages)),
        }
    };
    let summary = keys_of(-1);
    let rolled_out = summary.deployments > 0 || summary.change_failure_rate.is_some();
    let mut weeks = Vec::new();
    let mut starts = week_of(window.from());
    while starts < window.now {
        weeks.push(Week {
            starts,
            keys: keys_of(starts.as_micros()),
        });
        starts = Timestamp::from_micros(starts.as_micros() + MICROS_PER_WEEK);
    }
    Ok(Insights {
        environment: window.environment,
        days: window.days,
        from: window.from(),
        to: window.now,
        deployments_per_week: rolled_out
            .then(|| summary.deployments as f64 * 7.0 / f64::from(window.days)),
        summary,
        weeks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_midnight_utc() {
        // 2026-12-04 is a Friday; its week began on Monday 2026-11-30.
        let friday = Timestamp::parse_rfc3339("2026-12-04T10:25:34Z").unwrap();
        assert_eq!(week_of(friday).to_string(), "2026-11-30T00:00:00.000Z");
        let monday = Timestamp::parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
        assert_eq!(week_of(monday), monday);
        let sunday_night = Timestamp::parse_rfc3339("2026-11-29T23:59:59.999999Z").unwrap();
        assert_eq!(
            week_of(sunday_night).to_string(),
            "2026-11-23T00:00:00.000Z"
        );
    }
}
