//! Observability (k8s/observability/): the alert rules under `promtool test rules`, each with
//! a severity the kubernetes-mixin routes on and a runbook in the README; every metric under
//! `promtool check metrics`; and the dashboard against a real Prometheus (Debian's
//! `prometheus`) scraping the app on spin-host: the ledger's figures from `/metrics` and the
//! host's request metrics from its admin address. Every panel's query and every release
//! annotation must parse and return data.

mod spanmetrics;

use host_harness::prometheus::Prometheus;
use host_harness::{HostBuilder, free_port, repo, scratch_dir, token};
use serde_json::{Value, json};
use std::process::{Command, Stdio};

fn observability(file: &str) -> std::path::PathBuf {
    repo().join("k8s/observability").join(file)
}

/// The scrape job NAME of `prometheus.yaml`.
fn scrape_job(name: &str) -> serde_yaml::Value {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(observability("prometheus.yaml")).unwrap())
            .unwrap();
    let jobs = config["scrape_configs"].as_sequence().unwrap();
    jobs.iter()
        .find(|job| job["job_name"] == name)
        .unwrap()
        .clone()
}

fn promtool(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool (Debian's prometheus package; make tools installs it)")
}

#[test]
fn every_alert_passes_its_promtool_tests_and_each_has_a_silent_case() {
    let dir = observability("");
    let check = promtool(&["check", "rules", "alerts.yaml"], &dir);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let test = promtool(&["test", "rules", "alerts.test.yaml"], &dir);
    assert!(
        test.status.success(),
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    // Each alert is tested firing and staying silent.
    let rules: Value =
        serde_yaml::from_str(&std::fs::read_to_string(observability("alerts.yaml")).unwrap())
            .unwrap();
    let tests = std::fs::read_to_string(observability("alerts.test.yaml")).unwrap();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            let cases: Vec<&str> = tests
                .split("- eval_time:")
                .filter(|case| case.contains(&format!("alertname: {name}\n")))
                .collect();
            assert!(
                cases.iter().any(|c| c.contains("exp_alerts: []")),
                "{name} has no case where it must not fire"
            );
            assert!(
                cases.iter().any(|c| c.contains("exp_labels:")),
                "{name} has no case where it fires"
            );
        }
    }
}

/// The Prometheus Operator's PrometheusRule holds exactly alerts.yaml's rules, so the alerts
/// above are the ones either kind of Prometheus loads.
#[test]
fn the_prometheus_rule_holds_the_alert_rules_unchanged() {
    let read = |file: &str| -> Value {
        serde_yaml::from_str(&std::fs::read_to_string(observability(file)).unwrap()).unwrap()
    };
    let alerts = read("alerts.yaml");
    let rule = read("prometheus-operator/prometheus-rule.yaml");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert!(
        rule["spec"]["groups"] == alerts["groups"],
        "prometheus-rule.yaml differs from alerts.yaml: run scripts/prometheus-rule.sh"
    );
}

/// Where each alert's runbook is: its section of k8s/observability/README.md.
const RUNBOOKS: &str =
    "https://github.com/acme/automatizacion/blob/main/k8s/observability/README.md#";

#[test]
fn every_alert_has_a_severity_the_mixin_routes_and_a_runbook_that_says_what_to_do() {
    let rules: Value =
        serde_yaml::from_str(&std::fs::read_to_string(observability("alerts.yaml")).unwrap())
            .unwrap();
    let readme = std::fs::read_to_string(observability("README.md")).unwrap();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
            assert!(
                ["critical", "warning", "info"].contains(&severity),
                "{name}: severity {severity:?}"
            );
            let runbook = rule["annotations"]["runbook_url"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(runbook, format!("{RUNBOOKS}{}", name.to_lowercase()));
            // GitHub's anchor for `### NAME` is NAME in lowercase; the section says something.
            let section = readme
                .split(&format!("\n### {name}\n"))
                .nth(1)
                .unwrap_or_else(|| panic!("the README has no runbook section for {name}"));
            let says = section.split("\n#").next().unwrap_or_default().trim();
            assert!(
                says.len() > 100,
                "{name}'s runbook says too little: {says:?}"
            );
        }
    }
}

