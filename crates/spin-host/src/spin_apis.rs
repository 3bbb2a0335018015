//! The Spin interfaces the host provides, generated from `wit/host.wit` and backed by the real
//! things: variables from the manifest, SQLite files under the SQLite directory, and PostgreSQL
//! servers over the network (only those `allowed_outbound_hosts` names).

use crate::outbound;
pub use crate::pools::{PgSession, PooledPg, PooledSqlite};
use crate::state::State;
use rusqlite::types::{Value as SqlValue, ValueRef};
use tokio_postgres::types::{ToSql, Type};
use wasmtime::component::Resource;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "automatizacion:app/spin-host",
    imports: { default: async | trappable },
    with: {
        "spin:sqlite/sqlite.connection": PooledSqlite,
        "spin:postgres/postgres.connection": PooledPg,
    },
});

use fermyon::spin::variables;
use spin::postgres::postgres as pg;
use spin::sqlite::sqlite;

type Trap<T> = wasmtime::Result<T>;

impl variables::Host for State {
    async fn get(&mut self, name: String) -> Trap<Result<String, variables::Error>> {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        Ok(self
            .component
            .variables
            .get(&name)
            .cloned()
            .ok_or(variables::Error::Undefined(name)))
    }
}

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

impl pg::Host for State {}

impl pg::HostConnection for State {
    async fn open(&mut self, address: String) -> Trap<Result<Resource<PooledPg>, pg::Error>> {
        let config: tokio_postgres::Config = match address.parse() {
            Ok(config) => config,
            Err(e) => {
                return Ok(Err(pg::Error::ConnectionFailed(format!(
                    "invalid address: {e}"
                ))));
            }
        };
        let host = match config.get_hosts() {
            [tokio_postgres::config::Host::Tcp(host)] => host.clone(),
            _ => {
                return Ok(Err(pg::Error::ConnectionFailed(
                    "expected exactly one TCP host".into(),
                )));
            }
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        if !outbound::is_allowed(
            &self.component.allowed_outbound_hosts,
            "postgres",
            &host,
            Some(port),
        ) {
            // The guest sees Spin's own words; the host's log says which rule refused it.
            eprintln!(
                "spin-host: component `{}` may not reach postgres://{host}:{port}: not in allowed_outbound_hosts",
                self.component.id
            );
            return Ok(Err(pg::Error::ConnectionFailed(format!(
                "address postgres://{host}:{port} is not permitted"
            ))));
        }
        let pool = self.services.pg.clone();
        let session = match pool.take(&address) {
            Some(session) => session,
            None => match config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    PgSession::new(client)
                }
                Err(e) => return Ok(Err(pg::Error::ConnectionFailed(e.to_string()))),
            },
        };
        Ok(Ok(self
            .table
            .push(PooledPg::new(session, address, pool))?))
    }

    async fn query(
        &mut self,
        conn: Resource<PooledPg>,
        statement: String,
        params: Vec<pg::ParameterValue>,
    ) -> Trap<Result<pg::RowSet, pg::Error>> {
        let span = self.db_span("postgresql", &statement);
        let result = self.pg_query(conn, statement, params).await;
        self.end_span(span, !matches!(result, Ok(Ok(_))));
        result
    }

    async fn execute(
        &mut self,
        conn: Resource<PooledPg>,
        statement: String,
        params: Vec<pg::ParameterValue>,
    ) -> Trap<Result<u64, pg::Error>> {
        let span = self.db_span("postgresql", &statement);
        let result = self.pg_execute(conn, statement, params).await;
        self.end_span(span, !matches!(result, Ok(Ok(_))));
        result
    }

    async fn drop(&mut self, conn: Resource<PooledPg>) -> Trap<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

/// The statements themselves; the trait methods above wrap each in a span.
impl State {
    async fn pg_query(
        &mut self,
        conn: Resource<PooledPg>,
        statement: String,
        params: Vec<pg::ParameterValue>,
    ) -> Trap<Result<pg::RowSet, pg::Error>> {
        let conn = self.table.get_mut(&conn)?;
        let params = pg_params(params)?;
        let refs = as_refs(&params);
        let prepared = match conn.prepare(&statement).await {
            Ok(prepared) => prepared,
            Err(e) => return Ok(Err(pg_error(e))),
        };
        let rows = match conn.client().query(&prepared, &refs).await {
            Ok(rows) => rows,
            Err(e) => return Ok(Err(pg_error(e))),
        };
        conn.ran(&statement);
        let columns = prepared
            .columns()
            .iter()
            .map(|c| pg::Column {
                name: c.name().into(),
                data_type: pg_type(c.type_()),
            })
            .collect();
        let rows = rows
            .iter()
            .map(|row| (0..row.len()).map(|i| pg_value(row, i)).collect())
            .collect();
        Ok(Ok(pg::RowSet { columns, rows }))
    }

