//! The ledger's [`Executor`] over Spin's databases: the `default` SQLite database and
//! PostgreSQL (`spin:postgres@4.0.0`), for the backend component and the benchmark's probes.
//! The one place the ledger's rows meet Spin's value types.
#![cfg(target_arch = "wasm32")]

use ledger::{DbError, Dialect, Executor, Row, Value};
use spin_sdk::{pg4, sqlite3};
use wasi::clocks::monotonic_clock;

/// Opens PostgreSQL at DB_URL, or the default SQLite database.
pub fn open<'a>(db_url: Option<&str>) -> Result<Box<dyn Executor + 'a>, DbError> {
    match db_url {
        Some(url) => pg4::Connection::open(url)
            .map(|conn| Box::new(SpinPostgres(conn)) as Box<dyn Executor>)
            .map_err(|e| DbError::Unavailable(format!("postgres: {e:?}"))),
        None => sqlite3::Connection::open_default()
            .map(|conn| Box::new(SpinSqlite(conn)) as Box<dyn Executor>)
            .map_err(|e| DbError::Unavailable(format!("sqlite: {e:?}"))),
    }
}

/// Spin's `default` SQLite database.
pub struct SpinSqlite(pub sqlite3::Connection);

impl SpinSqlite {
    fn run(&self, sql: &str, params: &[Value]) -> Result<sqlite3::QueryResult, DbError> {
        let params: Vec<sqlite3::Value> = params
            .iter()
            .map(|value| match value {
                Value::Null => sqlite3::Value::Null,
                Value::Int(v) => sqlite3::Value::Integer(*v),
                Value::Text(v) => sqlite3::Value::Text(v.clone()),
            })
            .collect();
        self.0
            .execute(sql, &params)
            .map_err(|e| DbError::Query(format!("sqlite: {e:?}")))
    }
}

/// How long a write waits for SQLite's write lock before it is refused.
const WRITE_LOCK_WAIT_MS: u64 = 5_000;

impl SpinSqlite {
    /// Takes the write lock. Spin gives every request a new connection that waits for the lock
    /// in SQLite's busy handler, which sleeps in growing steps of up to 100 ms: concurrent
    /// writers would wait far longer than a write holds the lock. Here a write asks without
    /// waiting and asks again every millisecond, for up to [`WRITE_LOCK_WAIT_MS`].
    fn begin_write(&self) -> Result<(), DbError> {
        self.run("PRAGMA busy_timeout = 0", &[])?;
        let mut waited_ms = 0;
        loop {
            match self.0.execute("BEGIN IMMEDIATE", &[]) {
                Ok(_) => return Ok(()),
                Err(sqlite3::Error::Io(why)) if is_busy(&why) && waited_ms < WRITE_LOCK_WAIT_MS => {
                    monotonic_clock::subscribe_duration(1_000_000).block();
                    waited_ms += 1;
                }
                Err(e) => return Err(DbError::Query(format!("sqlite: {e:?}"))),
            }
        }
    }
}

/// SQLite's words for a lock another connection holds.
fn is_busy(why: &str) -> bool {
    why.contains("database is locked") || why.contains("database is busy")
}

impl Executor for SpinSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        if sql == "BEGIN IMMEDIATE" {
            self.begin_write()?;
        } else {
            self.run(sql, params)?;
        }
        Ok(self.0.changes())
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let result = self.run(sql, params)?;
        result
            .rows
            .into_iter()
            .map(|row| {
                let values = row
                    .values
                    .into_iter()
                    .map(|value| match value {
                        sqlite3::Value::Null => Ok(Value::Null),
                        sqlite3::Value::Integer(v) => Ok(Value::Int(v)),
                        sqlite3::Value::Text(v) => Ok(Value::Text(v)),
                        other => Err(DbError::Mapping(format!(
                            "unsupported SQLite value {other:?}"
                        ))),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Row(values))
            })
            .collect()
    }
}

/// A PostgreSQL connection through Spin's `spin:postgres@4.0.0`.
pub struct SpinPostgres(pub pg4::Connection);

fn pg_params(params: &[Value]) -> Vec<pg4::ParameterValue> {
    params
        .iter()
        .map(|value| match value {
            Value::Null => pg4::ParameterValue::DbNull,
            Value::Int(v) => pg4::ParameterValue::Int64(*v),
            Value::Text(v) => pg4::ParameterValue::Str(v.clone()),
        })
        .collect()
}

impl Executor for SpinPostgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.0
            .execute(sql, &pg_params(params))
            .map_err(|e| DbError::Query(format!("postgres: {e:?}")))
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let rows = self
            .0
            .query(sql, &pg_params(params))
            .map_err(|e| DbError::Query(format!("postgres: {e:?}")))?;
        rows.rows
            .into_iter()
            .map(|row| {
                let values = row
                    .into_iter()
                    .map(|value| match value {
                        pg4::DbValue::Int64(v) => Ok(Value::Int(v)),
                        pg4::DbValue::Int32(v) => Ok(Value::Int(v.into())),
                        pg4::DbValue::Int16(v) => Ok(Value::Int(v.into())),
                        pg4::DbValue::Str(v) => Ok(Value::Text(v)),
                        // `void` results (pg_advisory_xact_lock) arrive as unsupported.
                        pg4::DbValue::DbNull | pg4::DbValue::Unsupported(_) => Ok(Value::Null),
                        other => Err(DbError::Mapping(format!(
                            "unsupported PostgreSQL value {other:?}"
                        ))),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Row(values))
            })
            .collect()
    }
}
