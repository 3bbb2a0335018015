//! What each cluster runs, by the ledger's record and by its latest observation.

use super::observations::{latest_observations, observation_from};
use super::parsed;
use crate::clusters::Clusters;
use crate::db::{DbError, Row, Sql, Value};
use crate::drift::{self, InFlight};
use crate::model::{ClusterStatus, CurrentRelease, LastEvent};
use crate::time::Timestamp;
use crate::types::DeploymentStatus;

/// Every configured cluster's status in three statements, whatever the number of clusters:
/// one finds each cluster's current release, one its latest event, one its latest observation.
/// Each cluster is one indexed look-up inside them, on `deployments (cluster, id)` and
/// `observations (cluster, id)`. (Spin opens the database and prepares every statement afresh
/// for each request, so statements cost more than rows.) Drift is judged at NOW.
pub fn cluster_statuses(
    sql: &Sql,
    clusters: &Clusters,
    now: Timestamp,
) -> Result<Vec<ClusterStatus>, DbError> {
    Ok(cluster_states(sql, clusters, now)?
        .into_iter()
        .map(|(status, _)| status)
        .collect())
}

/// Like [`cluster_statuses`], with the release each cluster is being moved to, if any.
pub fn cluster_states(
    sql: &Sql,
    clusters: &Clusters,
    now: Timestamp,
) -> Result<Vec<(ClusterStatus, Option<InFlight>)>, DbError> {
    let names: Vec<Value> = clusters
        .iter()
        .map(|(name, _)| name.as_str().into())
        .collect();
    // The current release: the latest succeeded deployment not rolled back there since.
    let current = rows_by_cluster(
        sql,
        &names,
        "SELECT d.id FROM deployments d
         WHERE d.cluster = $N AND d.status = 'succeeded'
           AND NOT EXISTS (SELECT 1 FROM deployments later
                           WHERE later.cluster = d.cluster AND later.release_id = d.release_id
                             AND later.status = 'rolled_back' AND later.id > d.id)
         ORDER BY d.id DESC LIMIT 1",
    )?;
    let last = rows_by_cluster(
        sql,
        &names,
        "SELECT d.id FROM deployments d WHERE d.cluster = $N ORDER BY d.id DESC LIMIT 1",
    )?;
    let observed = latest_observations(sql, &names)?;
    clusters
        .iter()
        .map(|(name, environment)| {
            let of_this = |rows: &[Row]| -> Option<Row> {
                rows.iter()
                    .find(|row| matches!(&row.0[0], Value::Text(c) if c == name.as_str()))
                    .cloned()
            };
            let current = of_this(&current)
                .map(|row| {
                    Ok::<_, DbError>(CurrentRelease {
                        version: parsed(&row, 1)?,
                        artifact: parsed(&row, 2)?,
                        digest: parsed(&row, 3)?,
                        succeeded_at: Timestamp::from_micros(row.int(6)?),
                    })
                })
                .transpose()?;
            let last = of_this(&last);
            let last_event = last
                .as_ref()
                .map(|row| {
                    Ok::<_, DbError>(LastEvent {
                        version: parsed(row, 1)?,
                        status: parsed(row, 4)?,
                        message: row.opt_text(5)?,
                        at: Timestamp::from_micros(row.int(6)?),
                    })
                })
                .transpose()?;
            let in_flight = match (&last, &last_event) {
                (Some(row), Some(event)) if event.status == DeploymentStatus::Started => {
                    Some(InFlight {
                        version: event.version.clone(),
                        digest: parsed(row, 3)?,
                    })
                }
                _ => None,
            };
            let observed = of_this(&observed)
                .map(|row| observation_from(&row))
                .transpose()?;
            let verdict = drift::judge(
                name,
                current.as_ref(),
                in_flight.as_ref(),
                observed.as_ref(),
                now,
            );
            let status = ClusterStatus {
                name: name.clone(),
                environment: *environment,
                current,
                last_event,
                observed,
                rolling_out: verdict.rolling_out,
                drift: verdict.drift,
            };
            Ok((status, in_flight))
        })
        .collect()
}

/// The deployments that `pick` (a statement selecting one deployment id of the cluster `$N`)
/// picks for each cluster, as rows of cluster, version, artifact, digest, status, message and
/// time.
fn rows_by_cluster(sql: &Sql, names: &[Value], pick: &str) -> Result<Vec<Row>, DbError> {
    let picks: Vec<String> = (1..=names.len())
        .map(|n| format!("({})", pick.replace("$N", &format!("${n}"))))
        .collect();
    let statement = format!(
        "SELECT d.cluster, r.version, r.artifact, r.digest, d.status, d.message, d.recorded_at
         FROM deployments d JOIN releases r ON r.id = d.release_id
         WHERE d.id IN ({})",
        picks.join(", ")
    );
    sql.query(&statement, names)
}
