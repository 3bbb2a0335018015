//! The console in a real browser: Debian's Chromium, driven by playwright-core
//! (`tests/browser/console.mjs`), against the real app served by real Spin and by spin-host.
//! `make test` installs both; this test fails, never skips, when they are missing.

use host_harness::{HostBuilder, Runtime, repo, token};
use std::process::Command;

fn the_console_works_in_chromium_at_desktop_and_phone_widths(runtime: Runtime) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run `make tools` (apt-get install chromium)"
    );
    assert!(
        repo().join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `make tools` (npm ci)"
    );
    // A short refresh interval, so the in-place refresh shows within the test.
    let host = HostBuilder::on(runtime, "browser")
        .var("refresh_seconds", "1")
        .start();
    let version = "1.4.0";
    host.pending_release_story(
        version,
        "Faster pages.\n<script>window.__pwned = 1</script>",
    );

    production_history(&host);

    let out_dir = repo().join("test-artifacts/console").join(runtime.name());
    let output = Command::new("node")
        .arg(repo().join("components/frontend/tests/browser/console.mjs"))
        .env("BASE_URL", &host.base)
        .env("APPROVER_TOKEN", token("alice", &["approver"]))
        .env("VERSION", version)
        .env("EARLIER", "0.9.0")
        .env("OUT_DIR", &out_dir)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs (make tools installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for shot in [
        "overview-desktop.png",
        "release-desktop.png",
        "overview-phone-light.png",
        "release-phone-dark.png",
        "insights-desktop.png",
        "insights-phone-light.png",
        "insights-phone-dark.png",
        "releases-filtered-desktop.png",
        "compare-desktop.png",
        "compare-phone-light.png",
        "compare-phone-dark.png",
        "compare-empty-phone-light.png",
        "audit-filtered-phone-dark.png",
        "filter-refused-phone-light.png",
    ] {
        let size = std::fs::metadata(out_dir.join(shot)).map_or(0, |m| m.len());
        assert!(size > 10_000, "{shot} is {size} bytes");
    }
}

/// Release 0.9.0 in production, for the insights page: it fails on prod-east, then succeeds
/// there and on prod-west.
fn production_history(host: &host_harness::Host) {
    let kestra = token("kestra", &["deployer"]);
    let mut release = host_harness::release_body("0.9.0");
    // Committed a day and two hours before it reaches production.
    let committed = Command::new("date")
        .args(["-u", "-d", "26 hours ago", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let committed = String::from_utf8(committed.stdout).unwrap();
    release["commit_time"] = serde_json::json!(committed.trim());
    assert_eq!(
        host.post_json("/api/releases", &kestra, &release).status,
        201
    );
    let deploy = |cluster: &str, status: &str| {
        let event = serde_json::json!({"cluster": cluster, "status": status});
        let sent = host.post_json("/api/releases/0.9.0/deployments", &kestra, &event);
        assert_eq!(sent.status, 201, "{cluster} {status}");
    };
    deploy("staging", "succeeded");
    let request = serde_json::json!({});
    assert_eq!(
        host.post_json("/api/releases/0.9.0/approval", &kestra, &request)
            .status,
        201
    );
    let decision = serde_json::json!({"decision": "approve", "comment": "ok"});
    let alice = token("alice", &["approver"]);
    let decided = host.post_json("/api/releases/0.9.0/approval/decision", &alice, &decision);
    assert_eq!(decided.status, 200);
    for (cluster, status) in [
        ("prod-east", "failed"),
        ("prod-east", "succeeded"),
        ("prod-west", "succeeded"),
    ] {
        deploy(cluster, status);
    }
}

host_harness::on_both_runtimes!(the_console_works_in_chromium_at_desktop_and_phone_widths);
