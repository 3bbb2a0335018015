//! The rows every server is measured on, taken in turns, and the table they print as.

use crate::load::{Call, Measured, get, load};
use crate::servers::Server;
use anyhow::Result;
use std::time::Duration;

/// A request every server is measured on.
struct Row {
    label: &'static str,
    make: std::sync::Arc<dyn Fn(usize, usize) -> Call + Send + Sync>,
    /// Only the app serves it (the console, or the overview the peer has no route for).
    console: bool,
}

/// A deployment recorded on one of the seeded releases, by a deployer: the write measured.
pub fn deployment_write() -> impl Fn(usize, usize) -> Call + Send + Sync + 'static {
    let deployer = host_harness::token("bench", &["deployer"]);
    move |worker, n| Call {
        method: "POST",
        path: format!("/api/releases/1.{}.0/deployments", worker % 100),
        token: Some(deployer.clone()),
        body: Some(format!(
            r#"{{"cluster":"staging","status":"started","message":"bench {worker}-{n}"}}"#
        )),
    }
}

fn rows() -> Vec<Row> {
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
            label: "GET /api/overview (the console's backend call)",
            make: std::sync::Arc::new(get("/api/overview")),
            console: true,
        },
        Row {
            label: "POST …/deployments",
            make: std::sync::Arc::new(deployment_write()),
            console: false,
        },
    ]
}

/// Every row on every server, `ROUNDS` times, the servers taking turns within each row so that
/// noise on the machine hits them alike. Returns, per row, each server's mean figures.
pub async fn measure(
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
            .map(|runs| (!runs.is_empty()).then(|| Measured::mean(&runs)))
            .collect();
        table.push((row.label, means));
    }
    Ok(table)
}

pub fn print_table(
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
