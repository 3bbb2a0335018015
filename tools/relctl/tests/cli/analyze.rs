//! `relctl analyze` against a real Prometheus (Debian's), its storage backfilled by `promtool
//! tsdb create-blocks-from openmetrics` with the backend's series as spin-host names them:
//! stretches of known traffic a little over an hour ago, so every figure is fixed and each
//! verdict exact, with the queries of k8s/observability/canary-analysis.yaml as they are.

use super::refusal;
use host_harness::prometheus::Prometheus;
use host_harness::{free_port, repo, scratch_dir};
use std::fmt::Write as _;
use std::process::{Command, Output};

/// Seconds between samples, and in each window.
const STEP: i64 = 15;
const WINDOW: i64 = 300;

/// What the backend answered in the step that ends OFFSET seconds after the start: (fast 2xx,
/// 5xx, slow 2xx). Good traffic throughout, except in the window after each scene's release.
fn traffic(offset: i64) -> (u64, u64, u64) {
    let after = |scene: i64| offset > scene && offset <= scene + WINDOW;
    if after(BAD) {
        (6, 4, 0)
    } else if after(QUIET) {
        (0, 0, 0)
    } else if after(SLOW) {
        (0, 0, 10)
    } else {
        (10, 0, 0)
    }
}

/// Each scene's release time, as offsets from the start, two windows apart at least.
const GOOD: i64 = 2 * WINDOW;
const BAD: i64 = GOOD + 3 * WINDOW;
const QUIET: i64 = BAD + 3 * WINDOW;
const SLOW: i64 = QUIET + 3 * WINDOW;
const END: i64 = SLOW + 2 * WINDOW;

/// The series from START, cumulative, in OpenMetrics.
fn openmetrics(start: i64) -> String {
    let steps: Vec<(i64, (u64, u64, u64))> = (0..END / STEP)
        .map(|i| (start + i * STEP, traffic(i * STEP)))
        .collect();
    let series = |text: &mut String, name: &str, label: &str, add: fn((u64, u64, u64)) -> u64| {
        let mut total = 0;
        for (at, step) in &steps {
            total += add(*step);
            writeln!(text, "{name}{{component=\"backend\",{label}}} {total} {at}").unwrap();
        }
    };
    let mut text = String::from("# TYPE http_server_requests counter\n");
    let requests = "http_server_requests_total";
    series(&mut text, requests, "status=\"200\"", |(fast, _, slow)| {
        fast + slow
    });
    series(&mut text, requests, "status=\"500\"", |(_, errors, _)| {
        errors
    });
    text.push_str("# TYPE http_server_request_duration_seconds histogram\n");
    let bucket = "http_server_request_duration_seconds_bucket";
    series(&mut text, bucket, "le=\"0.05\"", |(fast, errors, _)| {
        fast + errors
    });
    series(&mut text, bucket, "le=\"0.5\"", |(fast, errors, _)| {
        fast + errors
    });
    series(&mut text, bucket, "le=\"1.0\"", |(fast, errors, slow)| {
        fast + errors + slow
    });
    series(&mut text, bucket, "le=\"+Inf\"", |(fast, errors, slow)| {
        fast + errors + slow
    });
    text + "# EOF\n"
}

/// A real Prometheus holding the series above.
struct Backfilled {
    prometheus: Prometheus,
    start: i64,
}

impl Backfilled {
    /// A Prometheus serving the series above, from an hour boundary over three hours ago.
    fn new() -> Self {
        let dir = scratch_dir("analysis-prometheus");
        let now = ledger::Timestamp::now().as_micros() / 1_000_000;
        let start = now / 3600 * 3600 - 3 * 3600;
        std::fs::write(dir.join("series.om"), openmetrics(start)).unwrap();
        let backfill = Command::new("promtool")
            .args([
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "series.om",
                "data",
            ])
            .current_dir(&dir)
            .output()
            .expect("promtool (Debian's prometheus package; make tools installs it)");
        assert!(backfill.status.success(), "{backfill:?}");
        let prometheus = Prometheus::start(&dir, "global: {scrape_interval: 30s}\n");
        Backfilled { prometheus, start }
    }

