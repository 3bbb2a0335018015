//! Request metrics on SpinKube, from Spin's own spans: `collector.yaml`'s spanmetrics connector
//! checked against the connector's documented schema (`testing/reference/otel`), and real
//! Spin 3.6.3's OTLP spans, under a bounded load with errors in it, turned into series that
//! a real Prometheus, relabelling as `prometheus.yaml` says, stores under the names and labels
//! the alerts read; and each request alert fires in a promtool test built from those series.
//!
//! No OpenTelemetry Collector runs here, so host-harness's **stand-in for the Collector**
//! (`host_harness::collector`) takes its place between Spin and Prometheus.

use super::{observability, scrape_job, scraping_jobs};
use host_harness::collector::{CollectorStandIn, connector, go_duration};
use host_harness::prometheus::Prometheus;
use host_harness::{HostBuilder, Runtime, repo};
use serde_json::Value;
use std::collections::BTreeMap;

fn reference() -> Value {
    let text = std::fs::read_to_string(repo().join("testing/reference/otel/spanmetrics.json"));
    serde_json::from_str(&text.unwrap()).unwrap()
}

/// What VALUE breaks of SCHEMA (the reference's JSON-schema subset), at PATH.
fn problems(value: &serde_yaml::Value, schema: &Value, defs: &Value, path: &str) -> Vec<String> {
    let schema = match schema["$ref"].as_str() {
        Some(name) => &defs[name],
        None => schema,
    };
    let mut found = Vec::new();
    match schema["type"].as_str() {
        Some("object") => {
            let Some(map) = value.as_mapping() else {
                return vec![format!("{path}: not a mapping")];
            };
            for (key, item) in map {
                let key = key.as_str().unwrap_or("");
                match schema["properties"].get(key) {
                    Some(field) => {
                        found.extend(problems(item, field, defs, &format!("{path}.{key}")))
                    }
                    None => found.push(format!("{path}.{key}: not a field of the connector")),
                }
            }
        }
        Some("array") => match value.as_sequence() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    found.extend(problems(
                        item,
                        &schema["items"],
                        defs,
                        &format!("{path}[{i}]"),
                    ));
                }
            }
            None => found.push(format!("{path}: not a list")),
        },
        Some("string") => match value.as_str() {
            Some(text) => {
                let listed = schema["enum"].as_array();
                if listed.is_some_and(|values| !values.iter().any(|v| v == text)) {
                    found.push(format!("{path}: {text} is none of {}", schema["enum"]));
                }
                if schema["format"] == "duration" && go_duration(text).is_none() {
                    found.push(format!("{path}: {text} is not a Go duration"));
                }
            }
            None => found.push(format!("{path}: not text")),
        },
        Some("boolean") if !value.is_bool() => found.push(format!("{path}: not true or false")),
        Some("integer") if !value.is_i64() => found.push(format!("{path}: not a whole number")),
        _ => {}
    }
    found
}

#[test]
fn the_collectors_spanmetrics_connector_takes_its_documented_settings() {
    let reference = reference();
    let schema = &reference["connector"];
    let config = connector();
    assert_eq!(
        problems(&config, schema, &schema["$defs"], "spanmetrics"),
        Vec::<String>::new()
    );
    for dimension in config["dimensions"].as_sequence().unwrap() {
        let given = ["name", "glob"]
            .iter()
            .filter(|k| dimension.get(**k).is_some());
        assert_eq!(
            given.count(),
            1,
            "exactly one of name or glob: {dimension:?}"
        );
    }
    let histogram = &config["histogram"];
    assert!(
        histogram.get("explicit").is_none() || histogram.get("exponential").is_none(),
        "explicit and exponential buckets exclude each other"
    );
    // The check refuses what the connector would: an unknown field, a unit it has no name
    // for, a duration Go cannot read.
    for (field, value) in [
        ("dimension", serde_yaml::Value::from("http.route")),
        ("metrics_flush_interval", "15 seconds".into()),
    ] {
        let mut broken = config.clone();
        broken[field] = value;
        assert!(
            !problems(&broken, schema, &schema["$defs"], "spanmetrics").is_empty(),
            "{field}"
        );
    }
    let mut seconds = config.clone();
    seconds["histogram"]["unit"] = "sec".into();
    assert!(!problems(&seconds, schema, &schema["$defs"], "spanmetrics").is_empty());
}

