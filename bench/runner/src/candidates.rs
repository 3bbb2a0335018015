//! The A/B of the read path under real Spin: today's design (a new SQLite connection per
//! request: the app with `read_model = off`), the read model in the key-value store (the app as
//! it ships), and the instance-reuse candidate (bench/p3-probe: the same first page through the
//! same ledger code, as a WASIp3 component that keeps its connection for the life of an
//! instance), under Spin's defaults and with one request at a time per instance.

use crate::load::{Measured, get, load};
use crate::servers::{Server, addr, app};
use anyhow::Result;
use host_harness::Runtime;
use std::path::Path;
use std::time::Duration;

/// The reuse candidate's figures: Spin's defaults (16 requests at a time per instance), and
/// `--max-instance-concurrent-reuse-count 1`.
pub struct Reuse {
    pub shared: Measured,
    pub one_at_a_time: Measured,
}

/// Serves bench/p3-probe over SQLITE_DIR (a seeded app's state) and loads its first page.
pub async fn measure_reuse(sqlite_dir: &Path, cache: &Path, duration: Duration) -> Result<Reuse> {
    let probe = |label: &str, args: &[&str]| -> Result<host_harness::Host> {
        let mut builder = app(Runtime::Spin, label, cache)?
            .sqlite_dir(sqlite_dir.to_path_buf())
            .manifest(host_harness::repo().join("bench/p3-probe/spin.toml"))
            .ready_path("/");
        for arg in args {
            builder = builder.spin_arg(arg);
        }
        Ok(builder.start())
    };
    let shared = probe("p3", &[])?;
    let shared = load(addr(&shared), duration, get("/")).await?;
    let alone = probe("p3-one", &["--max-instance-concurrent-reuse-count", "1"])?;
    let one_at_a_time = load(addr(&alone), duration, get("/")).await?;
    Ok(Reuse {
        shared,
        one_at_a_time,
    })
}

pub fn print_candidates(
    servers: &[Server],
    table: &[(&'static str, Vec<Option<Measured>>)],
    reuse: &Reuse,
) {
    let row = table
        .iter()
        .find(|(label, _)| *label == "GET /api/releases?limit=20")
        .map(|(_, figures)| figures);
    let of = |name: &str| {
        let i = servers.iter().position(|s| s.name == name)?;
        row?.get(i)?.as_ref()
    };
    let peer = of("Flask");
    println!(
        "\nA/B: GET /api/releases?limit=20 under real Spin at concurrency 16 (ratios against the Flask peer)"
    );
    println!(
        "| {:<72} | {:>20} | {:>14} |",
        "design", "req/s · p99 ms", "vs peer"
    );
    println!("|{:-<74}|{:-<22}|{:-<16}|", "", "", "");
    let line = |design: &str, m: Option<&Measured>| {
        let Some(m) = m else {
            println!("| {design:<72} | {:>20} | {:>14} |", "—", "—");
            return;
        };
        let ratio = peer.map_or("—".to_owned(), |p| {
            format!("{:.2}× · {:.2}×", m.rps / p.rps, m.p99_ms / p.p99_ms)
        });
        println!(
            "| {design:<72} | {:>20} | {ratio:>14} |",
            format!("{:.0} · {:.1}", m.rps, m.p99_ms)
        );
    };
    line(
        "WASIp2, a new SQLite connection per request (read_model = off)",
        of("Spin, off"),
    );
    line(
        "(b) the read model in the key-value store (read_model = on, as shipped)",
        of("Spin"),
    );
    line(
        "(a) WASIp3, connection kept per instance, 16 at a time (Spin's default)",
        Some(&reuse.shared),
    );
    line(
        "(a) the same, one at a time per instance (--max-instance-concurrent-reuse-count 1)",
        Some(&reuse.one_at_a_time),
    );
    line("the Flask peer", peer);
    println!(
        "(a) runs on Spin 3.6.x only (WASI 0.3.0-rc-2026-01-06; Spin 4.0 links another release candidate), \
         and spin-host cannot run it: its wasmtime 48 implements the final WASI 0.3."
    );
}
