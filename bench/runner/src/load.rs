//! The load generator: CONCURRENCY keep-alive connections sending one kind of request for a
//! while, and the throughput and latency figures that come out.

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};

pub const CONCURRENCY: usize = 16;

pub struct Measured {
    pub rps: f64,
    pub mean_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

impl Measured {
    /// The mean of several rounds' figures (errors summed); RUNS is not empty.
    pub fn mean(runs: &[Measured]) -> Measured {
        let n = runs.len() as f64;
        Measured {
            rps: runs.iter().map(|m| m.rps).sum::<f64>() / n,
            mean_ms: runs.iter().map(|m| m.mean_ms).sum::<f64>() / n,
            p99_ms: runs.iter().map(|m| m.p99_ms).sum::<f64>() / n,
            errors: runs.iter().map(|m| m.errors).sum(),
        }
    }
}

#[derive(Clone)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<String>,
}

/// An anonymous GET of one path, the same for every worker.
pub fn get(path: impl Into<String>) -> impl Fn(usize, usize) -> Call + Send + Sync + 'static {
    let path = path.into();
    move |_, _| Call {
        method: "GET",
        path: path.clone(),
        token: None,
        body: None,
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends `call` from CONCURRENCY keep-alive connections for `duration`; returns the figures.
pub async fn load(
    addr: &str,
    duration: Duration,
    make: impl Fn(usize, usize) -> Call + Send + Sync + 'static,
) -> Result<Measured> {
    load_from(CONCURRENCY, addr, duration, make).await
}

/// [`load`] from `concurrency` connections.
pub async fn load_from(
    concurrency: usize,
    addr: &str,
    duration: Duration,
    make: impl Fn(usize, usize) -> Call + Send + Sync + 'static,
) -> Result<Measured> {
    let make = std::sync::Arc::new(make);
    let deadline = Instant::now() + duration;
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (addr, make) = (addr.to_owned(), make.clone());
        workers.push(tokio::spawn(async move {
            let mut sender = connect(&addr).await?;
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            let mut n = 0;
            while Instant::now() < deadline {
                let call = make(worker, n);
                n += 1;
                let mut request = hyper::Request::builder()
                    .method(call.method)
                    .uri(&call.path)
                    .header("host", &addr);
                if let Some(token) = &call.token {
                    request = request.header("authorization", format!("Bearer {token}"));
                }
                if call.body.is_some() {
                    request = request.header("content-type", "application/json");
                }
                let request =
                    request.body(Full::new(Bytes::from(call.body.unwrap_or_default())))?;
                let sent = Instant::now();
                if sender.is_closed() {
                    sender = connect(&addr).await?;
                }
                let response = sender.send_request(request).await?;
                let ok = response.status().is_success();
                let closes = response
                    .headers()
                    .get("connection")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                response.into_body().collect().await?;
                if closes {
                    // Servers that close after each answer (gunicorn's sync workers) pay for a
                    // new connection per request, as their clients do.
                    sender = connect(&addr).await?;
                }
                latencies.push(sent.elapsed());
                errors += usize::from(!ok);
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (l, e) = worker.await??;
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let total: Duration = latencies.iter().sum();
    Ok(Measured {
        rps: latencies.len() as f64 / duration.as_secs_f64(),
        mean_ms: total.as_secs_f64() * 1e3 / latencies.len().max(1) as f64,
        p99_ms: pct(0.99),
        errors,
    })
}