/// The label sets and values of a Prometheus query's result.
fn results(answer: &Value) -> Vec<(BTreeMap<String, String>, f64)> {
    answer["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let labels = serde_json::from_value(r["metric"].clone()).unwrap();
            let value = r["value"][1].as_str().unwrap().parse().unwrap();
            (labels, value)
        })
        .collect()
}

#[test]
fn spins_own_spans_become_the_request_series_the_alerts_read() {
    let collector = CollectorStandIn::start();
    // The data routes fail (503) on a database nobody listens at; /api/health never asks it.
    let app = HostBuilder::on(Runtime::Spin, "spanmetrics")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.otlp)
        .var("db_url", "postgres://ledger@127.0.0.1:9/ledger")
        .var("db_outbound_host", "postgres://127.0.0.1:9")
        .ready_path("/api/health")
        .start();
    // Readiness was polled on /api/health too: those are requests as well.
    let (healthy, failing) = (20, 20);
    for _ in 0..healthy {
        assert_eq!(app.get("/api/health").status, 200);
    }
    let mut failed_status = 0;
    for _ in 0..failing {
        failed_status = app.get("/api/releases").status;
        assert!(failed_status >= 500, "{failed_status}");
    }
    let failed_status = failed_status.to_string();

    let job = scrape_job("otel-collector");
    let mut relabel = serde_yaml::Mapping::new();
    relabel.insert(
        "metric_relabel_configs".into(),
        job["metric_relabel_configs"].clone(),
    );
    let indented: String = serde_yaml::to_string(&relabel)
        .unwrap()
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    let prometheus =
        scraping_jobs(&[("otel-collector", collector.metrics.clone(), false, indented)]);

    // Every span reached the stand-in (Spin exports them in order, the failing ones last),
    // and Prometheus stored them as spin-host names them.
    let by_status = prometheus.eventually("every request counted", |p| {
        let answer =
            p.query("sum by (component, route, method, status) (http_server_requests_total)");
        let found = results(&answer);
        let failed = found
            .iter()
            .find(|(labels, _)| labels["status"] == failed_status);
        (failed.map(|(_, count)| *count) == Some(f64::from(failing))).then_some(found)
    });
    let row = |status: &str| {
        BTreeMap::from([
            ("component".to_owned(), "backend".to_owned()),
            ("method".to_owned(), "GET".to_owned()),
            ("route".to_owned(), "/api/...".to_owned()),
            ("status".to_owned(), status.to_owned()),
        ])
    };
    let rows: Vec<_> = by_status.iter().map(|(labels, _)| labels.clone()).collect();
    assert_eq!(
        rows,
        [row("200"), row(&failed_status)],
        "only the trigger's server spans are requests, of {} spans",
        collector.spans_received()
    );
    assert!(by_status[0].1 >= f64::from(healthy), "{by_status:?}");
    // The selectors the error and latency alerts use find these series, and no series keeps
    // the connector's own names.
    let alerts = std::fs::read_to_string(observability("alerts.yaml")).unwrap();
    for selector in [
        "http_server_requests_total{component=\"backend\", status=~\"5..\"}",
        "http_server_requests_total{component=\"backend\"}",
        "http_server_request_duration_seconds_bucket{component=\"backend\"}",
    ] {
        assert!(
            alerts.contains(selector),
            "alerts.yaml no longer reads {selector}"
        );
        let found = results(&prometheus.query(&format!("count({selector})")));
        assert!(!found.is_empty(), "{selector} finds nothing");
    }
    alerts_fire_on(&prometheus);
    let leftover = prometheus.query("count({__name__=~\"traces_span_metrics_.*\"})");
    assert!(results(&leftover).is_empty(), "{leftover}");
    let p99 = prometheus.query(
        "histogram_quantile(0.99, sum by (le) (http_server_request_duration_seconds_bucket{component=\"backend\"}))",
    );
    assert!(results(&p99)[0].1 > 0.0, "{p99}");
}

