//! The Spin edge: the only code that touches Spin. It reads the request line and headers (the
//! console takes no bodies), lends the router Spin's variables and an outgoing-HTTP transport,
//! and writes the page and one log line to stdout.

use crate::backend::{Fetched, Outgoing, Transport};
use crate::http::Host;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::{http_component, variables};
use std::time::Duration;
use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasi::io::poll::{self, Pollable};
use wasi::io::streams::StreamError;

/// Answers larger than this are not the backend's JSON; the page gives up on them.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let request = spin_edge::incoming_head(&req);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let host = Host {
        variable: &|name| variables::get(name).ok(),
        transport: &WasiTransport,
        now: i64::try_from(now.as_millis()).unwrap_or(i64::MAX),
        request_id: spin_edge::fresh_hex(16),
        // The console's own span (8 random bytes) is the parent of its backend calls.
        trace: spin_edge::continue_or_start(
            request.header_value("traceparent"),
            spin_edge::fresh_hex(16),
            spin_edge::fresh_hex(8),
        ),
    };
    let (response, log) = crate::router::handle(&request, &host);
    spin_edge::send(out, response.status, &response.headers, &response.body);
    // After the answer has gone: writing the line never delays the browser.
    println!("{}", log.to_line());
}

/// `wasi:http/outgoing-handler`, through which Spin chains to `backend.spin.internal` or
/// reaches the URL in `backend_url`. Every request is started before any is awaited, and one
/// monotonic-clock deadline bounds them all, whatever timeouts the host honours.
struct WasiTransport;

impl Transport for WasiTransport {
    fn get_all(&self, requests: &[Outgoing], timeout: Duration) -> Vec<Fetched> {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let deadline = monotonic_clock::now().saturating_add(nanos);
        let started: Vec<Result<FutureIncomingResponse, Fetched>> =
            requests.iter().map(|r| start(r, nanos)).collect();
        let timer = monotonic_clock::subscribe_instant(deadline);
        started
            .into_iter()
            .map(|s| s.map_or_else(|fetched| fetched, |future| finish(&future, &timer)))
            .collect()
    }
}

fn start(outgoing: &Outgoing, timeout_nanos: u64) -> Result<FutureIncomingResponse, Fetched> {
    let unreachable = |why: &str| Fetched::Unreachable(format!("{}: {why}", outgoing.url));
    let (scheme, rest) = outgoing
        .url
        .split_once("://")
        .ok_or_else(|| unreachable("not an absolute URL"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let headers: Vec<(String, Vec<u8>)> = outgoing
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&headers).map_err(|e| unreachable(&format!("{e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let scheme = if scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let set = request.set_method(&Method::Get).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(unreachable("not a valid request target"));
    }
    let body = request
        .body()
        .map_err(|()| unreachable("no request body"))?;
    // Hosts that support them stop waiting at the same deadline; those that don't are
    // covered by the deadline in `finish`.
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(timeout_nanos));
    let _ = options.set_first_byte_timeout(Some(timeout_nanos));
    let _ = options.set_between_bytes_timeout(Some(timeout_nanos));
    let future =
        outgoing_handler::handle(request, Some(options)).map_err(|e| failure(e, &outgoing.url))?;
    OutgoingBody::finish(body, None).map_err(|e| failure(e, &outgoing.url))?;
    Ok(future)
}

/// Waits for one answer and its whole body, or for the deadline.
fn finish(future: &FutureIncomingResponse, deadline: &Pollable) -> Fetched {
    let ready = future.subscribe();
    let response = loop {
        if let Some(result) = future.get() {
            break result;
        }
        if deadline.ready() {
            return Fetched::TimedOut;
        }
        poll::poll(&[&ready, deadline]);
    };
    let response = match response {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return failure(e, "the backend"),
        Err(()) => return Fetched::Unreachable("the answer was already taken".into()),
    };
    let status = response.status();
    let Ok(body) = response.consume() else {
        return Fetched::Unreachable("the answer had no body".into());
    };
    let Ok(stream) = body.stream() else {
        return Fetched::Unreachable("the answer's body could not be read".into());
    };
    let readable = stream.subscribe();
    let mut bytes = Vec::new();
    loop {
        match stream.read(64 * 1024) {
            Ok(chunk) if chunk.is_empty() => {
                if deadline.ready() {
                    return Fetched::TimedOut;
                }
                poll::poll(&[&readable, deadline]);
            }
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_ANSWER_BYTES {
                    return Fetched::Unreachable("the answer is too large".into());
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Fetched::Unreachable(format!(
                    "reading the answer: {}",
                    e.to_debug_string()
                ));
            }
        }
    }
    Fetched::Reply {
        status,
        body: bytes,
    }
}

fn failure(error: ErrorCode, target: &str) -> Fetched {
    match error {
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout => Fetched::TimedOut,
        ErrorCode::HttpRequestDenied => {
            Fetched::Unreachable(format!("{target}: not allowed by allowed_outbound_hosts"))
        }
        other => Fetched::Unreachable(format!("{target}: {other:?}")),
    }
}
