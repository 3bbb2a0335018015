//! The ledger survives losing its database. On each store a history is recorded through the API
//! of the real app on real Spin, backed up the way that store is backed up in earnest, written to
//! again (what a restore must not bring back), destroyed, restored, and served by a fresh Spin
//! whose every list, release and audit entry must answer byte for byte as before.
//!
//! - PostgreSQL: the exact script of `k8s/database/backup.yaml`'s CronJob, run with the Pod's
//!   environment resolved from the manifest (its Secret keys filled with the test server's
//!   credentials), then `k8s/database/restore.sh`.
//! - SQLite: `make backup` while Spin serves, and `make restore`.

use host_harness::{Host, HostBuilder, Runtime, release_body, repo, scratch_dir, token};
use ledger::{Executor, Timestamp};
use native_db::PostgresExecutor;
use native_db::testing::TestDb;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Versions the history records, and the one written after the backup.
const RECORDED: [&str; 3] = ["1.0.0", "1.1.0", "1.2.0"];
const AFTER_BACKUP: &str = "9.9.9";

/// Two weeks of a release ledger: approved and rejected releases, a failed production rollout
/// put back, one still on staging, and an observation that disagrees with the ledger.
fn record_history(host: &Host) {
    let kestra = token("kestra", &["deployer"]);
    let deploy = |version: &str, cluster: &str, status: &str| {
        let path = format!("/api/releases/{version}/deployments");
        let event = json!({"cluster": cluster, "status": status});
        let reply = host.post_json(&path, &kestra, &event);
        assert_eq!(reply.status, 201, "{}", reply.body);
    };
    host.pending_release_story(RECORDED[0], "First release.");
    host.decide(RECORDED[0], "approve", "ship it");
    for cluster in ["prod-east", "prod-west"] {
        deploy(RECORDED[0], cluster, "started");
        deploy(RECORDED[0], cluster, "succeeded");
    }
    host.pending_release_story(RECORDED[1], "Rejected: breaks the console.");
    host.decide(RECORDED[1], "reject", "the console is blank");
    host.pending_release_story(RECORDED[2], "Retry of 1.1.0.");
    host.decide(RECORDED[2], "approve", "fixed");
    deploy(RECORDED[2], "prod-east", "failed");
    deploy(RECORDED[2], "prod-east", "rolled_back");
    let observed_at = serde_json::to_value(now()).unwrap();
    let observation = json!({"digest": release_body("0.0.0")["digest"], "observed_at": observed_at,
                             "source": "karmada:spinapp/automatizacion-backend"});
    let reply = host.post_json(
        "/api/clusters/prod-west/observations",
        &kestra,
        &observation,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp::from_micros(i64::try_from(since_epoch.as_micros()).unwrap())
}

/// Every read the API offers over the recorded history, by path.
fn answers(host: &Host) -> BTreeMap<String, String> {
    answers_of(host, &RECORDED)
}

/// Every read the API offers over a history of the releases VERSIONS, by path.
fn answers_of(host: &Host, versions: &[&str]) -> BTreeMap<String, String> {
    let mut paths: Vec<String> = [
        "/api/releases?limit=100",
        "/api/releases?limit=1",
        "/api/approvals",
        "/api/approvals?state=pending",
        "/api/clusters",
        "/api/overview",
        "/api/audit?limit=100",
        "/api/audit?limit=2",
    ]
    .map(str::to_owned)
    .into();
    paths.extend(versions.iter().map(|v| format!("/api/releases/{v}")));
    let mut answers: BTreeMap<String, String> = paths
        .into_iter()
        .map(|path| {
            let reply = host.get(&path);
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            (path, reply.body)
        })
        .collect();
    // The figures, without the window's ends, which move with the clock.
    let mut insights = host.get("/api/insights?days=30").json();
    for end in ["from", "to"] {
        insights.as_object_mut().unwrap().remove(end);
    }
    answers.insert("/api/insights?days=30".into(), insights.to_string());
    answers
}

/// The newest audit entry's id: a restored ledger must go on numbering after it.
fn last_audit_id(host: &Host) -> i64 {
    host.get("/api/audit?limit=1").json()["items"][0]["id"]
        .as_i64()
        .unwrap()
}

/// After a restore: VERSION written after the backup is gone, and the ledger takes new writes.
fn assert_restored(host: &Host, before: &BTreeMap<String, String>, last_id: i64) {
    for (path, body) in answers(host) {
        assert_eq!(
            &body, &before[&path],
            "{path} answers differently after the restore"
        );
    }
    assert_eq!(
        host.get(&format!("/api/releases/{AFTER_BACKUP}")).status,
        404
    );
    let kestra = token("kestra", &["deployer"]);
    let created = host.post_json("/api/releases", &kestra, &release_body("2.0.0"));
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        last_audit_id(host) > last_id,
        "audit ids restart after a restore"
    );
}

fn write_after_backup(host: &Host) {
    let kestra = token("kestra", &["deployer"]);
    let created = host.post_json("/api/releases", &kestra, &release_body(AFTER_BACKUP));
    assert_eq!(created.status, 201, "{}", created.body);
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The one line a refused command prints, after checking it failed.
fn refused(output: Output) -> String {
    let line = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "succeeded: {line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    line
}

/// The files in DIR, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

mod postgres;
mod sqlite;
mod versions;
