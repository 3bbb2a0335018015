//! What each kind of host work costs on each runtime: `bench/cost-probe` repeats one kind per
//! request, priced by the latency it adds at concurrency 1.

use crate::load::{get, load_from};
use crate::servers::{addr, app};
use anyhow::{Result, bail};
use host_harness::Runtime;
use std::time::Duration;

/// The kinds of host work `bench/cost-probe` repeats, each priced by the latency it adds.
const PROBED: &[&str] = &[
    "variable",
    "open",
    "select",
    "transaction",
    "log",
    "kv-two-gets",
    "kv-get-many",
];
/// How many times the probe repeats its kind of work in one request.
const REPEATS: u32 = 10;

/// What one unit of each kind of host work costs on one runtime.
pub struct Prices {
    runtime: &'static str,
    /// The latency of a request that does no work: instantiation, routing, response.
    empty_ms: f64,
    /// Microseconds per unit, in [`PROBED`]'s order.
    per_unit_us: Vec<f64>,
}

/// Serves the cost probe over `sqlite_dir` (an app's database, so its statements read the
/// ledger's schema) and prices each kind of work at concurrency 1, where the added latency is
/// the work's own cost rather than queueing.
pub async fn price_host_work(
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
    crate::stores::seed_probe(&probe, name)?;
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

pub fn print_prices(prices: &[Prices]) {
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
            "log" => "print a 200-byte log line",
            "kv-two-gets" => "key-value: generation + 8 KiB answer, two gets",
            _ => "key-value: the same in one get-many",
        };
        let mut line = format!("| {what:<48} |");
        for p in prices {
            line.push_str(&format!(" {:>10.1} |", p.per_unit_us[i]));
        }
        println!("{line}");
    }
}
