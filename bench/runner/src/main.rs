//! `make bench`: serves the real components with real Spin (`spin up`) and with spin-host,
//! loads each at concurrency 16 with the same requests in the same run, and prints one table
//! with both runtimes side by side: throughput and latency per route on SQLite and PostgreSQL,
//! the bare hello component as the ceiling, start-up time, peak RSS and component sizes.
//!
//! Environment: `BENCH_SECONDS` (per measurement, default 5), `LEDGER_TEST_PG_URL` (an admin
//! URL of a PostgreSQL server; `make bench` starts one).

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use host_harness::{Host, HostBuilder, Runtime};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;

struct Measured {
    label: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// The `host:port` a started runtime serves on.
fn addr(host: &Host) -> &str {
    host.base.trim_start_matches("http://")
}

/// Peak resident memory of the runtime's whole process group (Spin runs its trigger as a
/// child process), in KiB.
fn peak_rss_kib(host: &Host) -> u64 {
    let leader = host.child.id();
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pgrp is the 5th field, counted after the parenthesised command name.
        let in_group = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2)?.parse::<u32>().ok())
            == Some(leader);
        if in_group {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

#[derive(Clone)]
struct Call {
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<String>,
}

/// An anonymous GET of one path, the same for every worker.
fn get(path: &'static str) -> impl Fn(usize, usize) -> Call + Send + Sync + 'static {
    move |_, _| Call {
        method: "GET",
        path: path.into(),
        token: None,
        body: None,
    }
}

/// Sends `call` from CONCURRENCY keep-alive connections for `duration`; returns the figures.
async fn load(
    label: &str,
    addr: &str,
    duration: Duration,
    make: impl Fn(usize, usize) -> Call + Send + Sync + 'static,
) -> Result<Measured> {
    let make = std::sync::Arc::new(make);
    let deadline = Instant::now() + duration;
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let (addr, make) = (addr.to_owned(), make.clone());
        workers.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
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
                let response = sender.send_request(request).await?;
                let ok = response.status().is_success();
                response.into_body().collect().await?;
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
    Ok(Measured {
        label: label.to_owned(),
        rps: latencies.len() as f64 / duration.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    })
}

fn release_json(version: &str) -> String {
    format!(
        r#"{{"version":"{version}","artifact":"ghcr.io/acme/automatizacion:{version}","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","commit":"0123456789abcdef0123456789abcdef01234567","notes":"bench"}}"#
    )
}

/// Seeds 100 releases, then measures the app's routes.
async fn measure_app(label: &str, host: &Host, duration: Duration) -> Result<Vec<Measured>> {
    let addr = addr(host);
    let deployer = host_harness::token("bench", &["deployer"]);
    let seed = deployer.clone();
    for i in 0..100 {
        let status = post(
            addr,
            "/api/releases",
            &seed,
            &release_json(&format!("1.{i}.0")),
        )
        .await?;
        if status != 201 && status != 200 {
            bail!("seeding release 1.{i}.0 answered {status}");
        }
    }
    let mut rows = Vec::new();
    if label == "SQLite" {
        rows.push(load("GET /api/health", addr, duration, get("/api/health")).await?);
    }
    rows.push(
        load(
            &format!("GET /api/releases ({label}, 100 stored)"),
            addr,
            duration,
            get("/api/releases?limit=100"),
        )
        .await?,
    );
    rows.push(
        load(
            &format!("GET /api/clusters ({label})"),
            addr,
            duration,
            get("/api/clusters"),
        )
        .await?,
    );
    // The console's overview: one page, four parallel calls through service chaining.
    rows.push(
        load(
            &format!("GET / (console overview, {label})"),
            addr,
            duration,
            get("/"),
        )
        .await?,
    );
    rows.push(
        load(
            &format!("POST …/deployments ({label})"),
            addr,
            duration,
            move |worker, n| Call {
                method: "POST",
                path: format!("/api/releases/1.{}.0/deployments", worker % 100),
                token: Some(deployer.clone()),
                body: Some(format!(
                    r#"{{"cluster":"staging","status":"started","message":"bench {worker}-{n}"}}"#
                )),
            },
        )
        .await?,
    );
    Ok(rows)
}

async fn post(addr: &str, path: &str, token: &str, body: &str) -> Result<u16> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = hyper::Request::post(path)
        .header("host", addr)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

fn scratch(label: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "automatizacion-bench-{label}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A fresh PostgreSQL database for one runtime's rows: its `(db_url, db_outbound_host)`.
async fn fresh_postgres(name: &str) -> Result<(String, String)> {
    let admin = std::env::var("LEDGER_TEST_PG_URL")
        .context("LEDGER_TEST_PG_URL: run `make bench`, which starts PostgreSQL")?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("LEDGER_TEST_PG_URL ends in /dbname"))?;
    let db = format!("bench_{name}_{}", std::process::id());
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await?;
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
    let authority = base
        .split('@')
        .nth(1)
        .unwrap_or(base.trim_start_matches("postgres://"));
    Ok((format!("{base}/{db}"), format!("postgres://{authority}")))
}

/// What one runtime measured.
struct RuntimeFigures {
    rows: Vec<Measured>,
    cold_start: Duration,
    warm_start: Duration,
    peak_rss_kib: u64,
}

/// Every row on one runtime: the app on SQLite and on PostgreSQL, then the hello ceiling.
async fn measure_runtime(runtime: Runtime, duration: Duration) -> Result<RuntimeFigures> {
    let name = runtime.name().replace('-', "_");
    // Cold start compiles the components; warm start finds them in the compile cache.
    let cache = scratch(&format!("{name}-cache"))?;
    let app = |label: &str| -> Result<HostBuilder> {
        Ok(HostBuilder::on(runtime, label)
            .sqlite_dir(scratch(&format!("{name}-{label}"))?)
            .cache_dir(cache.clone())
            .ready_path("/api/health"))
    };
    let cold = app("cold")?.start();
    let cold_start = cold.first_response;
    drop(cold);
    let sqlite = app("sqlite")?.start();
    let warm_start = sqlite.first_response;
    let mut rows = measure_app("SQLite", &sqlite, duration).await?;
    let mut peak = peak_rss_kib(&sqlite);
    drop(sqlite);

    let (db_url, db_host) = fresh_postgres(&name).await?;
    let postgres = app("pg")?
        .var("db_url", &db_url)
        .var("db_outbound_host", &db_host)
        .start();
    rows.extend(measure_app("PostgreSQL", &postgres, duration).await?);
    peak = peak.max(peak_rss_kib(&postgres));
    drop(postgres);

    let hello = app("hello")?
        .manifest(host_harness::repo().join("bench/hello/spin.toml"))
        .ready_path("/")
        .start();
    rows.push(
        load(
            "GET / (bare hello component)",
            addr(&hello),
            duration,
            get("/"),
        )
        .await?,
    );
    Ok(RuntimeFigures {
        rows,
        cold_start,
        warm_start,
        peak_rss_kib: peak,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let repo = host_harness::repo();
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let spin = measure_runtime(Runtime::Spin, duration).await?;
    let spin_host = measure_runtime(Runtime::SpinHost, duration).await?;

    println!(
        "\nbenchmark: real Spin ({}) and spin-host, concurrency {CONCURRENCY}, {seconds} s per row, {} cores, load average {}",
        host_harness::spin_bin().display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| {:<42} | {:>10} | {:>8} | {:>8} | {:>10} | {:>8} | {:>8} | {:>6} |",
        "request", "Spin req/s", "p50 ms", "p99 ms", "host req/s", "p50 ms", "p99 ms", "errors"
    );
    println!(
        "|{:-<44}|{:->12}|{:->10}|{:->10}|{:->12}|{:->10}|{:->10}|{:->8}|",
        "", "", "", "", "", "", "", ""
    );
    for (a, b) in spin.rows.iter().zip(&spin_host.rows) {
        println!(
            "| {:<42} | {:>10.0} | {:>8.2} | {:>8.2} | {:>10.0} | {:>8.2} | {:>8.2} | {:>6} |",
            a.label,
            a.rps,
            a.p50_ms,
            a.p99_ms,
            b.rps,
            b.p50_ms,
            b.p99_ms,
            a.errors + b.errors
        );
    }
    for (name, figures) in [("real Spin", &spin), ("spin-host", &spin_host)] {
        let health = figures
            .rows
            .iter()
            .find(|r| r.label == "GET /api/health")
            .map_or(0.0, |r| r.rps);
        let ceiling = figures.rows.last().map_or(1.0, |r| r.rps);
        println!(
            "\n{name}: /api/health at {:.0}% of the hello component's throughput; first response \
             after start {:.0} ms cold (compiling), {:.0} ms warm (compile cache); peak RSS {:.1} MiB",
            100.0 * health / ceiling,
            figures.cold_start.as_secs_f64() * 1e3,
            figures.warm_start.as_secs_f64() * 1e3,
            figures.peak_rss_kib as f64 / 1024.0
        );
    }
    for name in ["backend", "frontend", "hello"] {
        let bytes =
            std::fs::metadata(repo.join(format!("target/wasm32-wasip2/release/{name}.wasm")))?
                .len();
        println!(
            "{name}.wasm: {bytes} bytes ({:.2} MiB)",
            bytes as f64 / 1_048_576.0
        );
    }
    Ok(())
}