    /// `relctl analyze` of the release at OFFSET, with ARGS more.
    fn analyze(&self, offset: i64, args: &[&str]) -> Output {
        let since = time(self.start + offset);
        analyze(&self.prometheus.base, &since, args)
    }
}

/// A Unix time as RFC 3339.
fn time(seconds: i64) -> String {
    ledger::Timestamp::from_micros(seconds * 1_000_000).to_string()
}

fn analyze(prometheus: &str, since: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relctl"))
        .current_dir(repo())
        .args([
            "analyze",
            "--prometheus",
            prometheus,
            "--cluster",
            "prod-east",
        ])
        .args(["--since", since, "--settle", "0"])
        .args(args)
        .output()
        .unwrap()
}

fn passed(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    stdout
}

#[test]
fn the_analysis_judges_each_window_against_the_one_before() {
    let prometheus = Backfilled::new();
    // As good as the release before: 200 requests a window, all fast.
    let good = passed(&prometheus.analyze(GOOD, &[]));
    assert!(
        good.starts_with("prod-east: analysis passed (after: 200 requests, 0 errors, p99 0.050 s"),
        "{good}"
    );

    // Four answers in ten are 5xx: stopped, whatever the thresholds on latency say.
    let bad = refusal(&prometheus.analyze(BAD, &[]), 1);
    assert!(
        bad.contains("prod-east: analysis failed: error share 40.00 % above the 5.00 % allowed"),
        "{bad}"
    );
    // A ceiling above that still stops it: 40 % against 0 % before is a rise of 40 points.
    let rise = refusal(&prometheus.analyze(BAD, &["--max-error-share", "0.5"]), 1);
    assert!(
        rise.contains("error share 40.00 % against 0.00 % before"),
        "{rise}"
    );

    // No request at all: nothing to judge, and that stops the rollout unless told otherwise.
    let quiet = refusal(&prometheus.analyze(QUIET, &[]), 1);
    assert!(
        quiet.contains("analysis inconclusive: 0 requests in the window, fewer than the 50"),
        "{quiet}"
    );
    let let_through = passed(&prometheus.analyze(QUIET, &["--inconclusive", "pass"]));
    assert!(
        let_through.ends_with("let through (inconclusive: pass)"),
        "{let_through}"
    );

    // Every answer between 0.5 s and 1 s: the p99 is over the ceiling.
    let slow = refusal(&prometheus.analyze(SLOW, &[]), 1);
    assert!(
        slow.contains("p99 0.995 s above the 0.500 s allowed"),
        "{slow}"
    );
    let lenient = passed(&prometheus.analyze(SLOW, &["--max-p99", "2", "--max-p99-growth", "100"]));
    assert!(lenient.contains("analysis passed"), "{lenient}");
}

#[test]
fn without_an_answer_from_prometheus_nothing_passes() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let long_ago = time(1_700_000_000);
    let down = refusal(&analyze(&closed, &long_ago, &[]), 1);
    assert!(
        down.contains(&format!("Prometheus at {closed} cannot answer")),
        "{down}"
    );
    // Not Prometheus: an HTTP server whose answer is no query result.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let _ = stream.read(&mut [0; 4096]);
            let body = "<html>not here</html>";
            let head = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all((head + body).as_bytes());
        }
    });
    let wrong = refusal(&analyze(&other, &long_ago, &[]), 1);
    assert!(
        wrong.contains("cannot answer") && wrong.contains("HTTP 404"),
        "{wrong}"
    );
}

#[test]
fn bad_limits_and_queries_are_refused_before_asking_anything() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let long_ago = time(1_700_000_000);
    for args in [
        &["--max-error-share", "1.5"][..],
        &["--max-p99", "-1"],
        &["--window", "4"],
        &["--inconclusive", "maybe"],
    ] {
        refusal(&analyze(&closed, &long_ago, args), 2);
    }
    let queries = scratch_dir("analysis-queries").join("queries.yaml");
    std::fs::write(&queries, "requests: up\nerrors: up\np99_seconds: up\n").unwrap();
    let path = queries.to_str().unwrap();
    let why = refusal(&analyze(&closed, &long_ago, &["--queries", path]), 2);
    assert!(why.contains("the requests query has no ${window}"), "{why}");
}
