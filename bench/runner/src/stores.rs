//! The key-value A/B of the read path: what a kept read costs the store, in two calls (the
//! generation, then the answer) and in one `wasi:keyvalue/batch` `get-many`, at concurrency 16.
//! bench/cost-probe makes exactly those calls and nothing else, on each runtime with the
//! `default` store as a file (as `make run` keeps it); under Spin also as Spin's in-memory
//! SQLite store and as Redis on loopback (`type = "redis"`, as the clusters keep it). Each pair
//! is loaded twice, in turns, and averaged.

use crate::load::{Measured, get, load};
use crate::servers::{addr, app, scratch};
use anyhow::{Result, bail};
use host_harness::{Redis, Runtime};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One store on one runtime: the two designs' figures; `None` where the store failed the call.
pub struct StoreRow {
    pub store: String,
    pub two_gets: Option<Measured>,
    pub get_many: Option<Measured>,
}

/// Spin's runtime configuration (in a directory named after LABEL) with the `default`
/// key-value store as BODY says.
fn runtime_config(label: &str, body: &str) -> Result<PathBuf> {
    let file = scratch(&format!("kv-config-{label}"))?.join("runtime-config.toml");
    std::fs::write(&file, format!("[key_value_store.default]\n{body}\n"))?;
    Ok(file)
}

/// Spin's runtime configuration with the `default` key-value store on REDIS, as the clusters
/// run the backend (`k8s/base/backend.yaml`).
pub fn on_redis(redis: &Redis) -> Result<PathBuf> {
    let body = format!("type = \"redis\"\nurl = \"{}\"", redis.url);
    runtime_config(
        &format!("redis-{}", redis.url.rsplit(':').next().unwrap_or("")),
        &body,
    )
}

/// The stores the A/B runs on: a label, the runtime, and Spin's runtime configuration (none:
/// the default file).
fn stores(redis: &Redis) -> Result<Vec<(&'static str, Runtime, Option<PathBuf>)>> {
    Ok(vec![
        ("Spin, a SQLite file (default)", Runtime::Spin, None),
        (
            "Spin, in-memory SQLite",
            Runtime::Spin,
            Some(runtime_config("memory", "type = \"spin\"")?),
        ),
        (
            "Spin, Redis on loopback",
            Runtime::Spin,
            Some(on_redis(redis)?),
        ),
        ("spin-host, a SQLite file", Runtime::SpinHost, None),
    ])
}

pub async fn measure_stores(caches: [&Path; 2], duration: Duration) -> Result<Vec<StoreRow>> {
    let redis = Redis::start();
    let mut rows = Vec::new();
    for (store, runtime, config) in stores(&redis)? {
        let cache = if runtime == Runtime::Spin {
            caches[0]
        } else {
            caches[1]
        };
        let mut probe = app(runtime, "kv-probe", cache)?
            .manifest(host_harness::repo().join("bench/cost-probe/spin.toml"))
            .ready_path("/");
        if let Some(config) = config {
            probe = probe
                .spin_arg("--runtime-config-file")
                .spin_arg(&config.display().to_string());
        }
        let probe = probe.start();
        seed_probe(&probe, store)?;
        let (mut two_gets, mut get_many) = (Vec::new(), Vec::new());
        for first_two in [true, false] {
            for two in [first_two, !first_two] {
                let path = if two {
                    "/?kv-two-gets=1"
                } else {
                    "/?kv-get-many=1"
                };
                let measured = load(addr(&probe), duration, get(path)).await?;
                if two { &mut two_gets } else { &mut get_many }.push(measured);
            }
        }
        // A store that fails a call fails it every time (Spin 3.6's Redis and `get-many`).
        let figures = |runs: Vec<Measured>| {
            runs.iter()
                .all(|m| m.errors == 0)
                .then(|| Measured::mean(&runs))
        };
        rows.push(StoreRow {
            store: store.to_owned(),
            two_gets: figures(two_gets),
            get_many: figures(get_many),
        });
    }
    Ok(rows)
}

/// Keeps the read model's two keys in the cost probe's store, before they are read.
pub fn seed_probe(probe: &host_harness::Host, on: &str) -> Result<()> {
    let seeded = probe.get("/?kv-seed=1");
    if seeded.status != 200 {
        bail!(
            "the cost probe could not seed its key-value store on {on}: {}",
            seeded.body
        );
    }
    Ok(())
}

pub fn print_stores(rows: &[StoreRow]) {
    println!(
        "\nA/B: a kept read's key-value calls at concurrency 16 (bench/cost-probe: the generation \
         and an 8 KiB answer; req/s · p99 ms, mean of 2 rounds in turns)"
    );
    println!(
        "| {:<32} | {:>22} | {:>22} | {:>16} |",
        "store", "two gets", "one get-many", "get-many / two"
    );
    println!("|{:-<34}|{:-<24}|{:-<24}|{:-<18}|", "", "", "", "");
    for row in rows {
        let cell = |m: &Option<Measured>| {
            m.as_ref().map_or("fails".to_owned(), |m| {
                format!("{:.0} · {:.1}", m.rps, m.p99_ms)
            })
        };
        let ratio = match (&row.get_many, &row.two_gets) {
            (Some(many), Some(two)) => {
                format!(
                    "{:.2}× · {:.2}×",
                    many.rps / two.rps,
                    many.p99_ms / two.p99_ms
                )
            }
            _ => "—".to_owned(),
        };
        println!(
            "| {:<32} | {:>22} | {:>22} | {:>16} |",
            row.store,
            cell(&row.two_gets),
            cell(&row.get_many),
            ratio
        );
    }
    if rows.iter().any(|r| r.get_many.is_none()) {
        println!(
            "fails: every call was refused. Spin 3.6.3's Redis store sends `get-many` as Redis \
             KEYS (a bug): one more reason the read model reads its two keys in two calls."
        );
    }
}
