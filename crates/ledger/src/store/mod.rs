//! Every SQL statement of the ledger's records and the mapping of its rows (observations in
//! `observations`; the insights' aggregates live with them, in `crate::insights`). Written
//! once, in the subset of SQL that SQLite and PostgreSQL share, with `$N` parameters.

mod clusters;
mod observations;

pub use clusters::{cluster_states, cluster_statuses};
pub use observations::{insert_observation, latest_observation};

use crate::db::{DbError, Row, Sql, Value};
use crate::filters::{AuditFilter, ReleaseFilter};
use crate::model::{
    Approval, AuditEvent, Counts, Deployment, NewDeployment, NewRelease, Page, PageRequest,
    Release, ReleaseRef,
};
use crate::time::Timestamp;
use crate::types::{ApprovalState, DeploymentStatus, Environment, FromText, Subject, Version};

const RELEASE_COLUMNS: &str = "r.id, r.version, r.artifact, r.digest, r.git_commit, r.notes, \
     r.created_by, r.created_at, r.on_behalf_of, r.commit_time";

fn release_from(row: &Row) -> Result<(i64, Release), DbError> {
    Ok((
        row.int(0)?,
        Release {
            version: parsed(row, 1)?,
            artifact: parsed(row, 2)?,
            digest: parsed(row, 3)?,
            commit: parsed(row, 4)?,
            commit_time: row.opt_int(9)?.map(Timestamp::from_micros),
            notes: row.text(5)?,
            created_by: parsed(row, 6)?,
            on_behalf_of: opt_parsed(row, 8)?,
            created_at: Timestamp::from_micros(row.int(7)?),
        },
    ))
}

const DEPLOYMENT_COLUMNS: &str = "d.id, r.version, d.cluster, d.environment, d.status, d.message, \
     d.execution_url, d.recorded_by, d.recorded_at, d.analysis";

fn deployment_from(row: &Row) -> Result<Deployment, DbError> {
    Ok(Deployment {
        id: row.int(0)?,
        version: parsed(row, 1)?,
        cluster: parsed(row, 2)?,
        environment: parsed(row, 3)?,
        status: parsed(row, 4)?,
        message: row.opt_text(5)?,
        execution_url: opt_parsed(row, 6)?,
        recorded_by: parsed(row, 7)?,
        recorded_at: Timestamp::from_micros(row.int(8)?),
        analysis: row
            .opt_text(9)?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| DbError::Mapping(format!("deployments.analysis: {e}")))?,
    })
}

const APPROVAL_COLUMNS: &str = "a.id, r.version, a.state, a.requested_by, a.requested_at, \
     a.decided_by, a.decided_at, a.comment, a.on_behalf_of";

fn approval_from(row: &Row) -> Result<(i64, Approval), DbError> {
    Ok((
        row.int(0)?,
        Approval {
            version: parsed(row, 1)?,
            state: parsed(row, 2)?,
            requested_by: parsed(row, 3)?,
            on_behalf_of: opt_parsed(row, 8)?,
            requested_at: Timestamp::from_micros(row.int(4)?),
            decided_by: opt_parsed(row, 5)?,
            decided_at: row.opt_int(6)?.map(Timestamp::from_micros),
            comment: row.opt_text(7)?,
        },
    ))
}

/// Column I read back into its type; a stored value its type refuses is a mapping error.
fn parsed<T: FromText>(row: &Row, i: usize) -> Result<T, DbError> {
    let text = row.text(i)?;
    T::from_text(&text).map_err(|_| DbError::Mapping(format!("unreadable stored value `{text}`")))
}

fn opt_parsed<T: FromText>(row: &Row, i: usize) -> Result<Option<T>, DbError> {
    match row.opt_text(i)? {
        Some(text) => T::from_text(&text)
            .map(Some)
            .map_err(|_| DbError::Mapping(format!("unreadable stored value `{text}`"))),
        None => Ok(None),
    }
}

