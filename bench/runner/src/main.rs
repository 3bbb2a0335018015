//! `make bench`: serves the real components with real Spin (`spin up`) and with spin-host,
//! loads each at concurrency 16 with the same requests in the same run, and prints one table
//! with both runtimes and the same API in Flask side by side: throughput and latency per route
//! on SQLite and PostgreSQL, the bare hello component as the ceiling, what each kind of host
//! work costs (bench/cost-probe), start-up time, peak RSS and component sizes.
//!
//! Environment: `BENCH_SECONDS` (per measurement, default 5), `BENCH_ONLY` (a comma-separated
//! subset of start, sqlite, postgres, hello, profile), `LEDGER_TEST_PG_URL` (an admin URL of a
//! PostgreSQL server; `make bench` starts one).

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use host_harness::{Host, HostBuilder, Runtime};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;

struct Measured {
    rps: f64,
    mean_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// The `host:port` a started runtime serves on.
fn addr(host: &Host) -> &str {
    host.base.trim_start_matches("http://")
}

#[derive(Clone)]
struct Call {
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<String>,
}

/// An anonymous GET of one path, the same for every worker.
fn get(path: impl Into<String>) -> impl Fn(usize, usize) -> Call + Send + Sync + 'static {
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
async fn load(
    addr: &str,
    duration: Duration,
    make: impl Fn(usize, usize) -> Call + Send + Sync + 'static,
) -> Result<Measured> {
    load_from(CONCURRENCY, addr, duration, make).await
}

/// [`load`] from `concurrency` connections.
async fn load_from(
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

/// The Flask peer (`../shared/peers/flask-ledger`, gunicorn with 2 sync workers, SQLite WAL),
/// with the same key, issuer and audience as the app, in its own process group.
struct Peer {
    child: Child,
    addr: String,
}

impl Peer {
    fn start() -> Result<Self> {
        let repo = host_harness::repo();
        let port = host_harness::free_port();
        let db = scratch("flask")?.join("ledger.db");
        let child = Command::new(repo.join("../shared/peers/flask-ledger/run.sh"))
            .env("VENV", repo.join("target/flask-peer-venv"))
            .env("PORT", port.to_string())
            .env("AUTH_HMAC_KEY", host_harness::HMAC_KEY)
            .env("AUTH_ISSUER", token::DEFAULT_ISSUER)
            .env("AUTH_AUDIENCE", token::DEFAULT_AUDIENCE)
            .env("LEDGER_DB", db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the Flask peer (make bench prepares target/flask-peer-venv with scripts/python-venv.sh)")?;
        let peer = Self {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        host_harness::wait_for_listener(&peer.addr, Duration::from_secs(60))
            .map_err(|e| anyhow!("the Flask peer: {e}"))?;
        Ok(peer)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// The same 100 releases on every server, through its API.
fn seed(servers: &[Server]) -> Result<()> {
    for server in servers {
        let versions = (0..100).map(|i| format!("1.{i}.0"));
        host_harness::seed_releases(&format!("http://{}", server.addr), versions)
            .map_err(|e| anyhow!(e))?;
    }
    Ok(())
}

/// One server under test: its name, address, and process group (for memory).
struct Server {
    name: &'static str,
    addr: String,
    group: u32,
    /// Serves `/` as the console (the peer has no console).
    console: bool,
}

impl Server {
    fn of(name: &'static str, host: &Host) -> Self {
        Self {
            name,
            addr: addr(host).to_owned(),
            group: host.child.id(),
            console: true,
        }
    }
}

/// A request every server is measured on.
struct Row {
    label: &'static str,
    make: std::sync::Arc<dyn Fn(usize, usize) -> Call + Send + Sync>,
    console: bool,
}

fn rows() -> Vec<Row> {
    let deployer = host_harness::token("bench", &["deployer"]);
    let row = |label, path: &'static str| Row {
        label,
        make: std::sync::Arc::new(get(path)),
        console: false,
    };
    vec![
        row("GET /api/health", "/api/health"),
        row("GET /api/releases?limit=100", "/api/releases?limit=100"),
        row("GET /api/releases?limit=20", "/api/releases?limit=20"),
        row("GET /api/clusters", "/api/clusters"),
        Row {
            label: "GET / (console overview)",
            make: std::sync::Arc::new(get("/")),
            console: true,
        },
        Row {
            label: "POST …/deployments",
            make: std::sync::Arc::new(move |worker, n| Call {
                method: "POST",
                path: format!("/api/releases/1.{}.0/deployments", worker % 100),
                token: Some(deployer.clone()),
                body: Some(format!(
                    r#"{{"cluster":"staging","status":"started","message":"bench {worker}-{n}"}}"#
                )),
            }),
            console: false,
        },
    ]
}

/// Every row on every server, `ROUNDS` times, the servers taking turns within each row so that
/// noise on the machine hits them alike. Returns, per row, each server's mean figures.
async fn measure(
    servers: &[Server],
    duration: Duration,
) -> Result<Vec<(&'static str, Vec<Option<Measured>>)>> {
    const ROUNDS: usize = 2;
    let mut table = Vec::new();
    for row in rows() {
        let mut runs: Vec<Vec<Measured>> = servers.iter().map(|_| Vec::new()).collect();
        for _ in 0..ROUNDS {
            for (server, runs) in servers.iter().zip(&mut runs) {
                if row.console && !server.console {
                    continue;
                }
                let make = row.make.clone();
                runs.push(load(&server.addr, duration, move |w, n| make(w, n)).await?);
            }
        }
        let means = runs
            .into_iter()
            .map(|runs| {
                (!runs.is_empty()).then(|| {
                    let n = runs.len() as f64;
                    Measured {
                        rps: runs.iter().map(|m| m.rps).sum::<f64>() / n,
                        mean_ms: runs.iter().map(|m| m.mean_ms).sum::<f64>() / n,
                        p99_ms: runs.iter().map(|m| m.p99_ms).sum::<f64>() / n,
                        errors: runs.iter().map(|m| m.errors).sum(),
                    }
                })
            })
            .collect();
        table.push((row.label, means));
    }
    Ok(table)
}

fn print_table(
    title: &str,
    servers: &[Server],
    table: &[(&'static str, Vec<Option<Measured>>)],
    peer: Option<usize>,
) {
    println!("\n{title}");
    let mut header = format!("| {:<30} |", "request");
    let mut rule = format!("|{:-<32}|", "");
    for server in servers {
        header.push_str(&format!(
            " {:>22} |",
            format!("{} req/s · p99 ms", server.name)
        ));
        rule.push_str(&format!("{:->24}|", ""));
        if peer.is_some_and(|p| servers[p].name != server.name) {
            header.push_str(&format!(" {:>10} |", "vs peer"));
            rule.push_str(&format!("{:->12}|", ""));
        }
    }
    println!("{header}\n{rule}");
    for (label, figures) in table {
        let mut line = format!("| {label:<30} |");
        for (server, figure) in servers.iter().zip(figures) {
            let cell = figure.as_ref().map_or("—".to_owned(), |m| {
                let errors = if m.errors > 0 {
                    format!(" ({} err)", m.errors)
                } else {
                    String::new()
                };
                format!("{:.0} · {:.1}{errors}", m.rps, m.p99_ms)
            });
            line.push_str(&format!(" {cell:>22} |"));
            if let Some(p) = peer.filter(|p| servers[*p].name != server.name) {
                let ratio = match (figure, &figures[p]) {
                    (Some(m), Some(base)) => {
                        format!("{:.2}× · {:.2}×", m.rps / base.rps, m.p99_ms / base.p99_ms)
                    }
                    _ => "—".to_owned(),
                };
                line.push_str(&format!(" {ratio:>10} |"));
            }
        }
        println!("{line}");
    }
}

/// Peak resident memory of a process group (Spin runs its trigger as a child process, gunicorn
/// its workers), in KiB.
fn group_rss_kib(group: u32) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let in_group = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2)?.parse::<u32>().ok())
            == Some(group);
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

fn app(runtime: Runtime, label: &str, cache: &std::path::Path) -> Result<HostBuilder> {
    Ok(HostBuilder::on(runtime, label)
        .sqlite_dir(scratch(&format!("{}-{label}", runtime.name()))?)
        .cache_dir(cache.to_path_buf())
        .ready_path("/api/health"))
}

/// The kinds of host work `bench/cost-probe` repeats, each priced by the latency it adds.
const PROBED: &[&str] = &["variable", "open", "select", "transaction", "log"];
/// How many times the probe repeats its kind of work in one request.
const REPEATS: u32 = 10;

/// What one unit of each kind of host work costs on one runtime.
struct Prices {
    runtime: &'static str,
    /// The latency of a request that does no work: instantiation, routing, response.
    empty_ms: f64,
    /// Microseconds per unit, in [`PROBED`]'s order.
    per_unit_us: Vec<f64>,
}

/// Serves the cost probe over `sqlite_dir` (an app's database, so its statements read the
/// ledger's schema) and prices each kind of work at concurrency 1, where the added latency is
/// the work's own cost rather than queueing.
async fn price_host_work(
    runtime: Runtime,
    name: &'static str,
    sqlite_dir: &std::path::Path,
    cache: &std::path::Path,
    duration: Duration,
) -> Result<Prices> {
    let probe = app(runtime, "probe", cache)?
        .sqlite_dir(sqlite_dir.to_path_buf())
        .manifest(host_harness::repo().join("bench/cost-probe/spin.toml"))
        .ready_path("/")
        .start();
    let empty = load_from(1, addr(&probe), duration, get("/")).await?;
    let mut per_unit_us = Vec::new();
    for kind in PROBED {
        let path = format!("/?{kind}={REPEATS}");
        let measured = load_from(1, addr(&probe), duration, get(path.clone())).await?;
        if measured.errors > 0 {
            bail!("the cost probe failed {path} on {name}");
        }
        per_unit_us.push((measured.mean_ms - empty.mean_ms) * 1e3 / f64::from(REPEATS));
    }
    Ok(Prices {
        runtime: name,
        empty_ms: empty.mean_ms,
        per_unit_us,
    })
}

/// `BENCH_ONLY=sqlite,profile` runs only those sections (start, sqlite, postgres, hello,
/// profile); unset runs all.
fn wanted(section: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|s| s.trim() == section))
}

#[tokio::main]
async fn main() -> Result<()> {
    let repo = host_harness::repo();
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let runtimes = [(Runtime::Spin, "Spin"), (Runtime::SpinHost, "spin-host")];
    let caches = runtimes
        .iter()
        .map(|(runtime, _)| scratch(&format!("{}-cache", runtime.name())))
        .collect::<Result<Vec<_>>>()?;

    // Start-up: cold compiles the components into an empty cache, warm finds them there.
    let mut starts = Vec::new();
    for ((runtime, _), cache) in runtimes.iter().zip(&caches) {
        if wanted("start") {
            let cold = app(*runtime, "cold", cache)?.start().first_response;
            let warm = app(*runtime, "warm", cache)?.start().first_response;
            starts.push((*runtime, cold, warm));
        }
    }

    // SQLite: the three servers side by side, each seeded with the same 100 releases.
    let (mut sqlite, mut memory, mut prices) = (None, Vec::new(), Vec::new());
    let mut sqlite_servers = Vec::new();
    if wanted("sqlite") || wanted("profile") {
        let spin = app(Runtime::Spin, "sqlite", &caches[0])?.start();
        let spin_host = app(Runtime::SpinHost, "sqlite", &caches[1])?.start();
        let peer = Peer::start()?;
        sqlite_servers = vec![
            Server::of("Spin", &spin),
            Server::of("spin-host", &spin_host),
            Server {
                name: "Flask",
                addr: peer.addr.clone(),
                group: peer.child.id(),
                console: false,
            },
        ];
        seed(&sqlite_servers)?;
        if wanted("sqlite") {
            sqlite = Some(measure(&sqlite_servers, duration).await?);
            memory = sqlite_servers
                .iter()
                .map(|s| (s.name, group_rss_kib(s.group)))
                .collect();
        }
        if wanted("profile") {
            for ((runtime, name), (host, cache)) in runtimes
                .iter()
                .zip([(&spin, &caches[0]), (&spin_host, &caches[1])])
            {
                prices.push(
                    price_host_work(*runtime, name, &host.sqlite_dir, cache, duration).await?,
                );
            }
        }
        drop((spin, spin_host, peer));
    }

    // PostgreSQL: both runtimes, each on a fresh database with the same seed.
    let mut postgres = None;
    let mut pg_servers = Vec::new();
    if wanted("postgres") {
        let mut pg_hosts = Vec::new();
        for ((runtime, _), cache) in runtimes.iter().zip(&caches) {
            let (db_url, db_host) = fresh_postgres(&runtime.name().replace('-', "_")).await?;
            pg_hosts.push(
                app(*runtime, "pg", cache)?
                    .var("db_url", &db_url)
                    .var("db_outbound_host", &db_host)
                    .start(),
            );
        }
        pg_servers = vec![
            Server::of("Spin", &pg_hosts[0]),
            Server::of("spin-host", &pg_hosts[1]),
        ];
        seed(&pg_servers)?;
        postgres = Some(measure(&pg_servers, duration).await?);
    }

    // The ceiling: the bare hello component on each runtime.
    let mut hellos = Vec::new();
    for ((runtime, name), cache) in runtimes.iter().zip(&caches) {
        if wanted("hello") {
            let hello = app(*runtime, "hello", cache)?
                .manifest(repo.join("bench/hello/spin.toml"))
                .ready_path("/")
                .start();
            hellos.push((*name, load(addr(&hello), duration, get("/")).await?));
        }
    }

    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nbenchmark: concurrency {CONCURRENCY}, {seconds} s per measurement, mean of 2 rounds taken in turns, \
         {} cores, load average {} (Spin: {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        host_harness::spin_bin().display()
    );
    if let Some(sqlite) = &sqlite {
        print_table(
            "SQLite, 100 releases (ratios: throughput · p99 against the Flask peer)",
            &sqlite_servers,
            sqlite,
            Some(2),
        );
    }
    if let Some(postgres) = &postgres {
        print_table("PostgreSQL, 100 releases", &pg_servers, postgres, None);
    }
    println!();
    for (name, hello) in &hellos {
        let index = usize::from(*name != "Spin");
        let share = |label: &str| {
            sqlite
                .iter()
                .flatten()
                .find(|(l, _)| *l == label)
                .and_then(|(_, f)| f[index].as_ref())
                .map_or(0.0, |m| 100.0 * m.rps / hello.rps)
        };
        println!(
            "{name}: bare hello {:.0} req/s, p99 {:.1} ms; share of it: health {:.0}%, releases?limit=20 {:.0}%, \
             releases?limit=100 {:.0}%, clusters {:.0}%",
            hello.rps,
            hello.p99_ms,
            share("GET /api/health"),
            share("GET /api/releases?limit=20"),
            share("GET /api/releases?limit=100"),
            share("GET /api/clusters"),
        );
    }
    if !prices.is_empty() {
        print_prices(&prices);
    }
    for (runtime, cold, warm) in &starts {
        println!(
            "{}: first response after start {:.0} ms cold (compiling), {:.0} ms warm (compile cache)",
            runtime.name(),
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3
        );
    }
    for (name, kib) in memory {
        println!(
            "{name}: peak RSS {:.1} MiB (whole process group, after the SQLite rows)",
            kib as f64 / 1024.0
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

fn print_prices(prices: &[Prices]) {
    println!(
        "\nWhat a request's host work costs (bench/cost-probe at concurrency 1, over the SQLite \
         database above; µs per unit, from the latency {REPEATS} units add)"
    );
    let mut header = format!("| {:<48} |", "work");
    for p in prices {
        header.push_str(&format!(" {:>10} |", p.runtime));
    }
    println!("{header}");
    let mut line = format!("| {:<48} |", "a request doing nothing (ms)");
    for p in prices {
        line.push_str(&format!(" {:>10.3} |", p.empty_ms));
    }
    println!("{line}");
    for (i, kind) in PROBED.iter().enumerate() {
        let what = match *kind {
            "variable" => "read a variable",
            "open" => "open the database + its first statement",
            "select" => "one more statement (the migration check's read)",
            "transaction" => "BEGIN + that statement + COMMIT",
            _ => "print a 200-byte log line",
        };
        let mut line = format!("| {what:<48} |");
        for p in prices {
            line.push_str(&format!(" {:>10.1} |", p.per_unit_us[i]));
        }
        println!("{line}");
    }
}
