//! What observers reported each cluster to run (`relctl observe`). A cluster's latest
//! observation is the one made last (`observed_at`), not the one that arrived last: a report
//! replayed or delayed is kept, but decides nothing.

use super::{opt_parsed, parsed};
use crate::db::{DbError, Row, Sql, Value};
use crate::model::{NewObservation, Observation};
use crate::time::Timestamp;
use crate::types::{ClusterName, Subject};

/// Each cluster's latest observation (the newest `observed_at`, then the newest id, through
/// the index `observations (cluster, observed_at, id)`), as rows of cluster, digest,
/// observed_at, source, the drifted flag stored with it, and the newest release recorded with
/// that digest.
pub(super) fn latest_observations(sql: &Sql, names: &[Value]) -> Result<Vec<Row>, DbError> {
    let picks: Vec<String> = (1..=names.len())
        .map(|n| {
            format!(
                "(SELECT l.id FROM observations l WHERE l.cluster = ${n}
                  ORDER BY l.observed_at DESC, l.id DESC LIMIT 1)"
            )
        })
        .collect();
    let statement = format!(
        "SELECT o.cluster, o.digest, o.observed_at, o.source, o.drifted,
                (SELECT r.version FROM releases r WHERE r.digest = o.digest
                 ORDER BY r.id DESC LIMIT 1)
         FROM observations o WHERE o.id IN ({})",
        picks.join(", ")
    );
    sql.query(&statement, names)
}

pub(super) fn observation_from(row: &Row) -> Result<Observation, DbError> {
    Ok(Observation {
        digest: parsed(row, 1)?,
        version: opt_parsed(row, 5)?,
        observed_at: Timestamp::from_micros(row.int(2)?),
        source: row.text(3)?,
    })
}

/// CLUSTER's latest observation and whether it was stored as drifted.
pub fn latest_observation(
    sql: &Sql,
    cluster: &ClusterName,
) -> Result<Option<(Observation, bool)>, DbError> {
    latest_observations(sql, &[cluster.as_str().into()])?
        .first()
        .map(|row| Ok((observation_from(row)?, row.int(4)? == 1)))
        .transpose()
}

pub fn insert_observation(
    sql: &Sql,
    cluster: &ClusterName,
    observation: &NewObservation,
    drifted: bool,
    actor: &Subject,
    now: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "INSERT INTO observations
            (cluster, digest, observed_at, source, drifted, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            cluster.as_str().into(),
            observation.digest.as_str().into(),
            Value::Int(observation.observed_at.as_micros()),
            observation.source.as_str().into(),
            Value::Int(i64::from(drifted)),
            actor.as_str().into(),
            Value::Int(now.as_micros()),
        ],
    )?;
    Ok(())
}