/// Reads one page, newest first, from a statement whose `$1` is the exclusive upper id bound,
/// whose `$2` is the row limit, and whose first column is the id.
fn page<T>(
    sql: &Sql,
    statement: &str,
    request: PageRequest,
    extra: &[Value],
    map: impl Fn(&Row) -> Result<(i64, T), DbError>,
) -> Result<Page<T>, DbError> {
    let mut params = vec![
        Value::Int(request.before_id.unwrap_or(i64::MAX)),
        Value::Int(i64::from(request.limit) + 1),
    ];
    params.extend_from_slice(extra);
    let mut rows = sql
        .query(statement, &params)?
        .iter()
        .map(map)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if rows.len() > request.limit as usize {
        rows.truncate(request.limit as usize);
        rows.last().map(|(id, _)| id.to_string())
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
    })
}

pub fn insert_release(
    sql: &Sql,
    release: &NewRelease,
    actor: &Subject,
    now: Timestamp,
) -> Result<bool, DbError> {
    let inserted = sql.execute(
        "INSERT INTO releases
            (version, artifact, digest, git_commit, notes, created_by, created_at, on_behalf_of,
             commit_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (version) DO NOTHING",
        &[
            release.version.as_str().into(),
            release.artifact.as_str().into(),
            release.digest.as_str().into(),
            release.commit.as_str().into(),
            release.notes.as_str().into(),
            actor.as_str().into(),
            Value::Int(now.as_micros()),
            release.on_behalf_of.as_ref().map(Subject::as_str).into(),
            release.commit_time.map(Timestamp::as_micros).into(),
        ],
    )?;
    Ok(inserted == 1)
}

pub fn release_by_version(sql: &Sql, version: &str) -> Result<Option<(i64, Release)>, DbError> {
    let statement = format!("SELECT {RELEASE_COLUMNS} FROM releases r WHERE r.version = $1");
    sql.query_one(&statement, &[version.into()])?
        .as_ref()
        .map(release_from)
        .transpose()
}

/// The release recorded just before the one with id RELEASE_ID.
pub fn release_before(sql: &Sql, release_id: i64) -> Result<Option<ReleaseRef>, DbError> {
    let row = sql.query_one(
        "SELECT version, git_commit FROM releases WHERE id < $1 ORDER BY id DESC LIMIT 1",
        &[release_id.into()],
    )?;
    row.map(|row| {
        Ok(ReleaseRef {
            version: parsed(&row, 0)?,
            commit: parsed(&row, 1)?,
        })
    })
    .transpose()
}

pub fn list_releases(
    sql: &Sql,
    filter: &ReleaseFilter,
    request: PageRequest,
) -> Result<Page<Release>, DbError> {
    let only = filter.conditions(sql.dialect(), 3);
    let statement = format!(
        "SELECT {RELEASE_COLUMNS} FROM releases r WHERE r.id < $1{} ORDER BY r.id DESC LIMIT $2",
        only.sql
    );
    page(sql, &statement, request, &only.params, release_from)
}

pub fn deployments_of(sql: &Sql, release_id: i64) -> Result<Vec<Deployment>, DbError> {
    let statement = format!(
        "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d JOIN releases r ON r.id = d.release_id
         WHERE d.release_id = $1 ORDER BY d.id"
    );
    sql.query(&statement, &[release_id.into()])?
        .iter()
        .map(deployment_from)
        .collect()
}

/// Inserts a deployment event and returns it as stored.
pub fn insert_deployment(
    sql: &Sql,
    release: (i64, &Version),
    event: &NewDeployment,
    environment: Environment,
    actor: &Subject,
    now: Timestamp,
) -> Result<Deployment, DbError> {
    let (release_id, version) = release;
    let analysis: Option<String> = event
        .analysis
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| DbError::Mapping(format!("deployments.analysis: {e}")))?;
    let row = sql.query_one(
        "INSERT INTO deployments
            (release_id, cluster, environment, status, message, execution_url, recorded_by,
             recorded_at, analysis)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            release_id.into(),
            event.cluster.as_str().into(),
            environment.as_str().into(),
            event.status.as_str().into(),
            event.message.clone().into(),
            event.execution_url.as_ref().map(|u| u.as_str()).into(),
            actor.as_str().into(),
            Value::Int(now.as_micros()),
            analysis.into(),
        ],
    )?;
    let id = row
        .ok_or_else(|| DbError::Mapping("INSERT … RETURNING gave no row".into()))?
        .int(0)?;
    // Everything else is what was just written; reading it back would cost a round trip.
    Ok(Deployment {
        id,
        version: version.clone(),
        cluster: event.cluster.clone(),
        environment,
        status: event.status,
        message: event.message.clone(),
        execution_url: event.execution_url.clone(),
        recorded_by: actor.clone(),
        recorded_at: now,
        analysis: event.analysis.clone(),
    })
}

