//! Native implementations of [`ledger::Executor`]: SQLite through `rusqlite` and PostgreSQL
//! through the synchronous `postgres` client. They let the ledger's SQL, and the API above it,
//! run under `cargo test` exactly as they run inside the component on Spin's databases.

use ledger::{DbError, Dialect, Executor, Row, Value};
use std::sync::Mutex;

/// A SQLite database file (or `:memory:`) opened like Spin opens its `default` database.
pub struct SqliteExecutor {
    conn: rusqlite::Connection,
    /// SQLite's virtual-machine steps over every statement run so far: a cost that depends on
    /// the data and the plan only, never on the machine, so tests can bound how it grows.
    vm_steps: std::cell::Cell<u64>,
}

impl SqliteExecutor {
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, DbError> {
        let conn =
            rusqlite::Connection::open(path).map_err(|e| DbError::Unavailable(e.to_string()))?;
        // Concurrent writers wait for each other instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        Ok(Self {
            conn,
            vm_steps: std::cell::Cell::new(0),
        })
    }

    /// SQLite's virtual-machine steps over every statement this connection ran.
    pub fn vm_steps(&self) -> u64 {
        self.vm_steps.get()
    }

    fn count_steps(&self, statement: &rusqlite::Statement<'_>) {
        let steps = statement.get_status(rusqlite::StatementStatus::VmStep);
        self.vm_steps
            .set(self.vm_steps.get() + u64::try_from(steps).unwrap_or(0));
    }

    pub fn in_memory() -> Result<Self, DbError> {
        Self::open(":memory:")
    }
}

fn to_sql(value: &Value) -> rusqlite::types::Value {
    match value {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(v) => rusqlite::types::Value::Integer(*v),
        Value::Text(v) => rusqlite::types::Value::Text(v.clone()),
    }
}

fn from_sql(value: rusqlite::types::ValueRef<'_>) -> Result<Value, DbError> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Ok(Value::Null),
        ValueRef::Integer(v) => Ok(Value::Int(v)),
        ValueRef::Text(v) => String::from_utf8(v.to_vec())
            .map(Value::Text)
            .map_err(|e| DbError::Mapping(e.to_string())),
        other => Err(DbError::Mapping(format!(
            "unsupported SQLite value {other:?}"
        ))),
    }
}

impl Executor for SqliteExecutor {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let query_error = |e: rusqlite::Error| DbError::Query(e.to_string());
        let params = rusqlite::params_from_iter(params.iter().map(to_sql));
        let mut statement = self.conn.prepare(sql).map_err(query_error)?;
        let changed = statement.execute(params).map_err(query_error)?;
        self.count_steps(&statement);
        Ok(changed as u64)
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let query_error = |e: rusqlite::Error| DbError::Query(e.to_string());
        let mut statement = self.conn.prepare(sql).map_err(query_error)?;
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map_err(query_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query_error)? {
            let values = (0..columns)
                .map(|i| from_sql(row.get_ref(i).map_err(query_error)?))
                .collect::<Result<_, _>>()?;
            out.push(Row(values));
        }
        drop(rows);
        self.count_steps(&statement);
        Ok(out)
    }
}

/// A PostgreSQL connection. The client needs `&mut` for every call, hence the mutex.
pub struct PostgresExecutor {
    client: Mutex<postgres::Client>,
}

impl PostgresExecutor {
    pub fn connect(url: &str) -> Result<Self, DbError> {
        let client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        Ok(Self {
            client: Mutex::new(client),
        })
    }
}

/// SQL NULL for a parameter of any type, as Spin's PostgreSQL interface sends `db-null`
/// (a typed `None` would be refused where the column is not of that type).
#[derive(Debug)]
struct AnyNull;

impl postgres::types::ToSql for AnyNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(postgres::types::IsNull::Yes)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_params(params: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|value| -> Box<dyn postgres::types::ToSql + Sync> {
            match value {
                Value::Null => Box::new(AnyNull),
                Value::Int(v) => Box::new(*v),
                Value::Text(v) => Box::new(v.clone()),
            }
        })
        .collect()
}

fn pg_error(e: postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(db) => DbError::Query(format!("{}: {}", db.code().code(), db.message())),
        None => DbError::Query(e.to_string()),
    }
}

type PgParam<'a> = &'a (dyn postgres::types::ToSql + Sync);

