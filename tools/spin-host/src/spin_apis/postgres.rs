//! `spin:postgres`: PostgreSQL servers the component may reach, with pooled sessions.

use super::Trap;
use super::spin::postgres::postgres as pg;
use crate::outbound;
use crate::pools::{PgSession, PooledPg};
use crate::state::State;
use tokio_postgres::types::{ToSql, Type};
use wasmtime::component::Resource;

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
    pub(super) async fn pg_query(
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

    pub(super) async fn pg_execute(
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
                pg::ParameterValue::DbNull => Box::new(PgNull),
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

/// `db-null` binds to a parameter of any type, as in Spin's outbound PostgreSQL (its
/// `PgNull`): a typed `None` would be refused where the column is not of that type.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(tokio_postgres::types::IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}
