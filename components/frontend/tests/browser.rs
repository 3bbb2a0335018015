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

    let out_dir = repo().join("test-artifacts/console").join(runtime.name());
    let output = Command::new("node")
        .arg(repo().join("components/frontend/tests/browser/console.mjs"))
        .env("BASE_URL", &host.base)
        .env("APPROVER_TOKEN", token("alice", &["approver"]))
        .env("VERSION", version)
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
    ] {
        let size = std::fs::metadata(out_dir.join(shot)).map_or(0, |m| m.len());
        assert!(size > 10_000, "{shot} is {size} bytes");
    }
}

host_harness::on_both_runtimes!(the_console_works_in_chromium_at_desktop_and_phone_widths);
