//! `make bench`: serves the real components with real Spin (`spin up`) and with spin-host,
//! loads each at concurrency 16 with the same requests in the same run, and prints one table
//! with both runtimes and the same API in Flask side by side: throughput and latency per route
//! on SQLite and PostgreSQL, the bare hello component as the ceiling, what each kind of host
//! work costs (bench/cost-probe), start-up time, peak RSS and component sizes; last, the
//! playground's time to `up` and memory against the control plane alone.
//!
//! The read model is measured on and off in the same run (the A/B of bench/README.md), and the
//! instance-reuse candidate (bench/p3-probe) beside them; the read model's store calls are
//! measured per store, two gets against one batch `get-many` (stores.rs), and each runtime is
//! profiled with `perf` under a read and a write (perf.rs); the targets of the read path are
//! checked against the figures last.
//!
//! Environment: `BENCH_SECONDS` (per measurement, default 5), `BENCH_ONLY` (a comma-separated
//! subset of start, sqlite, candidates, stores, perf, postgres, hello, profile, playground),
//! `LEDGER_TEST_PG_URL` (an admin URL of a PostgreSQL server; `make bench` starts one).

mod candidates;
mod load;
mod perf;
mod playground;
mod prices;
mod servers;
mod stores;
mod table;
mod targets;

use anyhow::Result;
use candidates::{measure_reuse, print_candidates};
use host_harness::Runtime;
use load::{CONCURRENCY, get, load};
use perf::{print_profiles, profile};
use prices::{price_host_work, print_prices};
use servers::{Peer, Server, addr, app, fresh_postgres, group_rss_kib, scratch, seed};
use std::time::Duration;
use stores::{measure_stores, on_redis, print_stores};
use table::{deployment_write, measure, print_table};

/// `BENCH_ONLY=sqlite,profile` runs only those sections (start, sqlite, candidates, stores,
/// perf, postgres, hello, profile, playground); unset runs all.
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

    // SQLite: each runtime with the read model on and off (today's design, for the A/B), Spin
    // with the read model on Redis (the clusters' store), and the Flask peer, side by side,
    // each seeded with the same 100 releases.
    let (mut sqlite, mut memory, mut prices, mut candidates) = (None, Vec::new(), Vec::new(), None);
    let (mut sqlite_servers, mut profiles) = (Vec::new(), Vec::new());
    if wanted("sqlite") || wanted("profile") || wanted("candidates") || wanted("perf") {
        let with_model = |runtime, cache, model: &str| -> Result<host_harness::Host> {
            let label = format!("sqlite-{model}");
            Ok(app(runtime, &label, cache)?
                .var("read_model", model)
                .start())
        };
        let spin = with_model(Runtime::Spin, &caches[0], "on")?;
        // The read model on Redis, as the clusters keep it (its SQLite database as above).
        let redis = host_harness::Redis::start();
        let spin_redis = app(Runtime::Spin, "sqlite-redis", &caches[0])?
            .spin_arg("--runtime-config-file")
            .spin_arg(&on_redis(&redis)?.display().to_string())
            .start();
        let spin_off = with_model(Runtime::Spin, &caches[0], "off")?;
        let spin_host = with_model(Runtime::SpinHost, &caches[1], "on")?;
        let spin_host_off = with_model(Runtime::SpinHost, &caches[1], "off")?;
        let peer = Peer::start()?;
        sqlite_servers = vec![
            Server::of("Spin", &spin),
            Server::of("Spin, Redis", &spin_redis),
            Server::of("Spin, off", &spin_off),
            Server::of("spin-host", &spin_host),
            Server::of("spin-host, off", &spin_host_off),
        ];
        sqlite_servers.extend(peer.as_ref().map(|peer| Server {
            name: "Flask",
            addr: peer.addr.clone(),
            group: peer.child.id(),
            console: false,
        }));
        seed(&sqlite_servers)?;
        if wanted("sqlite") {
            sqlite = Some(measure(&sqlite_servers, duration).await?);
            memory = sqlite_servers
                .iter()
                .map(|s| (s.name, group_rss_kib(s.group)))
                .collect();
        }
        if wanted("candidates") {
            candidates = Some(measure_reuse(&spin_off.sqlite_dir, &caches[0], duration).await?);
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
        if wanted("perf") {
            for server in sqlite_servers
                .iter()
                .filter(|s| matches!(s.name, "Spin" | "spin-host"))
            {
                let read = "GET /api/releases?limit=20";
                profiles
                    .push(profile(server, read, duration, get("/api/releases?limit=20")).await?);
                let write = "POST …/deployments";
                profiles.push(profile(server, write, duration, deployment_write()).await?);
            }
        }
        drop((
            spin,
            spin_redis,
            spin_off,
            spin_host,
            spin_host_off,
            peer,
            redis,
        ));
    }

    // The key-value A/B: a kept read's store calls, two gets against one get-many, per store.
    let stores = if wanted("stores") {
        Some(measure_stores([&caches[0], &caches[1]], duration).await?)
    } else {
        None
    };

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

    // Last: it holds about 3 GB while it runs, and every server above has stopped.
    let playground = if wanted("playground") {
        Some(playground::measure(&repo)?)
    } else {
        None
    };

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
    let peer_column = sqlite_servers.iter().position(|s| s.name == "Flask");
    if let Some(sqlite) = &sqlite {
        print_table(
            "SQLite, 100 releases: each runtime with the read model on and off, and under Spin on Redis as in clusters (ratios: throughput · p99 against the Flask peer)",
            &sqlite_servers,
            sqlite,
            peer_column,
        );
    }
    if let (Some(sqlite), Some(candidates)) = (&sqlite, &candidates) {
        print_candidates(&sqlite_servers, sqlite, candidates);
    }
    if let Some(stores) = &stores {
        print_stores(stores);
    }
    print_profiles(&profiles);
    if let Some(postgres) = &postgres {
        print_table("PostgreSQL, 100 releases", &pg_servers, postgres, None);
    }
    println!();
    for (name, hello) in &hellos {
        let index = sqlite_servers
            .iter()
            .position(|s| s.name == *name)
            .unwrap_or(0);
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
    let mut sizes = Vec::new();
    for name in ["backend", "frontend", "hello"] {
        let bytes =
            std::fs::metadata(repo.join(format!("target/wasm32-wasip2/release/{name}.wasm")))?
                .len();
        println!(
            "{name}.wasm: {bytes} bytes ({:.2} MiB)",
            bytes as f64 / 1_048_576.0
        );
        sizes.push((name, bytes));
    }
    if let Some(figures) = &playground {
        playground::print(figures);
    }
    targets::print(&targets::Figures {
        servers: &sqlite_servers,
        sqlite: sqlite.as_deref(),
        pg_servers: &pg_servers,
        postgres: postgres.as_deref(),
        hellos: &hellos,
        starts: &starts,
        sizes: &sizes,
    });
    Ok(())
}