/// Whether the release has an event (with `status`, if given) at `place`.
pub fn has_event(
    sql: &Sql,
    release_id: i64,
    status: Option<DeploymentStatus>,
    place: Place<'_>,
) -> Result<bool, DbError> {
    let (column, value) = match place {
        Place::Cluster(cluster) => ("cluster", cluster),
        Place::Environment(environment) => ("environment", environment.as_str()),
    };
    let statement = format!(
        "SELECT 1 FROM deployments
         WHERE release_id = $1 AND ($2 = '' OR status = $2) AND {column} = $3 LIMIT 1"
    );
    let status = status.map_or("", DeploymentStatus::as_str);
    let params = [release_id.into(), status.into(), value.into()];
    Ok(sql.query_one(&statement, &params)?.is_some())
}

/// Where to look for a deployment event.
pub enum Place<'a> {
    Cluster(&'a str),
    Environment(Environment),
}

pub fn approval_of(sql: &Sql, release_id: i64) -> Result<Option<Approval>, DbError> {
    let statement = format!(
        "SELECT {APPROVAL_COLUMNS} FROM approvals a JOIN releases r ON r.id = a.release_id
         WHERE a.release_id = $1"
    );
    let row = sql.query_one(&statement, &[release_id.into()])?;
    Ok(row
        .as_ref()
        .map(approval_from)
        .transpose()?
        .map(|(_, approval)| approval))
}

/// Inserts a pending approval; `false` if the release already has one.
pub fn insert_approval(
    sql: &Sql,
    release_id: i64,
    actor: &Subject,
    on_behalf_of: Option<&Subject>,
    now: Timestamp,
) -> Result<bool, DbError> {
    let inserted = sql.execute(
        "INSERT INTO approvals (release_id, state, requested_by, requested_at, on_behalf_of)
         VALUES ($1, 'pending', $2, $3, $4) ON CONFLICT (release_id) DO NOTHING",
        &[
            release_id.into(),
            actor.as_str().into(),
            Value::Int(now.as_micros()),
            on_behalf_of.map(Subject::as_str).into(),
        ],
    )?;
    Ok(inserted == 1)
}

/// Decides a pending approval. The `state = 'pending'` condition makes this the single point
/// where concurrent decisions race: exactly one changes a row, the others see `false`.
pub fn decide(
    sql: &Sql,
    release_id: i64,
    state: ApprovalState,
    actor: &Subject,
    comment: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    let changed = sql.execute(
        "UPDATE approvals SET state = $1, decided_by = $2, decided_at = $3, comment = $4
         WHERE release_id = $5 AND state = 'pending'",
        &[
            state.as_str().into(),
            actor.as_str().into(),
            Value::Int(now.as_micros()),
            comment.into(),
            release_id.into(),
        ],
    )?;
    Ok(changed == 1)
}

