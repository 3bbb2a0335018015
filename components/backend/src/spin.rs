//! The Spin edge: the only code that touches Spin. It lends the router Spin's variables and
//! databases and a body reader (called only by routes that take a body, after authentication),
//! and writes the response and one access-log line to stdout.

use crate::host::{Host, KeyValue};
use crate::http::{ApiRequest, BODY_DEADLINE_MS, Body, MAX_BODY_BYTES};
use ledger::Timestamp;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::{http_component, key_value, variables};
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
        open_db: &spin_db::open,
        open_key_value: &open_key_value,
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

/// Spin's `default` key-value store: one connection for the life of the process in Spin.
fn open_key_value<'a>() -> Result<Box<dyn KeyValue + 'a>, String> {
    key_value::Store::open_default()
        .map(|store| Box::new(SpinKeyValue(store)) as Box<dyn KeyValue>)
        .map_err(|e| format!("key-value: {e:?}"))
}

struct SpinKeyValue(key_value::Store);

impl KeyValue for SpinKeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(key).map_err(|e| format!("key-value: {e:?}"))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0
            .set(key, value)
            .map_err(|e| format!("key-value: {e:?}"))
    }
}