/// The Prometheus Operator's PodMonitor for the Collector renames exactly as
/// `prometheus.yaml` does (the operator's fields are the camelCase of Prometheus's).
#[test]
fn the_collectors_pod_monitor_relabels_as_prometheus_yaml_does() {
    use serde::Deserialize;
    let job = scrape_job("otel-collector");
    let text = std::fs::read_to_string(observability("prometheus-operator/pod-monitors.yaml"));
    let monitor = serde_yaml::Deserializer::from_str(&text.unwrap())
        .map(|doc| serde_yaml::Value::deserialize(doc).unwrap())
        .find(|doc| doc["metadata"]["name"] == "otel-collector")
        .unwrap();
    let camel = |key: &str| -> String {
        let mut parts = key.split('_');
        let first = parts.next().unwrap_or("").to_owned();
        parts.fold(first, |mut out, part| {
            out.push_str(&part[..1].to_uppercase());
            out.push_str(&part[1..]);
            out
        })
    };
    let expected: Vec<serde_yaml::Value> = job["metric_relabel_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|rule| {
            let mut renamed = serde_yaml::Mapping::new();
            for (key, value) in rule.as_mapping().unwrap() {
                renamed.insert(camel(key.as_str().unwrap()).into(), value.clone());
            }
            renamed.into()
        })
        .collect();
    assert_eq!(
        monitor["spec"]["podMetricsEndpoints"][0]["metricRelabelings"],
        serde_yaml::Value::Sequence(expected)
    );
}

/// Each request alert fires in a promtool test built from the series PROMETHEUS stored: their
/// label sets, as they are, with values that make half the requests fail and all of them
/// slower than half a second.
fn alerts_fire_on(prometheus: &Prometheus) {
    let series = |selector: &str| -> Vec<BTreeMap<String, String>> {
        let found = results(&prometheus.query(selector));
        found.into_iter().map(|(labels, _)| labels).collect()
    };
    let text = |labels: &BTreeMap<String, String>| {
        let name = &labels["__name__"];
        let rest: Vec<String> = labels
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{name}{{{}}}", rest.join(", "))
    };
    let mut input = Vec::new();
    for labels in series("http_server_requests_total") {
        input.push(serde_json::json!({"series": text(&labels), "values": "0+60x20"}));
    }
    for labels in series("http_server_request_duration_seconds_bucket") {
        let le: f64 = labels["le"].parse().unwrap_or(f64::INFINITY);
        let values = if le <= 0.5 { "0+0x20" } else { "0+60x20" };
        input.push(serde_json::json!({"series": text(&labels), "values": values}));
    }
    let cluster = "local";
    let runbook = |anchor: &str| {
        format!(
            "https://github.com/acme/automatizacion/blob/main/k8s/observability/README.md#{anchor}"
        )
    };
    let test = serde_json::json!({
        "rule_files": ["alerts.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input,
            "alert_rule_test": [
                {"eval_time": "12m", "alertname": "LedgerApiErrorRatioHigh", "exp_alerts": [{
                    "exp_labels": {"severity": "critical", "cluster": cluster},
                    "exp_annotations": {
                        "runbook_url": runbook("ledgerapierrorratiohigh"),
                        "summary": format!("{cluster}: over 5% of ledger API requests fail"),
                        "description": format!(
                            "50% of the API's answers on {cluster} were 5xx over the last 5 minutes."
                        )}}]},
                {"eval_time": "18m", "alertname": "LedgerApiLatencyHigh", "exp_alerts": [{
                    "exp_labels": {"severity": "warning", "cluster": cluster},
                    "exp_annotations": {
                        "runbook_url": runbook("ledgerapilatencyhigh"),
                        "summary": format!("{cluster}: the ledger API's p99 is above 500 ms"),
                        "description": format!("p99 latency on {cluster} is 995ms.")}}]}
            ]
        }]
    });
    let dir = host_harness::scratch_dir("spanmetrics-promtool");
    std::fs::copy(observability("alerts.yaml"), dir.join("alerts.yaml")).unwrap();
    std::fs::write(
        dir.join("from-spans.test.yaml"),
        serde_yaml::to_string(&test).unwrap(),
    )
    .unwrap();
    let out = super::promtool(&["test", "rules", "from-spans.test.yaml"], &dir);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
