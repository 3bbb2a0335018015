//! The HTTP front: routes each request to its component as Spin does, logs it, and drains
//! open connections on shutdown.

use crate::json_text::json_string;
use crate::metrics::Metrics;
use crate::runtime::{Busy, Runtime};
use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's line and headers. Slow senders hold a
/// connection, never an instance slot; past this they are disconnected.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `shutdown` resolves, then stops accepting and drains open connections.
pub async fn serve(
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let local = listener.local_addr()?;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        eprintln!("spin-host: accept failed: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let runtime = runtime.clone();
                let metrics = metrics.clone();
                let service = hyper::service::service_fn(move |req| {
                    handle(runtime.clone(), metrics.clone(), local, peer, req)
                });
                let connection = http1::Builder::new()
                    .keep_alive(true)
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    eprintln!("spin-host: shutting down");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => eprintln!("spin-host: gave up waiting for open connections"),
    }
    Ok(())
}

/// Serves the host's request metrics at `/metrics` on the admin address, until the process ends.
pub async fn serve_admin(metrics: Arc<Metrics>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let metrics = metrics.clone();
            async move {
                let (status, body) = if req.uri().path() == "/metrics" {
                    (hyper::StatusCode::OK, metrics.render())
                } else {
                    (hyper::StatusCode::NOT_FOUND, String::new())
                };
                let mut response = Response::new(Full::new(Bytes::from(body)));
                *response.status_mut() = status;
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(
                        "text/plain; version=0.0.4; charset=utf-8",
                    ),
                );
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The host's own answers (no route, a failed component) are bare statuses with an empty body,
/// as Spin's are.
fn bare(status: hyper::StatusCode) -> Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// A request Spin does not answer: its connection is closed instead.
#[derive(Debug)]
struct Unanswered(&'static str);

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Unanswered {}

/// What Spin 3.6 refuses before any component runs: a request without `Host` (so any HTTP/1.0
/// one without it) or in absolute form gets no answer, and a header value that is not visible
/// ASCII gets a bare 500.
fn refused_by_spin(req: &Request<Incoming>) -> Option<Result<hyper::StatusCode, Unanswered>> {
    if !req.headers().contains_key(hyper::header::HOST) {
        return Some(Err(Unanswered("no Host header")));
    }
    if req.uri().scheme().is_some() {
        return Some(Err(Unanswered("absolute-form request target")));
    }
    req.headers()
        .values()
        .any(|v| v.to_str().is_err())
        .then_some(Ok(hyper::StatusCode::INTERNAL_SERVER_ERROR))
}

async fn handle(
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    local: SocketAddr,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, Unanswered> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let trigger = runtime.app().route(&path).cloned();
    let response = match (&trigger, refused_by_spin(&req)) {
        (_, Some(Err(unanswered))) => {
            eprintln!("spin-host: {method} {path:?}: closed unanswered: {unanswered}");
            return Err(unanswered);
        }
        (_, Some(Ok(status))) => bare(status),
        (None, None) => bare(hyper::StatusCode::NOT_FOUND),
        (Some(trigger), None) => {
            let full_url = format!(
                "http://{local}{}",
                req.uri().path_and_query().map_or("/", |pq| pq.as_str())
            );
            for (name, value) in [
                ("spin-full-url", full_url),
                ("spin-path-info", path.clone()),
                ("spin-client-addr", peer.to_string()),
            ] {
                if let Ok(value) = value.parse() {
                    req.headers_mut().insert(name, value);
                }
            }
            match runtime.handle(&trigger.component, req).await {
                Ok(response) => response,
                Err(e) if e.is::<Busy>() => {
                    eprintln!("spin-host: {method} {path:?}: {e}");
                    let mut busy = bare(hyper::StatusCode::SERVICE_UNAVAILABLE);
                    busy.headers_mut()
                        .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
                    busy
                }
                Err(e) => {
                    eprintln!("spin-host: {method} {path}: {e:#}");
                    bare(hyper::StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    match &trigger {
        Some(t) => metrics.observe(
            &t.component,
            &t.route.to_string(),
            method.as_str(),
            status,
            elapsed,
        ),
        None => metrics.observe("none", "unmatched", method.as_str(), status, elapsed),
    }
    eprintln!(
        "{{\"source\":\"spin-host\",\"method\":\"{method}\",\"path\":{},\"component\":{},\"status\":{},\"duration_ms\":{:.3}}}",
        json_string(&path),
        trigger.map_or("null".to_owned(), |t| json_string(&t.component)),
        status,
        elapsed * 1e3
    );
    Ok(response)
}
