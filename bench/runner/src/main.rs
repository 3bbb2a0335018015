//! `make bench`: starts `spin-host` with the real components, loads it at concurrency 16 and
//! prints one table: throughput and latency per route on SQLite and PostgreSQL, the bare hello
//! component as the ceiling, start-up time, peak RSS and component sizes.
//!
//! Environment: `BENCH_SECONDS` (per measurement, default 5), `LEDGER_TEST_PG_URL` (an admin
//! URL of a PostgreSQL server; `make bench` starts one).

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;
const HMAC_KEY: &str = "bench-hmac-key-0123456789abcdef0123456789";

struct Measured {
    label: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

struct Host {
    child: Child,
    addr: String,
    first_response: Duration,
}

impl Host {
    /// Starts the host and waits for the first 200 from `ready_path`.
    fn start(
        repo: &Path,
        manifest: &Path,
        ready_path: &str,
        dirs: (&Path, &Path),
        vars: &[(String, String)],
    ) -> Result<Self> {
        let (sqlite_dir, cache_dir) = dirs;
        let started = Instant::now();
        let mut command = Command::new(repo.join("target/host/spin-host"));
        command
            .args(["--listen", "127.0.0.1:0", "--manifest"])
            .arg(manifest)
            .arg("--sqlite-dir")
            .arg(sqlite_dir)
            .arg("--cache-dir")
            .arg(cache_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in vars {
            command.arg("--var").arg(format!("{name}={value}"));
        }
        let mut child = command
            .spawn()
            .context("starting target/host/spin-host (run make build)")?;
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keeps draining stderr (the host logs every request there) after start-up.
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(addr) = host_harness::serving_address(&line) {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow!("spin-host did not start"))?;
        loop {
            if blocking_get(&addr, ready_path).is_ok_and(|status| status == 200) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("spin-host never answered {ready_path}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(Self {
            first_response: started.elapsed(),
            child,
            addr,
        })
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.1 GET, for readiness polling.
fn blocking_get(addr: &str, path: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::ErrorKind::InvalidData.into())
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

fn token(sub: &str, role: &str) -> Result<String> {
    let claims = token::Claims::new(
        sub,
        &[role.to_owned()],
        3600,
        token::DEFAULT_ISSUER,
        token::DEFAULT_AUDIENCE,
    );
    token::mint_hs256(&claims, HMAC_KEY.as_bytes()).map_err(|e| anyhow!(e))
}

fn release_json(version: &str) -> String {
    format!(
        r#"{{"version":"{version}","artifact":"ghcr.io/acme/automatizacion:{version}","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","commit":"0123456789abcdef0123456789abcdef01234567","notes":"bench"}}"#
    )
}

/// Seeds 100 releases, then measures the app's routes.
async fn measure_app(label: &str, host: &Host, duration: Duration) -> Result<Vec<Measured>> {
    let deployer = token("bench", "deployer")?;
    let seed = deployer.clone();
    for i in 0..100 {
        let status = post(
            &host.addr,
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
        rows.push(load("GET /api/health", &host.addr, duration, get("/api/health")).await?);
    }
    rows.push(
        load(
            &format!("GET /api/releases ({label}, 100 stored)"),
            &host.addr,
            duration,
            get("/api/releases?limit=100"),
        )
        .await?,
    );
    rows.push(
        load(
            &format!("GET /api/clusters ({label})"),
            &host.addr,
            duration,
            get("/api/clusters"),
        )
        .await?,
    );
    // The console's overview: one page, four parallel calls through service chaining.
    rows.push(
        load(
            &format!("GET / (console overview, {label})"),
            &host.addr,
            duration,
            get("/"),
        )
        .await?,
    );
    rows.push(
        load(
            &format!("POST …/deployments ({label})"),
            &host.addr,
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
    let dir = std::env::temp_dir().join(format!("spin-host-bench-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[tokio::main]
async fn main() -> Result<()> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()?;
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let vars = vec![("auth_hmac_key".to_owned(), HMAC_KEY.to_owned())];
    let cache = scratch("cache")?;

    // Cold start compiles the components; warm start finds them in the compile cache.
    let app = repo.join("spin.toml");
    let cold = Host::start(
        &repo,
        &app,
        "/api/health",
        (&scratch("sqlite")?, &cache),
        &vars,
    )?;
    let cold_start = cold.first_response;
    drop(cold);
    let sqlite = Host::start(
        &repo,
        &app,
        "/api/health",
        (&scratch("sqlite")?, &cache),
        &vars,
    )?;
    let warm_start = sqlite.first_response;
    let mut rows = measure_app("SQLite", &sqlite, duration).await?;
    let mut peak_rss = sqlite.peak_rss_kib();
    drop(sqlite);

    let admin = std::env::var("LEDGER_TEST_PG_URL")
        .context("LEDGER_TEST_PG_URL: run `make bench`, which starts PostgreSQL")?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("LEDGER_TEST_PG_URL ends in /dbname"))?;
    let db = format!("bench_{}", std::process::id());
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
    let mut pg_vars = vars.clone();
    pg_vars.push(("db_url".into(), format!("{base}/{db}")));
    pg_vars.push(("db_outbound_host".into(), format!("postgres://{authority}")));
    let postgres = Host::start(
        &repo,
        &app,
        "/api/health",
        (&scratch("pg")?, &cache),
        &pg_vars,
    )?;
    rows.extend(measure_app("PostgreSQL", &postgres, duration).await?);
    peak_rss = peak_rss.max(postgres.peak_rss_kib());
    drop(postgres);

    let hello = Host::start(
        &repo,
        &repo.join("bench/hello/spin.toml"),
        "/",
        (&scratch("hello")?, &cache),
        &[],
    )?;
    rows.push(
        load(
            "GET / (bare hello component)",
            &hello.addr,
            duration,
            get("/"),
        )
        .await?,
    );
    drop(hello);

    println!(
        "\nspin-host benchmark: concurrency {CONCURRENCY}, {seconds} s per row, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| {:<42} | {:>9} | {:>8} | {:>8} | {:>6} |",
        "request", "req/s", "p50 ms", "p99 ms", "errors"
    );
    println!(
        "|{:-<44}|{:->11}|{:->10}|{:->10}|{:->8}|",
        "", "", "", "", ""
    );
    for row in &rows {
        println!(
            "| {:<42} | {:>9.0} | {:>8.2} | {:>8.2} | {:>6} |",
            row.label, row.rps, row.p50_ms, row.p99_ms, row.errors
        );
    }
    let health = rows
        .iter()
        .find(|r| r.label == "GET /api/health")
        .map_or(0.0, |r| r.rps);
    let ceiling = rows.last().map_or(1.0, |r| r.rps);
    println!(
        "\n/api/health throughput is {:.0}% of the hello component's",
        100.0 * health / ceiling
    );
    println!(
        "first response after start: {:.0} ms cold (compiling), {:.0} ms warm (compile cache)",
        cold_start.as_secs_f64() * 1e3,
        warm_start.as_secs_f64() * 1e3
    );
    println!("peak RSS of spin-host: {:.1} MiB", peak_rss as f64 / 1024.0);
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