    async fn pg_execute(
        &mut self,
        conn: Resource<PooledPg>,
        statement: String,
        params: Vec<pg::ParameterValue>,
    ) -> Trap<Result<u64, pg::Error>> {
        let conn = self.table.get_mut(&conn)?;
        let params = pg_params(params)?;
        let refs = as_refs(&params);
        let prepared = match conn.prepare(&statement).await {
            Ok(prepared) => prepared,
            Err(e) => return Ok(Err(pg_error(e))),
        };
        let result = conn
            .client()
            .execute(&prepared, &refs)
            .await
            .map_err(pg_error);
        if result.is_ok() {
            conn.ran(&statement);
        }
        Ok(result)
    }

    /// A span for one database statement, named by its first word (`SELECT sqlite`).
    fn db_span(&self, system: &'static str, statement: &str) -> Option<crate::traces::Span> {
        let verb = statement
            .split_whitespace()
            .next()
            .unwrap_or("SQL")
            .to_ascii_uppercase();
        let mut span = self.child_span(format!("{verb} {system}"), crate::traces::CLIENT)?;
        span.attribute("db.system.name", system);
        span.attribute("db.query.text", statement);
        Some(span)
    }
}

fn pg_params(params: Vec<pg::ParameterValue>) -> Trap<Vec<Box<dyn ToSql + Sync + Send>>> {
    params
        .into_iter()
        .map(|p| -> Trap<Box<dyn ToSql + Sync + Send>> {
            Ok(match p {
                pg::ParameterValue::Boolean(v) => Box::new(v),
                pg::ParameterValue::Int8(v) => Box::new(v),
                pg::ParameterValue::Int16(v) => Box::new(v),
                pg::ParameterValue::Int32(v) => Box::new(v),
                pg::ParameterValue::Int64(v) => Box::new(v),
                pg::ParameterValue::Floating32(v) => Box::new(v),
                pg::ParameterValue::Floating64(v) => Box::new(v),
                pg::ParameterValue::Str(v) => Box::new(v),
                pg::ParameterValue::Binary(v) => Box::new(v),
                pg::ParameterValue::DbNull => Box::new(Option::<String>::None),
                other => wasmtime::bail!(
                    "spin-host does not support PostgreSQL parameters like {other:?}"
                ),
            })
        })
        .collect()
}

fn as_refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn pg_type(ty: &Type) -> pg::DbDataType {
    match *ty {
        Type::BOOL => pg::DbDataType::Boolean,
        Type::CHAR => pg::DbDataType::Int8,
        Type::INT2 => pg::DbDataType::Int16,
        Type::INT4 => pg::DbDataType::Int32,
        Type::INT8 => pg::DbDataType::Int64,
        Type::FLOAT4 => pg::DbDataType::Floating32,
        Type::FLOAT8 => pg::DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => pg::DbDataType::Str,
        Type::BYTEA => pg::DbDataType::Binary,
        _ => pg::DbDataType::Other(ty.name().to_owned()),
    }
}

fn pg_value(row: &tokio_postgres::Row, i: usize) -> pg::DbValue {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        i: usize,
        wrap: impl Fn(T) -> pg::DbValue,
    ) -> pg::DbValue {
        match row.try_get::<_, Option<T>>(i) {
            Ok(Some(v)) => wrap(v),
            Ok(None) => pg::DbValue::DbNull,
            Err(_) => pg::DbValue::Unsupported(Vec::new()),
        }
    }
    match *row.columns()[i].type_() {
        Type::BOOL => get(row, i, pg::DbValue::Boolean),
        Type::CHAR => get(row, i, pg::DbValue::Int8),
        Type::INT2 => get(row, i, pg::DbValue::Int16),
        Type::INT4 => get(row, i, pg::DbValue::Int32),
        Type::INT8 => get(row, i, pg::DbValue::Int64),
        Type::FLOAT4 => get(row, i, pg::DbValue::Floating32),
        Type::FLOAT8 => get(row, i, pg::DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get(row, i, pg::DbValue::Str),
        Type::BYTEA => get(row, i, pg::DbValue::Binary),
        _ => pg::DbValue::Unsupported(Vec::new()),
    }
}

fn pg_error(e: tokio_postgres::Error) -> pg::Error {
    match e.as_db_error() {
        Some(db) => pg::Error::QueryFailed(pg::QueryError::DbError(pg::DbError {
            as_text: db.to_string(),
            severity: db.severity().to_owned(),
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            extras: Vec::new(),
        })),
        None if e.is_closed() => pg::Error::ConnectionFailed(e.to_string()),
        None => pg::Error::QueryFailed(pg::QueryError::Text(e.to_string())),
    }
}
