//! `spin:sqlite`: Spin's `default` database, from the host's connection pool.

use super::Trap;
use super::spin::sqlite::sqlite;
use crate::pools::PooledSqlite;
use crate::state::State;
use rusqlite::types::{Value as SqlValue, ValueRef};
use wasmtime::component::Resource;

impl sqlite::Host for State {}

impl sqlite::HostConnection for State {
    async fn open(
        &mut self,
        database: String,
    ) -> Trap<Result<Resource<PooledSqlite>, sqlite::Error>> {
        if !self.component.sqlite_databases.contains(&database) {
            return Ok(Err(sqlite::Error::AccessDenied));
        }
        if database != "default" {
            return Ok(Err(sqlite::Error::NoSuchDatabase));
        }
        let pool = self.services.sqlite.clone();
        match tokio::task::block_in_place(|| pool.take()) {
            Ok(conn) => Ok(Ok(self.table.push(conn)?)),
            Err(e) => Ok(Err(sqlite::Error::Io(e.to_string()))),
        }
    }

    async fn execute(
        &mut self,
        conn: Resource<PooledSqlite>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Trap<Result<sqlite::QueryResult, sqlite::Error>> {
        let span = self.db_span("sqlite", &statement);
        let conn = self.table.get_mut(&conn)?;
        conn.before(&statement).await;
        let result =
            tokio::task::block_in_place(|| sqlite_execute(conn.conn(), &statement, parameters));
        conn.after();
        self.end_span(span, result.is_err());
        Ok(result.map_err(|e| sqlite::Error::Io(e.to_string())))
    }

    async fn last_insert_rowid(&mut self, conn: Resource<PooledSqlite>) -> Trap<i64> {
        Ok(self.table.get(&conn)?.conn().last_insert_rowid())
    }

    async fn changes(&mut self, conn: Resource<PooledSqlite>) -> Trap<u64> {
        Ok(self.table.get(&conn)?.conn().changes())
    }

    async fn drop(&mut self, conn: Resource<PooledSqlite>) -> Trap<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

fn sqlite_execute(
    conn: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<sqlite::Value>,
) -> rusqlite::Result<sqlite::QueryResult> {
    let mut prepared = conn.prepare_cached(statement)?;
    let columns: Vec<String> = prepared
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let params = parameters.into_iter().map(|value| match value {
        sqlite::Value::Integer(v) => SqlValue::Integer(v),
        sqlite::Value::Real(v) => SqlValue::Real(v),
        sqlite::Value::Text(v) => SqlValue::Text(v),
        sqlite::Value::Blob(v) => SqlValue::Blob(v),
        sqlite::Value::Null => SqlValue::Null,
    });
    let mut rows = prepared.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    ValueRef::Null => sqlite::Value::Null,
                    ValueRef::Integer(v) => sqlite::Value::Integer(v),
                    ValueRef::Real(v) => sqlite::Value::Real(v),
                    ValueRef::Text(v) => {
                        sqlite::Value::Text(String::from_utf8_lossy(v).into_owned())
                    }
                    ValueRef::Blob(v) => sqlite::Value::Blob(v.to_vec()),
                })
            })
            .collect::<rusqlite::Result<_>>()?;
        out.push(sqlite::RowResult { values });
    }
    Ok(sqlite::QueryResult { columns, rows: out })
}
