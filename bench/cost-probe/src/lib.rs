//! The benchmark's profiler. Each request repeats one kind of work `N` times, named by its
//! query (`/?select=10`); the bench compares the latency against `/` to price one unit of
//! that work on each runtime. Serve it over the ledger's database so that its statements
//! read the ledger's schema. The kinds are what a ledger request does besides its own logic:
//!
//! - `variable`: read a Spin variable;
//! - `open`: open the default SQLite database and run one statement on it (the first statement
//!   on a connection also reads the schema);
//! - `select`: run a statement on one open connection: the migration check's read;
//! - `transaction`: `BEGIN`, that statement, `COMMIT` on one open connection;
//! - `log`: print a 200-byte line to stdout (the access log);
//! - `kv-two-gets`: read the read model's generation, then a kept answer, from the `default`
//!   key-value store in two calls, as the read model does;
//! - `kv-get-many`: the same two keys in one `wasi:keyvalue/batch` call (the candidate that
//!   bench/README.md measured and did not choose);
//! - `kv-seed`: keep the two keys (a 32-byte generation, an 8 KiB answer) once before those.
#![cfg(target_arch = "wasm32")]
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::wit::wasi::keyvalue::{batch, store};
use spin_sdk::{http_component, sqlite3, variables};

/// Answers through `spin-edge`, as the app does: the SDK's own path sends the body in a
/// second write that Nagle's algorithm can hold for 40 ms at concurrency 1, which would swamp
/// the microseconds measured here.
#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let query = req.path_with_query().unwrap_or_default();
    let query = query.split_once('?').map_or("", |(_, q)| q);
    let (status, body) = match query.split_once('=') {
        None => (200, "nothing".to_owned()),
        Some((kind, times)) => match times.parse::<u32>() {
            Err(_) => (400, "N must be a number".to_owned()),
            Ok(times) => match run(kind, times) {
                Ok(()) => (200, format!("{kind} × {times}")),
                Err(e) => (500, e),
            },
        },
    };
    spin_edge::send(out, status, &[], body.as_bytes());
}

/// The ledger's migration check: the cheapest read of a ledger table.
const READ: &str = "SELECT MAX(version) FROM schema_migrations";

/// The read model's two keys and the sizes of their values: its generation and a kept answer.
const KEPT: [(&str, usize); 2] = [("ledger:generation", 32), ("ledger:read:probe:page", 8192)];

fn run(kind: &str, times: u32) -> Result<(), String> {
    let fail = |e: sqlite3::Error| format!("{e:?}");
    match kind {
        "variable" => {
            for _ in 0..times {
                variables::get("probe").map_err(|e| format!("{e:?}"))?;
            }
        }
        "open" => {
            for _ in 0..times {
                let db = sqlite3::Connection::open_default().map_err(fail)?;
                db.execute(READ, &[]).map_err(fail)?;
            }
        }
        "select" | "transaction" => {
            let db = sqlite3::Connection::open_default().map_err(fail)?;
            for _ in 0..times {
                if kind == "transaction" {
                    db.execute("BEGIN", &[]).map_err(fail)?;
                }
                db.execute(READ, &[]).map_err(fail)?;
                if kind == "transaction" {
                    db.execute("COMMIT", &[]).map_err(fail)?;
                }
            }
        }
        "log" => {
            let line = "x".repeat(199);
            for _ in 0..times {
                println!("{line}");
            }
        }
        "kv-seed" | "kv-two-gets" | "kv-get-many" => {
            let bucket = store::open("default").map_err(|e| format!("{e:?}"))?;
            let kv = |e: store::Error| format!("{e:?}");
            let keys = KEPT.map(|(key, _)| key.to_owned());
            for _ in 0..times {
                match kind {
                    "kv-seed" => {
                        for (key, bytes) in KEPT {
                            bucket.set(key, &vec![b'x'; bytes]).map_err(kv)?;
                        }
                    }
                    "kv-two-gets" => {
                        for key in &keys {
                            bucket.get(key).map_err(kv)?.ok_or("run kv-seed first")?;
                        }
                    }
                    _ => {
                        let found = batch::get_many(&bucket, &keys).map_err(kv)?;
                        if found.len() != keys.len() {
                            return Err("run kv-seed first".into());
                        }
                    }
                }
            }
        }
        other => return Err(format!("unknown kind {other}")),
    }
    Ok(())
}
