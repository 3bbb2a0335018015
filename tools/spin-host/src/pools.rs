//! Database connections outlive the instances that open them: a request's instance returns
//! its connection here when it drops it, and the next request reuses it. This saves opening a
//! SQLite file or a PostgreSQL session (a server process) on every request.
//!
//! SQLite allows one writer at a time. Instead of letting concurrent writers spin in SQLite's
//! busy handler (which sleeps in growing steps and wrecks tail latency), a write transaction
//! (`BEGIN IMMEDIATE` or `BEGIN EXCLUSIVE`) first takes this host's writer lock, which queues
//! writers fairly. The busy timeout still covers other processes using the same file.
//!
//! The key-value store is simpler, as in Spin 3.6: one connection for the life of the process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

/// Idle connections kept per database.
const MAX_IDLE: usize = 32;

pub struct SqlitePool {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl SqlitePool {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            writer: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn take(self: &Arc<Self>) -> rusqlite::Result<PooledSqlite> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = rusqlite::Connection::open(&self.path)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                // Durable across a crash of this process: WAL frames reach the OS at each commit.
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn
            }
        };
        Ok(PooledSqlite {
            conn: Some(conn),
            pool: self.clone(),
            writing: None,
        })
    }
}

/// A connection on loan to one instance.
pub struct PooledSqlite {
    conn: Option<rusqlite::Connection>,
    pool: Arc<SqlitePool>,
    writing: Option<OwnedMutexGuard<()>>,
}

fn first_words(statement: &str) -> String {
    statement
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

impl PooledSqlite {
    pub fn conn(&self) -> &rusqlite::Connection {
        self.conn.as_ref().expect("present until dropped")
    }

    /// Call before running `statement`: a write transaction waits for the writer lock.
    pub async fn before(&mut self, statement: &str) {
        let words = first_words(statement);
        let starts_write =
            words.starts_with("BEGIN IMMEDIATE") || words.starts_with("BEGIN EXCLUSIVE");
        if starts_write && self.writing.is_none() {
            self.writing = Some(self.pool.writer.clone().lock_owned().await);
        }
    }

    /// Call after running a statement: once no transaction is open, the lock is released.
    pub fn after(&mut self) {
        if self.conn().is_autocommit() {
            self.writing = None;
        }
    }
}

impl Drop for PooledSqlite {
    fn drop(&mut self) {
        self.writing = None;
        if let Some(conn) = self.conn.take() {
            // A connection left inside a transaction is closed, which rolls the transaction back.
            if conn.is_autocommit() {
                let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
    }
}

/// A PostgreSQL session and the statements prepared on it. Preparing costs a round trip, so
/// a session that is reused keeps its prepared statements.
pub struct PgSession {
    client: tokio_postgres::Client,
    statements: HashMap<String, tokio_postgres::Statement>,
}

impl PgSession {
    pub fn new(client: tokio_postgres::Client) -> Self {
        Self {
            client,
            statements: HashMap::new(),
        }
    }
}

/// Idle PostgreSQL sessions, by the address they were opened with.
#[derive(Default)]
pub struct PgPool {
    idle: Mutex<HashMap<String, Vec<PgSession>>>,
}

impl PgPool {
    pub fn take(&self, address: &str) -> Option<PgSession> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = idle.get_mut(address)?;
        while let Some(session) = sessions.pop() {
            if !session.client.is_closed() {
                return Some(session);
            }
        }
        None
    }

    fn give(&self, address: String, session: PgSession) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = idle.entry(address).or_default();
        if sessions.len() < MAX_IDLE && !session.client.is_closed() {
            sessions.push(session);
        }
    }
}

/// A PostgreSQL session on loan to one instance. It tracks whether the guest left a
/// transaction open; such a session is closed (the server rolls back) instead of reused.
pub struct PooledPg {
    session: Option<PgSession>,
    address: String,
    pool: Arc<PgPool>,
    in_transaction: bool,
}

impl PooledPg {
    pub fn new(session: PgSession, address: String, pool: Arc<PgPool>) -> Self {
        Self {
            session: Some(session),
            address,
            pool,
            in_transaction: false,
        }
    }

    fn session(&mut self) -> &mut PgSession {
        self.session.as_mut().expect("present until dropped")
    }

    /// The prepared form of `sql`, prepared on first use on this session.
    pub async fn prepare(
        &mut self,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        let session = self.session();
        if let Some(statement) = session.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = session.client.prepare(sql).await?;
        session.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub fn client(&mut self) -> &tokio_postgres::Client {
        &self.session().client
    }

    /// Call after a statement ran successfully.
    pub fn ran(&mut self, statement: &str) {
        let words = first_words(statement);
        if words.starts_with("BEGIN") || words.starts_with("START TRANSACTION") {
            self.in_transaction = true;
        } else if ["COMMIT", "ROLLBACK", "END", "ABORT"]
            .iter()
            .any(|w| words.starts_with(w))
        {
            self.in_transaction = false;
        }
    }
}

impl Drop for PooledPg {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && !self.in_transaction
        {
            self.pool.give(std::mem::take(&mut self.address), session);
        }
    }
}

/// The process's one connection to the key-value file, opened on first use.
pub struct KeyValueFile {
    path: PathBuf,
    conn: Mutex<Option<rusqlite::Connection>>,
}

impl KeyValueFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            conn: Mutex::new(None),
        }
    }

    /// Runs WORK on the connection, opening it (and its table) the first time.
    pub fn with<T>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if conn.is_none() {
            let opened = rusqlite::Connection::open(&self.path)?;
            opened.execute_batch(
                "CREATE TABLE IF NOT EXISTS spin_key_value (
                       store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                       PRIMARY KEY (store, key))",
            )?;
            *conn = Some(opened);
        }
        work(conn.as_ref().expect("opened above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_connections_come_back_only_outside_transactions() {
        let dir = std::env::temp_dir().join(format!("spin-host-pool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = Arc::new(SqlitePool::new(dir.join("pool.db")));
        let conn = pool.take().unwrap();
        conn.conn()
            .execute_batch("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            .unwrap();
        drop(conn);
        assert_eq!(pool.idle.lock().unwrap().len(), 1);
        let conn = pool.take().unwrap();
        assert_eq!(pool.idle.lock().unwrap().len(), 0);
        conn.conn()
            .execute_batch("BEGIN; INSERT INTO t VALUES (1)")
            .unwrap();
        drop(conn);
        assert_eq!(
            pool.idle.lock().unwrap().len(),
            0,
            "a connection inside a transaction is not reused"
        );
        let count: i64 = pool
            .take()
            .unwrap()
            .conn()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0, "the abandoned transaction was rolled back");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_transactions_queue_on_the_writer_lock() {
        let dir = std::env::temp_dir().join(format!("spin-host-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = Arc::new(SqlitePool::new(dir.join("lock.db")));
        let mut first = pool.take().unwrap();
        first.before("begin immediate").await;
        first.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
        first.after();
        let mut second = pool.take().unwrap();
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            second.before("BEGIN IMMEDIATE"),
        )
        .await;
        assert!(waiting.is_err(), "the second writer must wait");
        first.conn().execute_batch("COMMIT").unwrap();
        first.after();
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            second.before("BEGIN IMMEDIATE"),
        )
        .await
        .unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn transaction_words_are_recognised() {
        assert_eq!(first_words("  begin\n immediate "), "BEGIN IMMEDIATE");
        assert_eq!(first_words("COMMIT"), "COMMIT");
    }
}
