//! Kill the runtime with SIGKILL in the middle of a write load, restart it on the same SQLite
//! store: every write that was acknowledged with a 2xx is still there, and the database file
//! passes `PRAGMA integrity_check`. On spin-host and on real Spin, whose database the ledger's
//! first migration puts into WAL.

use host_harness::{HostBuilder, Runtime, scratch_dir, token};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Acknowledged writes before the SIGKILL: enough to have some in every stage of a commit.
const KILL_AFTER_ACKNOWLEDGED: usize = 200;

fn acknowledged_writes_survive_sigkill(runtime: Runtime) {
    let dir = scratch_dir("crash");
    let kestra = token("kestra", &["deployer"]);
    let mut host = HostBuilder::on(runtime, "crash")
        .sqlite_dir(dir.clone())
        .start();
    host.create_release(&kestra, "5.0.0");

    let acknowledged = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for writer in 0..8 {
            let (host, kestra, acknowledged, stop) = (&host, &kestra, &acknowledged, &stop);
            scope.spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let message = format!("w{writer}-{n}");
                    let event =
                        json!({"cluster": "staging", "status": "started", "message": message});
                    match host.try_post_json("/api/releases/5.0.0/deployments", kestra, &event) {
                        Some(status) if (200..300).contains(&status) => {
                            acknowledged.lock().unwrap().push(message)
                        }
                        Some(status) => panic!("write refused with {status}"),
                        None => break,
                    }
                }
            });
        }
        // Killed once enough writes were acknowledged to test anything, however fast or slow the
        // machine is today; the writers are still sending when it dies.
        let deadline = Instant::now() + Duration::from_secs(120);
        while acknowledged.lock().unwrap().len() < KILL_AFTER_ACKNOWLEDGED {
            assert!(
                Instant::now() < deadline,
                "no {KILL_AFTER_ACKNOWLEDGED} writes acknowledged within 120 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        host.sigkill();
        stop.store(true, Ordering::SeqCst);
    });
    host.kill();
    let acknowledged = acknowledged.into_inner().unwrap();

    let restarted = HostBuilder::on(runtime, "crash")
        .sqlite_dir(dir.clone())
        .start();
    let detail = restarted.get("/api/releases/5.0.0").json();
    let stored: HashSet<String> = detail["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|m| !stored.contains(*m))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    drop(restarted);

    let db = rusqlite::Connection::open(dir.join("sqlite_db.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let audited: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'deployment.recorded'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let deployments: i64 = db
        .query_row("SELECT COUNT(*) FROM deployments", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        audited, deployments,
        "every stored change has its audit entry, and no more"
    );
    eprintln!(
        "crash test on {}: {} writes acknowledged before SIGKILL, {} stored",
        runtime.name(),
        acknowledged.len(),
        deployments
    );
}

host_harness::on_both_runtimes!(acknowledged_writes_survive_sigkill);