pub fn list_approvals(
    sql: &Sql,
    state: Option<ApprovalState>,
    request: PageRequest,
) -> Result<Page<Approval>, DbError> {
    let statement = format!(
        "SELECT {APPROVAL_COLUMNS} FROM approvals a JOIN releases r ON r.id = a.release_id
         WHERE a.id < $1 AND ($3 = '' OR a.state = $3) ORDER BY a.id DESC LIMIT $2"
    );
    let filter = state.map_or("", ApprovalState::as_str);
    page(sql, &statement, request, &[filter.into()], approval_from)
}

/// What an audit entry records; the time and request come from the operation's context.
pub struct AuditEntry<'a> {
    pub actor: &'a Subject,
    pub on_behalf_of: Option<&'a Subject>,
    pub action: &'static str,
    pub target: String,
    pub request_id: &'a str,
    pub detail: Option<String>,
}

pub fn append_audit(sql: &Sql, entry: AuditEntry<'_>, now: Timestamp) -> Result<(), DbError> {
    sql.execute(
        "INSERT INTO audit_events (at, actor, action, target, request_id, detail, on_behalf_of)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            Value::Int(now.as_micros()),
            entry.actor.as_str().into(),
            entry.action.into(),
            entry.target.into(),
            entry.request_id.into(),
            entry.detail.into(),
            entry.on_behalf_of.map(Subject::as_str).into(),
        ],
    )?;
    Ok(())
}

pub fn list_audit(
    sql: &Sql,
    filter: &AuditFilter,
    request: PageRequest,
) -> Result<Page<AuditEvent>, DbError> {
    let only = filter.conditions(sql.dialect(), 3);
    page(
        sql,
        &format!(
            "SELECT id, at, actor, action, target, request_id, detail, on_behalf_of \
             FROM audit_events WHERE id < $1{} ORDER BY id DESC LIMIT $2",
            only.sql
        ),
        request,
        &only.params,
        |row| {
            let id = row.int(0)?;
            Ok((
                id,
                AuditEvent {
                    id,
                    at: Timestamp::from_micros(row.int(1)?),
                    actor: parsed(row, 2)?,
                    on_behalf_of: opt_parsed(row, 7)?,
                    action: row.text(3)?,
                    target: row.text(4)?,
                    request_id: row.text(5)?,
                    detail: row.opt_text(6)?,
                },
            ))
        },
    )
}

pub fn counts(sql: &Sql) -> Result<Counts, DbError> {
    let releases = sql
        .query_one("SELECT COUNT(*) FROM releases", &[])?
        .map_or(Ok(0), |row| row.int(0))?;
    let by_state = sql.query("SELECT state, COUNT(*) FROM approvals GROUP BY state", &[])?;
    let mut approvals: Vec<(ApprovalState, i64)> =
        ApprovalState::ALL.iter().map(|state| (*state, 0)).collect();
    for row in &by_state {
        let state: ApprovalState = parsed(row, 0)?;
        if let Some(slot) = approvals.iter_mut().find(|(s, _)| *s == state) {
            slot.1 = row.int(1)?;
        }
    }
    let deployments = sql
        .query(
            "SELECT cluster, status, COUNT(*) FROM deployments
             GROUP BY cluster, status ORDER BY cluster, status",
            &[],
        )?
        .iter()
        .map(|row| Ok((parsed(row, 0)?, parsed(row, 1)?, row.int(2)?)))
        .collect::<Result<_, DbError>>()?;
    let newest_approved = sql
        .query_one(
            "SELECT r.version FROM approvals a JOIN releases r ON r.id = a.release_id
             WHERE a.state = 'approved' ORDER BY r.id DESC LIMIT 1",
            &[],
        )?
        .map(|row| parsed(&row, 0))
        .transpose()?;
    let oldest_pending_since = sql
        .query_one(
            "SELECT requested_at FROM approvals WHERE state = 'pending'
             ORDER BY requested_at LIMIT 1",
            &[],
        )?
        .map(|row| row.int(0).map(Timestamp::from_micros))
        .transpose()?;
    Ok(Counts {
        releases,
        approvals,
        deployments,
        current: Vec::new(),
        observed: Vec::new(),
        newest_approved,
        oldest_pending_since,
    })
}