impl PostgresExecutor {
    /// Runs `call` on the locked client with `params` converted for it.
    fn run<T>(
        &self,
        params: &[Value],
        call: impl FnOnce(&mut postgres::Client, &[PgParam<'_>]) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let boxed = pg_params(params);
        let refs: Vec<PgParam<'_>> = boxed.iter().map(|b| b.as_ref()).collect();
        let mut client = self
            .client
            .lock()
            .map_err(|_| DbError::Unavailable("poisoned".into()))?;
        call(&mut client, &refs).map_err(pg_error)
    }
}

impl Executor for PostgresExecutor {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.run(params, |client, refs| client.execute(sql, refs))
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        use postgres::types::Type;
        let rows = self.run(params, |client, refs| client.query(sql, refs))?;
        rows.iter()
            .map(|row| {
                let values = row
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, column)| {
                        let ty = column.type_();
                        let mapped = if *ty == Type::INT8 {
                            row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int))
                        } else if *ty == Type::INT4 {
                            row.try_get::<_, Option<i32>>(i)
                                .map(|v| v.map(|v| Value::Int(v.into())))
                        } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                            row.try_get::<_, Option<String>>(i)
                                .map(|v| v.map(Value::Text))
                        } else if *ty == Type::VOID {
                            Ok(None)
                        } else {
                            return Err(DbError::Mapping(format!("unsupported column type {ty}")));
                        };
                        Ok(mapped.map_err(pg_error)?.unwrap_or(Value::Null))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Row(values))
            })
            .collect()
    }
}

/// Fresh, isolated databases for tests: a new SQLite file, or a new PostgreSQL database on the
/// server named by `LEDGER_TEST_PG_URL` (which `make test` starts on loopback).
pub mod testing {
    use super::{PostgresExecutor, SqliteExecutor};
    use ledger::{DbError, Dialect, Executor, Row, Value};

    /// Counts the statements an executor runs: under Spin each one is a host call on a
    /// connection opened for the request, the dearest part of a read.
    pub struct Counting<'a>(pub Box<dyn Executor + 'a>, pub &'a std::cell::Cell<usize>);

    impl Executor for Counting<'_> {
        fn dialect(&self) -> Dialect {
            self.0.dialect()
        }

        fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
            self.1.set(self.1.get() + 1);
            self.0.execute(sql, params)
        }

        fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
            self.1.set(self.1.get() + 1);
            self.0.query(sql, params)
        }
    }
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    fn unique_name(prefix: &str) -> String {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{prefix}_{}_{n}_{nanos}", std::process::id())
    }

    /// Where a test's database lives; every `connect` opens a new connection to it.
    pub enum TestDb {
        Sqlite(std::path::PathBuf),
        Postgres(String),
    }

    impl TestDb {
        pub fn sqlite() -> Self {
            let dir = std::env::temp_dir().join("automatizacion-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            TestDb::Sqlite(dir.join(format!("{}.db", unique_name("ledger"))))
        }

        /// # Panics
        /// When `LEDGER_TEST_PG_URL` is unset or the server refuses: the PostgreSQL half of the
        /// suite must run, never be skipped. `make test` provides the server.
        pub fn postgres() -> Self {
            let admin_url = std::env::var("LEDGER_TEST_PG_URL").expect(
                "LEDGER_TEST_PG_URL is not set: run the suite with `make test`, which starts PostgreSQL",
            );
            let name = unique_name("ledger");
            let admin =
                PostgresExecutor::connect(&admin_url).expect("connect to LEDGER_TEST_PG_URL");
            admin
                .execute(&format!("CREATE DATABASE {name}"), &[])
                .expect("create test database");
            let (base, _) = admin_url
                .rsplit_once('/')
                .expect("LEDGER_TEST_PG_URL ends in /dbname");
            TestDb::Postgres(format!("{base}/{name}"))
        }

        pub fn connect(&self) -> Box<dyn Executor + Send> {
            match self {
                TestDb::Sqlite(path) => Box::new(SqliteExecutor::open(path).expect("open sqlite")),
                TestDb::Postgres(url) => {
                    Box::new(PostgresExecutor::connect(url).expect("connect postgres"))
                }
            }
        }

        /// The `db_url` Spin variable that selects this database (empty for SQLite).
        pub fn db_url(&self) -> Option<&str> {
            match self {
                TestDb::Sqlite(_) => None,
                TestDb::Postgres(url) => Some(url),
            }
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let TestDb::Sqlite(path) = self {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
        }
    }
}
