//! Versioned, forward-only schema migrations.
//!
//! Every write calls [`ensure`] first: one cheap read when the schema is current, otherwise
//! the missing migrations are applied, each in its own transaction. Reads skip even that read
//! and call [`ensure`] only when the schema refuses them (see `Ledger::read`). Instances that
//! start at once queue on a lock (SQLite's write lock, PostgreSQL's advisory lock) and then find
//! the work already done, so a migration never runs twice.

use crate::db::{DbError, Dialect, Executor, Sql, Value};
use crate::time::Timestamp;

/// A statement for both dialects, or for one of them. `{id}` stands for the dialect's
/// auto-increment primary key, which both keep strictly increasing so ids order events.
enum Step {
    Both(&'static str),
    Sqlite(&'static str),
    Postgres(&'static str),
}

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    steps: &'static [Step],
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger tables",
        steps: &[
            Step::Both(
                "CREATE TABLE releases (
                    id {id},
                    version TEXT NOT NULL UNIQUE,
                    artifact TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    git_commit TEXT NOT NULL,
                    notes TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at BIGINT NOT NULL)",
            ),
            Step::Both(
                "CREATE TABLE deployments (
                    id {id},
                    release_id BIGINT NOT NULL REFERENCES releases (id),
                    cluster TEXT NOT NULL,
                    environment TEXT NOT NULL CHECK (environment IN ('staging', 'production')),
                    status TEXT NOT NULL
                        CHECK (status IN ('started', 'succeeded', 'failed', 'rolled_back')),
                    message TEXT,
                    execution_url TEXT,
                    recorded_by TEXT NOT NULL,
                    recorded_at BIGINT NOT NULL)",
            ),
            Step::Both("CREATE INDEX deployments_by_cluster ON deployments (cluster, id)"),
            Step::Both("CREATE INDEX deployments_by_release ON deployments (release_id, id)"),
            Step::Both(
                "CREATE TABLE approvals (
                    id {id},
                    release_id BIGINT NOT NULL UNIQUE REFERENCES releases (id),
                    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
                    requested_by TEXT NOT NULL,
                    requested_at BIGINT NOT NULL,
                    decided_by TEXT,
                    decided_at BIGINT,
                    comment TEXT)",
            ),
            Step::Both("CREATE INDEX approvals_by_state ON approvals (state, id)"),
            Step::Both(
                "CREATE TABLE audit_events (
                    id {id},
                    at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    detail TEXT)",
            ),
        ],
    },
    Migration {
        version: 2,
        name: "append-only audit log",
        steps: &[
            Step::Sqlite(
                "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            ),
            Step::Sqlite(
                "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            ),
            Step::Postgres(
                "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
            ),
            Step::Postgres(
                "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
                 FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
            ),
            Step::Postgres(
                "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                 FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
            ),
        ],
    },
    Migration {
        version: 3,
        name: "on whose behalf a service account acts",
        steps: &[
            Step::Both("ALTER TABLE releases ADD COLUMN on_behalf_of TEXT"),
            Step::Both("ALTER TABLE approvals ADD COLUMN on_behalf_of TEXT"),
            Step::Both("ALTER TABLE audit_events ADD COLUMN on_behalf_of TEXT"),
        ],
    },
    Migration {
        version: 4,
        name: "commit times and what clusters are observed to run",
        steps: &[
            Step::Both("ALTER TABLE releases ADD COLUMN commit_time BIGINT"),
            Step::Both(
                "CREATE TABLE observations (
                    id {id},
                    cluster TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    source TEXT NOT NULL,
                    drifted BIGINT NOT NULL CHECK (drifted IN (0, 1)),
                    recorded_by TEXT NOT NULL,
                    recorded_at BIGINT NOT NULL)",
            ),
            Step::Both("CREATE INDEX observations_by_cluster ON observations (cluster, id)"),
            // Insights group deployments by environment and outcome, scanning by time.
            Step::Both(
                "CREATE INDEX deployments_by_environment ON deployments (environment, status, id)",
            ),
        ],
    },
    Migration {
        version: 5,
        name: "a cluster's latest observation is the one made last",
        steps: &[
            // An observation that arrives late (a replay, a slow observer) must not decide what
            // the cluster runs: the newest `observed_at` does, then the newest id.
            Step::Both(
                "CREATE INDEX observations_by_time ON observations (cluster, observed_at, id)",
            ),
            Step::Both("DROP INDEX observations_by_cluster"),
        ],
    },
    Migration {
        version: 6,
        name: "each cluster's successes by index",
        steps: &[
            // Time to restore looks, for every failure, for the success before and after it on
            // the same cluster: one index step each, not a scan of the cluster's history, so
            // `/metrics` and `/api/insights` grow linearly with deployments.
            Step::Both(
                "CREATE INDEX deployments_by_cluster_status ON deployments (cluster, status, id)",
            ),
        ],
    },
    Migration {
        version: 7,
        name: "lists filtered by person, version, action and target",
        steps: &[
            // `ReleaseFilter` and `AuditFilter` (crate::filters): each condition an index walk,
            // newest first. Prefixes use GLOB in SQLite (the version's UNIQUE index serves
            // it) and LIKE on `text_pattern_ops` in PostgreSQL, whatever the collation.
            Step::Both("CREATE INDEX releases_by_creator ON releases (created_by, id)"),
            Step::Both("CREATE INDEX releases_by_person ON releases (on_behalf_of, id)"),
            Step::Postgres(
                "CREATE INDEX releases_by_version_prefix ON releases (version text_pattern_ops)",
            ),
            Step::Both("CREATE INDEX audit_by_action ON audit_events (action, id)"),
            Step::Both("CREATE INDEX audit_by_actor ON audit_events (actor, id)"),
            Step::Both("CREATE INDEX audit_by_person ON audit_events (on_behalf_of, id)"),
            Step::Both("CREATE INDEX audit_by_target ON audit_events (target, id)"),
            Step::Postgres(
                "CREATE INDEX audit_by_target_prefix ON audit_events (target text_pattern_ops)",
            ),
        ],
    },
    Migration {
        version: 8,
        name: "the analysis that ended a stage",
        steps: &[
            // `analysis::Record` as JSON, on the event that ended a staged rollout's stage.
            Step::Both("ALTER TABLE deployments ADD COLUMN analysis TEXT"),
        ],
    },
];

