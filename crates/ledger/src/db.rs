//! The one interface between the ledger and a SQL database.
//!
//! Hosts implement [`Executor`] over what they have: Spin's SQLite and PostgreSQL interfaces in
//! the component, `rusqlite` and `postgres` in native tests. Everything above it (statements,
//! row mapping, transactions, migrations) is shared, so the SQL that runs in production is the
//! SQL the tests run.

use std::fmt;

/// The SQL dialects the ledger speaks. Statements are written once with `$1`-style parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Rewrites `$N` parameters to SQLite's `?N`. PostgreSQL takes statements as written.
    pub fn adapt(self, sql: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Dialect::Postgres => sql.into(),
            Dialect::Sqlite => sql.replace('$', "?").into(),
        }
    }

    /// Starts a write transaction. SQLite takes the write lock up front so that two writers
    /// queue instead of failing when a read lock would need upgrading.
    fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }
}

/// A parameter or column value. The ledger stores only integers, text and NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row, its columns in the order the statement selected them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

impl Row {
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            other => Err(DbError::Mapping(format!(
                "column {i}: expected an integer, got {other:?}"
            ))),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(v.clone()),
            other => Err(DbError::Mapping(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
}

/// A storage failure. Its text is for logs only: it can name tables, hosts or SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// The database could not be reached or opened.
    Unavailable(String),
    /// A statement failed.
    Query(String),
    /// A row did not have the shape the ledger expects.
    Mapping(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            DbError::Query(e) => write!(f, "query failed: {e}"),
            DbError::Mapping(e) => write!(f, "unexpected row: {e}"),
        }
    }
}

impl std::error::Error for DbError {}

/// Runs SQL. Implementations receive statements already adapted to their [`Dialect`].
pub trait Executor {
    fn dialect(&self) -> Dialect;

    /// Runs a statement that returns no rows; returns how many rows it changed.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError>;

    /// Runs a statement and returns its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
}

/// Adds dialect adaptation and transactions to any executor.
pub(crate) struct Sql<'a> {
    exec: &'a dyn Executor,
}

impl<'a> Sql<'a> {
    pub fn new(exec: &'a dyn Executor) -> Self {
        Self { exec }
    }

    pub fn dialect(&self) -> Dialect {
        self.exec.dialect()
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.exec.execute(&self.dialect().adapt(sql), params)
    }

    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        self.exec.query(&self.dialect().adapt(sql), params)
    }

    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Inside a transaction: waits until no other transaction holds KEY, and holds it until
    /// this one ends. SQLite's write transactions already queue behind one another (`BEGIN
    /// IMMEDIATE`); PostgreSQL's run side by side, each reading what the other has not yet
    /// committed, so a rule that reads, decides and writes (drift starts once) takes this first.
    pub fn serialize_on(&self, key: &str) -> Result<(), DbError> {
        if self.dialect() == Dialect::Postgres {
            self.query("SELECT pg_advisory_xact_lock($1)", &[lock_id(key).into()])?;
        }
        Ok(())
    }

    /// Runs `work` in a write transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn transaction<T, E: From<DbError>>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E> {
        self.exec.execute(self.dialect().begin(), &[])?;
        match work(self) {
            Ok(value) => {
                if let Err(e) = self.exec.execute("COMMIT", &[]) {
                    let _ = self.exec.execute("ROLLBACK", &[]);
                    return Err(e.into());
                }
                Ok(value)
            }
            Err(e) => {
                // The transaction's own error is the one worth reporting.
                let _ = self.exec.execute("ROLLBACK", &[]);
                Err(e)
            }
        }
    }
}

/// A PostgreSQL advisory lock id for KEY: FNV-1a, the same on every host and build, so that
/// every instance serializes on the same id.
fn lock_id(key: &str) -> i64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_ids_are_stable_and_differ_by_key() {
        assert_eq!(
            lock_id("observations:prod-east"),
            lock_id("observations:prod-east")
        );
        assert_ne!(
            lock_id("observations:prod-east"),
            lock_id("observations:prod-west")
        );
        // FNV-1a of the empty string is its offset basis: the hash is the published one.
        assert_eq!(lock_id(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
    }

    #[test]
    fn sqlite_parameters_become_numbered_question_marks() {
        let sql = "SELECT a FROM t WHERE b = $2 AND c = $1";
        assert_eq!(
            Dialect::Sqlite.adapt(sql),
            "SELECT a FROM t WHERE b = ?2 AND c = ?1"
        );
        assert_eq!(Dialect::Postgres.adapt(sql), sql);
    }

    #[test]
    fn rows_refuse_the_wrong_type() {
        let row = Row(vec![Value::Int(1), Value::Text("x".into()), Value::Null]);
        assert_eq!(row.int(0), Ok(1));
        assert_eq!(row.text(1).unwrap(), "x");
        assert_eq!(row.opt_text(2), Ok(None));
        assert_eq!(row.opt_int(2), Ok(None));
        assert!(row.int(1).is_err());
        assert!(row.text(0).is_err());
        assert!(row.int(7).is_err());
    }
}
