//! The Spin edge: the only code that touches Spin. It lends the router Spin's variables and
//! databases and a body reader (called only by routes that take a body, after authentication),
//! and writes the response and one access-log line to stdout.

use crate::http::{ApiRequest, BODY_DEADLINE_MS, Body, Host, MAX_BODY_BYTES};
use ledger::{DbError, Dialect, Executor, Row, Timestamp, Value};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::{http_component, pg4, sqlite3, variables};
use std::cell::RefCell;
use wasi::clocks::monotonic_clock;
use wasi::io::poll;
use wasi::io::streams::StreamError;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let request = ApiRequest {
        head: spin_edge::incoming_head(&req),
        body: Body::Unread,
    };
    let declared = request
        .header_value("content-length")
        .map(|n| n.trim().parse::<u64>());
    let incoming = RefCell::new(Some(req));
    let read_body = || match incoming.borrow_mut().take() {
        Some(req) => read_body(req, declared.clone()),
        None => Body::Broken("the body was already read".into()),
    };

    let host = Host {
        variable: &|name| variables::get(name).ok(),
        open_db: &open_db,
        now: Timestamp::now(),
        fresh_request_id: spin_edge::fresh_hex(16),
        fresh_trace_id: spin_edge::fresh_hex(16),
        read_body: &read_body,
    };
    let (response, log) = crate::router::handle(&request, &host);
    spin_edge::send(out, response.status, &response.headers, &response.body);
    // After the answer has gone: writing the line never delays the client.
    println!("{}", log.to_line());
}

/// Reads the body within [`BODY_DEADLINE_MS`] and up to [`MAX_BODY_BYTES`], and checks it
/// against the declared `Content-Length`: a body that ends early, breaks off or stalls is
/// [`Body::Broken`], so it is never taken for a complete one.
fn read_body(req: IncomingRequest, declared: Option<Result<u64, std::num::ParseIntError>>) -> Body {
    let declared = match declared {
        None => None,
        Some(Ok(n)) if n > MAX_BODY_BYTES as u64 => return Body::TooLarge,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Body::Broken("its Content-Length is not a number".into()),
    };
    let Ok(body) = req.consume() else {
        return Body::Broken("the body cannot be read".into());
    };
    let Ok(stream) = body.stream() else {
        return Body::Broken("the body cannot be read".into());
    };
    let deadline = monotonic_clock::now().saturating_add(BODY_DEADLINE_MS * 1_000_000);
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = stream.subscribe();
    let mut bytes = Vec::new();
    // `Ok` once the stream ended by itself; `Err` with the answer when reading had to stop.
    let ended: Result<(), Body> = loop {
        if !poll::poll(&[&ready, &timer]).contains(&0) {
            break Err(Body::Broken(format!(
                "it did not arrive within {BODY_DEADLINE_MS} ms"
            )));
        }
        match stream.read(64 * 1024) {
            Ok(chunk) if bytes.len() + chunk.len() > MAX_BODY_BYTES => break Err(Body::TooLarge),
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break Ok(()),
            Err(StreamError::LastOperationFailed(_)) => {
                break Err(Body::Broken(
                    "the connection ended before the whole body arrived".into(),
                ));
            }
        }
    };
    // WASI child resources go before their parents: the pollable, the stream, then the body.
    drop(ready);
    drop(stream);
    drop(body);
    match (ended, declared) {
        (Err(refused), _) => refused,
        (Ok(()), Some(n)) if n != bytes.len() as u64 => Body::Broken(format!(
            "{} of the {n} bytes its Content-Length declared arrived",
            bytes.len()
        )),
        (Ok(()), _) => Body::Complete(bytes),
    }
}

fn open_db<'a>(db_url: Option<&str>) -> Result<Box<dyn Executor + 'a>, DbError> {
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
struct SpinSqlite(sqlite3::Connection);

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

impl Executor for SpinSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.run(sql, params)?;
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
struct SpinPostgres(pg4::Connection);

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