/// The schema version this build expects.
pub const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// An arbitrary constant that names the ledger's migration lock among PostgreSQL advisory locks.
const PG_MIGRATION_LOCK: i64 = 0x6c65_6467_6572;

/// The applied schema version. Fails on a database that was never migrated.
pub fn current_version(exec: &dyn Executor) -> Result<i64, DbError> {
    let sql = Sql::new(exec);
    let row = sql.query_one("SELECT MAX(version) FROM schema_migrations", &[])?;
    Ok(row
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

/// Applies whatever migrations are missing and says whether there were any. Cheap when there
/// are none.
pub fn ensure(exec: &dyn Executor, now: Timestamp) -> Result<bool, DbError> {
    match current_version(exec) {
        Ok(version) if version >= LATEST => Ok(false),
        _ => migrate(exec, now).map(|applied| applied > 0),
    }
}

/// Applies the missing migrations and returns how many it applied.
pub fn migrate(exec: &dyn Executor, now: Timestamp) -> Result<usize, DbError> {
    migrate_to(exec, now, LATEST)
}

/// Applies the missing migrations up to schema version LAST (older releases' schemas, for
/// tests that restore what an older release wrote) and returns how many it applied.
pub fn migrate_to(exec: &dyn Executor, now: Timestamp, last: i64) -> Result<usize, DbError> {
    let sql = Sql::new(exec);
    if sql.dialect() == Dialect::Sqlite {
        // Lets readers proceed while one writer commits. It persists in the database file and
        // cannot change inside a transaction; if another instance holds a lock, the next start
        // tries again, so a failure here is harmless.
        let _ = sql.query("PRAGMA journal_mode=WAL", &[]);
    }
    let mut applied = 0;
    for migration in MIGRATIONS.iter().take_while(|m| m.version <= last) {
        let ran = sql.transaction(|tx| {
            if tx.dialect() == Dialect::Postgres {
                tx.query(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[PG_MIGRATION_LOCK.into()],
                )?;
            }
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                &[],
            )?;
            let done = tx.query_one(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[migration.version.into()],
            )?;
            if done.is_some() {
                return Ok::<_, DbError>(false);
            }
            for step in migration.steps {
                if let Some(statement) = step.for_dialect(tx.dialect()) {
                    tx.execute(&statement, &[])?;
                }
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[
                    migration.version.into(),
                    migration.name.into(),
                    Value::Int(now.as_micros()),
                ],
            )?;
            Ok(true)
        })?;
        applied += usize::from(ran);
    }
    Ok(applied)
}

impl Step {
    fn for_dialect(&self, dialect: Dialect) -> Option<String> {
        let text = match (self, dialect) {
            (Step::Both(text), _)
            | (Step::Sqlite(text), Dialect::Sqlite)
            | (Step::Postgres(text), Dialect::Postgres) => text,
            _ => return None,
        };
        let id = match dialect {
            Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Dialect::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        };
        Some(text.replace("{id}", id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_by_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i64 + 1, "{}", migration.name);
        }
        assert_eq!(LATEST, MIGRATIONS.len() as i64);
    }

    #[test]
    fn each_dialect_gets_its_own_steps_and_key_type() {
        let both = Step::Both("CREATE TABLE t (id {id})");
        assert_eq!(
            both.for_dialect(Dialect::Sqlite).unwrap(),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)"
        );
        assert!(
            both.for_dialect(Dialect::Postgres)
                .unwrap()
                .contains("GENERATED ALWAYS AS IDENTITY")
        );
        assert!(Step::Sqlite("x").for_dialect(Dialect::Postgres).is_none());
        assert!(Step::Postgres("x").for_dialect(Dialect::Sqlite).is_none());
    }
}
