//! The read path's targets (issue 34, after 23), checked against the figures this run measured:
//! each printed as met or missed with the figure that decided it. Ratios, never absolute speeds,
//! where a target compares against the peer or the bare component of the same run.

use crate::load::Measured;
use crate::servers::Server;
use host_harness::Runtime;
use std::time::Duration;

type Table<'a> = &'a [(&'static str, Vec<Option<Measured>>)];

pub struct Figures<'a> {
    pub servers: &'a [Server],
    pub sqlite: Option<Table<'a>>,
    pub pg_servers: &'a [Server],
    pub postgres: Option<Table<'a>>,
    pub hellos: &'a [(&'static str, Measured)],
    pub starts: &'a [(Runtime, Duration, Duration)],
    pub sizes: &'a [(&'static str, u64)],
}

/// The API's reads (the peer serves no overview: that row is held to the hello target only).
const READS: [&str; 4] = [
    "GET /api/releases?limit=100",
    "GET /api/releases?limit=20",
    "GET /api/clusters",
    "GET /api/overview (the console's backend call)",
];
const OVERVIEW: &str = "GET / (console overview)";
const WRITES: &str = "POST …/deployments";

/// One target: what it asks, and the figure that decided it.
fn verdict(what: &str, met: bool, figure: String) {
    let word = if met { "met   " } else { "MISSED" };
    println!("{word} {what}: {figure}");
}

/// The figures of ROW for the server named NAME.
fn cell<'a>(table: Table<'a>, servers: &[Server], row: &str, name: &str) -> Option<&'a Measured> {
    let i = servers.iter().position(|s| s.name == name)?;
    table
        .iter()
        .find(|(label, _)| *label == row)?
        .1
        .get(i)?
        .as_ref()
}

pub fn print(f: &Figures) {
    println!("\nTargets (issue 34), from this run's figures:");
    if let Some(sqlite) = f.sqlite {
        for runtime in ["Spin", "spin-host"] {
            let hello = f.hellos.iter().find(|(n, _)| *n == runtime).map(|(_, m)| m);
            for row in READS {
                let (Some(m), peer) = (
                    cell(sqlite, f.servers, row, runtime),
                    cell(sqlite, f.servers, row, "Flask"),
                ) else {
                    continue;
                };
                if let Some(p) = peer {
                    verdict(
                        &format!("{runtime} {row} at 1.2× the peer or more, p99 at or below it"),
                        m.rps >= 1.2 * p.rps && m.p99_ms <= p.p99_ms,
                        format!(
                            "{:.2}× its throughput, {:.1} ms against its {:.1} ms",
                            m.rps / p.rps,
                            m.p99_ms,
                            p.p99_ms
                        ),
                    );
                }
                if let Some(h) = hello {
                    verdict(
                        &format!("{runtime} {row} at 50 % of the bare hello component or more"),
                        m.rps >= 0.5 * h.rps,
                        format!("{:.0} %", 100.0 * m.rps / h.rps),
                    );
                }
            }
        }
        if let Some(m) = cell(sqlite, f.servers, OVERVIEW, "Spin") {
            verdict(
                "the console overview under Spin at 1,500 req/s or more, p99 < 25 ms",
                m.rps >= 1500.0 && m.p99_ms < 25.0,
                format!("{:.0} req/s, p99 {:.1} ms", m.rps, m.p99_ms),
            );
        }
        if let Some(m) = cell(sqlite, f.servers, WRITES, "Spin") {
            verdict(
                "writes under Spin: p99 < 100 ms at concurrency 16",
                m.p99_ms < 100.0,
                format!("p99 {:.1} ms", m.p99_ms),
            );
        }
    }
    if let (Some(pg), Some(sqlite)) = (f.postgres, f.sqlite) {
        for row in READS {
            let (Some(m), Some(p)) = (
                cell(pg, f.pg_servers, row, "Spin"),
                cell(sqlite, f.servers, row, "Flask"),
            ) else {
                continue;
            };
            verdict(
                &format!("PostgreSQL {row} under Spin ahead of the peer on SQLite"),
                m.rps > p.rps,
                format!("{:.2}×", m.rps / p.rps),
            );
        }
    }
    for (name, bytes) in f.sizes.iter().filter(|(n, _)| *n != "hello") {
        verdict(
            &format!("{name}.wasm under 2 MB"),
            *bytes < 2 * 1024 * 1024,
            format!("{bytes} bytes"),
        );
    }
    for (runtime, cold, warm) in f.starts {
        verdict(
            &format!("{} cold start under 1 s, warm under 100 ms", runtime.name()),
            cold.as_secs_f64() < 1.0 && warm.as_secs_f64() < 0.1,
            format!(
                "{:.0} ms cold, {:.0} ms warm",
                cold.as_secs_f64() * 1e3,
                warm.as_secs_f64() * 1e3
            ),
        );
    }
}