#[test]
fn every_metric_passes_promtools_lint() {
    let admin = format!("127.0.0.1:{}", free_port());
    let app = HostBuilder::new("metrics-lint")
        .admin_listen(&admin)
        .start();
    let kestra = token("kestra", &["deployer"]);
    app.create_release(&kestra, "1.0.0");
    let event = json!({"cluster": "staging", "status": "succeeded"});
    let sent = app.post_json("/api/releases/1.0.0/deployments", &kestra, &event);
    assert_eq!(sent.status, 201);
    let ledger = app.get("/metrics");
    assert_eq!(ledger.status, 200);
    assert!(
        ledger
            .body
            .contains("# TYPE ledger_deployment_events_total counter")
    );
    let host = ureq::get(&format!("http://{admin}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for (what, text) in [
        ("the ledger's", ledger.body.as_str()),
        ("the host's", &host),
    ] {
        let mut lint = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut lint.stdin.take().unwrap(), text.as_bytes()).unwrap();
        let out = lint.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool finds fault with {what} metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_weakened_rule_fails_its_tests() {
    // The same tests against a copy whose error threshold was raised tenfold must fail.
    let dir = scratch_dir("alerts-mutated");
    let rules = std::fs::read_to_string(observability("alerts.yaml")).unwrap();
    assert!(rules.contains("> 0.05"));
    std::fs::write(dir.join("alerts.yaml"), rules.replace("> 0.05", "> 0.5")).unwrap();
    std::fs::copy(
        observability("alerts.test.yaml"),
        dir.join("alerts.test.yaml"),
    )
    .unwrap();
    let test = promtool(&["test", "rules", "alerts.test.yaml"], &dir);
    assert!(
        !test.status.success(),
        "a rule that cannot fire passed its tests"
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    assert!(report.contains("LedgerApiErrorRatioHigh"), "{report}");
}

/// A real Prometheus scraping TARGETS ((job, host:port, honor_labels)) every second, with the
/// alert rules loaded, as k8s/observability/prometheus.yaml configures it in clusters.
fn scraping(targets: &[(&str, String, bool)]) -> Prometheus {
    let jobs: Vec<(&str, String, bool, String)> = targets
        .iter()
        .map(|(job, target, honor)| (*job, target.clone(), *honor, String::new()))
        .collect();
    scraping_jobs(&jobs)
}

/// Like [`scraping`], each job with more of its settings (YAML under the job).
fn scraping_jobs(targets: &[(&str, String, bool, String)]) -> Prometheus {
    let dir = scratch_dir("prometheus");
    std::fs::copy(observability("alerts.yaml"), dir.join("alerts.yaml")).unwrap();
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: {}\nrule_files: [alerts.yaml]\nscrape_configs:\n",
    );
    for (job, target, honor, more) in targets {
        config.push_str(&format!(
            "  - job_name: {job}\n    honor_labels: {honor}\n    static_configs:\n      - targets: ['{target}']\n        labels: {{cluster: local}}\n{more}"
        ));
    }
    Prometheus::start(&dir, &config)
}

/// A panel query as Grafana sends it: template variables replaced.
fn as_grafana_sends(expr: &str) -> String {
    expr.replace("$__rate_interval", "30s")
        .replace("$cluster", ".*")
}

#[test]
fn every_dashboard_panel_returns_data_from_a_real_prometheus() {
    let admin = format!("127.0.0.1:{}", free_port());
    let app = HostBuilder::new("observability")
        .admin_listen(&admin)
        .start();
    let address = app.base.trim_start_matches("http://").to_owned();
    let prometheus = scraping(&[
        ("automatizacion-backend", address, true),
        ("spin-host", admin, false),
    ]);

    // Traffic: reads, refusals, a release deployed to staging and waiting for approval.
    let kestra = token("kestra", &["deployer"]);
    app.create_release(&kestra, "1.0.0");
    for status in ["started", "succeeded"] {
        let event = json!({"cluster": "staging", "status": status});
        assert_eq!(
            app.post_json("/api/releases/1.0.0/deployments", &kestra, &event)
                .status,
            201
        );
    }
    assert_eq!(
        app.post_json("/api/releases/1.0.0/approval", &kestra, &json!({}))
            .status,
        201
    );
    // And a production history for the four keys: 0.9.0 fails on prod-east, then succeeds.
    let mut release = host_harness::release_body("0.9.0");
    release["commit_time"] = json!("2026-01-01T00:00:00Z");
    assert_eq!(
        app.post_json("/api/releases", &kestra, &release).status,
        201
    );
    let deploy = |cluster: &str, status: &str| {
        let event = json!({"cluster": cluster, "status": status});
        let sent = app.post_json("/api/releases/0.9.0/deployments", &kestra, &event);
        assert_eq!(sent.status, 201);
    };
    deploy("staging", "succeeded");
    assert_eq!(
        app.post_json("/api/releases/0.9.0/approval", &kestra, &json!({}))
            .status,
        201
    );
    let alice = token("alice", &["approver"]);
    let decision = json!({"decision": "approve", "comment": "ok"});
    let decided = app.post_json("/api/releases/0.9.0/approval/decision", &alice, &decision);
    assert_eq!(decided.status, 200);
    for status in ["failed", "succeeded"] {
        deploy("prod-east", status);
    }
    let traffic = || {
        for path in [
            "/api/releases",
            "/api/clusters",
            "/",
            "/releases",
            "/nowhere",
        ] {
            app.get(path);
        }
        app.post("/api/releases", None, "application/json", b"{}");
    };
    // Both jobs up; then each panel answers once Prometheus holds two scrapes with traffic
    // between them (rates need two samples). Waiting for the data, not for a time, keeps a
    // slow scrape on a busy machine from failing the test.
    prometheus.eventually("both targets scraped", |p| {
        traffic();
        let up = p.query("sum(up)");
        (up["data"]["result"][0]["value"][1] == "2").then_some(())
    });
    // When prod-east's release was first scraped (the release annotations are asked then).
    let first_scraped = prometheus.eventually("prod-east's release scraped", |p| {
        let first = p.query("timestamp(ledger_cluster_release{cluster=\"prod-east\"})");
        first["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    });

    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(observability("dashboard.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    let panels: Vec<&Value> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|panel| panel["type"] != "row")
        .collect();
    for panel in &panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = as_grafana_sends(target["expr"].as_str().unwrap());
            let what = format!("{}: {expr} returns data", panel["title"]);
            prometheus.eventually(&what, |p| {
                let answer = p.query(&expr);
                assert_eq!(
                    answer["status"], "success",
                    "{}: {expr}: {answer}",
                    panel["title"]
                );
                traffic();
                let has_data = !answer["data"]["result"].as_array().unwrap().is_empty();
                has_data.then_some(())
            });
            checked += 1;
        }
    }
    assert_eq!(checked, panels.len());
    // The release markers: a cluster's new release shows while it is new. Each is asked at the
    // moment prod-east's 0.9.0 was first scraped, however long the panels above took.
    let annotations = dashboard["annotations"]["list"].as_array().unwrap();
    assert!(!annotations.is_empty(), "the dashboard marks no releases");
    for annotation in annotations {
        let expr = as_grafana_sends(annotation["expr"].as_str().unwrap());
        let marks = prometheus.eventually(&format!("{expr} marks a release"), |p| {
            let answer = p.query_at(&expr, Some(&first_scraped));
            assert_eq!(answer["status"], "success", "{expr}: {answer}");
            let marks = answer["data"]["result"].as_array().unwrap().clone();
            (!marks.is_empty()).then_some(marks)
        });
        let title = annotation["titleFormat"].as_str().unwrap();
        assert!(title.contains("{{version}}") && title.contains("{{cluster}}"));
        assert!(
            marks.iter().any(|m| m["metric"]["cluster"] == "prod-east"
                && m["metric"]["version"] == "0.9.0"),
            "{marks:?}"
        );
    }

    // The figures are the right ones, not just present.
    // 0.9.0 succeeded on prod-east after its failure; 1.0.0 waits for approval.
    let release = prometheus.query("ledger_cluster_release{cluster=\"prod-east\"}");
    assert_eq!(
        release["data"]["result"][0]["metric"]["version"], "0.9.0",
        "{release}"
    );
    let failure_rate = prometheus.query("ledger_dora_change_failure_rate");
    assert_eq!(
        failure_rate["data"]["result"][0]["value"][1], "0",
        "{failure_rate}"
    );
    let pending = prometheus.query("ledger_approvals{state=\"pending\"}");
    assert_eq!(pending["data"]["result"][0]["value"][1], "1");
    // Every round of traffic sends one anonymous write: the counter grows past one.
    prometheus.eventually("401s counted", |p| {
        let refused =
            p.query("sum(http_server_requests_total{component=\"backend\",status=\"401\"})");
        let count = refused["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        (count >= 2.0).then_some(())
    });
    let unmatched = prometheus.query("http_server_requests_total{route=\"unmatched\"}");
    assert!(
        unmatched["data"]["result"].as_array().unwrap().is_empty(),
        "the console answers every path the API does not"
    );
    // The rules load in a real Prometheus too.
    let rules = prometheus.get("/api/v1/rules").unwrap();
    assert!(rules.contains("ProductionNotOnApprovedRelease"), "{rules}");
}

/// With `public_read` off, as in the clusters, the gauges need a token: a real Prometheus
/// scrapes them with the `authorization` of the backend's job in `prometheus.yaml`, its
/// credentials file holding a viewer token, while the same target without it is refused.
#[test]
fn a_closed_ledger_is_scraped_with_the_token_prometheus_yaml_names() {
    let app = HostBuilder::new("observability-closed")
        .var("public_read", "false")
        .start();
    let address = app.base.trim_start_matches("http://").to_owned();
    let backend = scrape_job("automatizacion-backend");
    let mut authorization = backend["authorization"].clone();
    assert_eq!(authorization["type"], "Bearer", "{authorization:?}");
    let credentials = scratch_dir("prometheus-token").join("token");
    std::fs::write(&credentials, token("prometheus", &["viewer"])).unwrap();
    authorization["credentials_file"] = credentials.display().to_string().into();
    let mut with_token = serde_yaml::Mapping::new();
    with_token.insert("authorization".into(), authorization);
    let indented: String = serde_yaml::to_string(&with_token)
        .unwrap()
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    let prometheus = scraping_jobs(&[
        ("with-token", address.clone(), true, indented),
        ("without-token", address, true, String::new()),
    ]);
    prometheus.eventually("both scraped, one refused", |p| {
        let up = |job: &str| {
            p.query(&format!("up{{job=\"{job}\"}}"))["data"]["result"][0]["value"][1]
                .as_str()
                .map(str::to_owned)
        };
        (up("with-token")?.as_str() == "1" && up("without-token")?.as_str() == "0").then_some(())
    });
    let releases = prometheus.query("ledger_releases{job=\"with-token\"}");
    assert_eq!(releases["data"]["result"][0]["value"][1], "0", "{releases}");
}
