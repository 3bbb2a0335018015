//! A **stand-in for the OpenTelemetry Collector** of `k8s/observability/collector.yaml`, between
//! real Spin and a real Prometheus: it receives OTLP/HTTP, counts and times Spin's spans with
//! the spanmetrics connector's settings from `collector.yaml`, and serves them as the
//! connector's Prometheus exporter names them (`testing/reference/otel` records both).
//!
//! No OpenTelemetry Collector runs here: Debian has no `otelcol`, the registries reached are
//! crates.io, PyPI, npm and Debian's, and a Go build of collector-contrib needs the Go module
//! proxy.

use crate::fixtures::repo;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn observability(file: &str) -> PathBuf {
    repo().join("k8s/observability").join(file)
}

/// The spanmetrics connector's settings in `collector.yaml`.
pub fn connector() -> serde_yaml::Value {
    use serde::Deserialize;
    let text = std::fs::read_to_string(observability("collector.yaml")).unwrap();
    let config_map = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).unwrap())
        .find(|doc| doc["kind"] == "ConfigMap")
        .unwrap();
    let config: serde_yaml::Value =
        serde_yaml::from_str(config_map["data"]["config.yaml"].as_str().unwrap()).unwrap();
    config["connectors"]["spanmetrics"].clone()
}

/// Go's `time.ParseDuration`, in seconds, for what a duration field takes.
pub fn go_duration(text: &str) -> Option<f64> {
    let mut rest = text;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let (unit, scale) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .find(|(unit, _)| rest.starts_with(unit))?;
        total += number * scale;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

/// One span as the stand-in keeps it.
#[derive(Debug, Clone)]
struct Span {
    kind: u64,
    seconds: f64,
    attributes: BTreeMap<String, String>,
}

/// Protobuf's wire format, as far as OTLP's trace request needs: (field, wire type, bytes of a
/// length-delimited field or the varint/fixed value).
fn fields(mut bytes: &[u8]) -> Vec<(u64, u8, Vec<u8>, u64)> {
    fn varint(bytes: &mut &[u8]) -> u64 {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let byte = bytes[0];
            *bytes = &bytes[1..];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        value
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes);
        let (field, wire) = (key >> 3, (key & 7) as u8);
        match wire {
            0 => out.push((field, wire, Vec::new(), varint(&mut bytes))),
            1 => {
                let value = u64::from_le_bytes(bytes[..8].try_into().unwrap());
                bytes = &bytes[8..];
                out.push((field, wire, Vec::new(), value));
            }
            2 => {
                let len = varint(&mut bytes) as usize;
                out.push((field, wire, bytes[..len].to_vec(), 0));
                bytes = &bytes[len..];
            }
            5 => bytes = &bytes[4..],
            other => panic!("wire type {other} is not in OTLP's trace request"),
        }
    }
    out
}

/// The spans of an `ExportTraceServiceRequest` (opentelemetry-proto's trace.proto: resource
/// spans 1 → scope spans 2 → spans 2; a span's kind 6, start 7, end 8, attributes 9; a
/// key-value's key 1 and value 2; a value's string 1 or int 3).
fn decode_spans(request: &[u8]) -> Vec<Span> {
    let mut found = Vec::new();
    for (_, _, resource_spans, _) in fields(request).into_iter().filter(|f| f.0 == 1) {
        for (_, _, scope_spans, _) in fields(&resource_spans).into_iter().filter(|f| f.0 == 2) {
            for (_, _, span, _) in fields(&scope_spans).into_iter().filter(|f| f.0 == 2) {
                let (mut kind, mut start, mut end) = (0, 0, 0);
                let mut attributes = BTreeMap::new();
                for (field, _, bytes, value) in fields(&span) {
                    match field {
                        6 => kind = value,
                        7 => start = value,
                        8 => end = value,
                        9 => {
                            let pair = fields(&bytes);
                            let key = pair.iter().find(|f| f.0 == 1).map(|f| f.2.clone());
                            let any = pair.iter().find(|f| f.0 == 2).map(|f| fields(&f.2));
                            let text = any.and_then(|any| {
                                any.iter().find_map(|(field, _, bytes, value)| match field {
                                    1 => Some(String::from_utf8_lossy(bytes).into_owned()),
                                    3 => Some(value.to_string()),
                                    _ => None,
                                })
                            });
                            if let (Some(key), Some(text)) = (key, text) {
                                attributes.insert(String::from_utf8_lossy(&key).into_owned(), text);
                            }
                        }
                        _ => {}
                    }
                }
                found.push(Span {
                    kind,
                    seconds: end.saturating_sub(start) as f64 / 1e9,
                    attributes,
                });
            }
        }
    }
    found
}

/// The stand-in for the Collector: OTLP/HTTP in (`/v1/traces`, protobuf, as Spin sends), and
/// the spanmetrics connector's calls and durations out on `/metrics`, as its Prometheus
/// exporter serves them.
pub struct CollectorStandIn {
    /// Where Spin sends OTLP/HTTP: `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp: String,
    /// The address Prometheus scrapes (`host:port`).
    pub metrics: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl CollectorStandIn {
    pub fn start() -> Self {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let kept = spans.clone();
        let config = connector();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (content_type, answer) = if line.starts_with("POST /v1/traces") {
                    kept.lock().unwrap().extend(decode_spans(&body));
                    ("application/x-protobuf", String::new())
                } else if line.starts_with("POST /v1/") {
                    ("application/x-protobuf", String::new())
                } else {
                    let text = exposition(&kept.lock().unwrap(), &config);
                    ("text/plain; version=0.0.4", text)
                };
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    )
                    .as_bytes(),
                );
            }
        });
        CollectorStandIn {
            otlp: format!("http://{address}"),
            metrics: address.to_string(),
            spans,
        }
    }
    /// How many spans Spin has sent so far.
    pub fn spans_received(&self) -> usize {
        self.spans.lock().unwrap().len()
    }

    /// `prometheus.yaml`'s `otel-collector` job, scraping this stand-in every second: the
    /// relabelling that turns the connector's series into the request series.
    pub fn prometheus_config(&self) -> String {
        let text = std::fs::read_to_string(observability("prometheus.yaml")).unwrap();
        let config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let job = config["scrape_configs"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|job| job["job_name"] == "otel-collector")
            .expect("prometheus.yaml scrapes the Collector");
        let scrape = serde_yaml::to_value(serde_yaml::Mapping::from_iter([
            ("job_name".into(), "otel-collector".into()),
            ("scrape_interval".into(), "1s".into()),
            (
                "static_configs".into(),
                serde_yaml::to_value(vec![serde_yaml::Mapping::from_iter([(
                    "targets".into(),
                    serde_yaml::to_value(vec![self.metrics.clone()]).unwrap(),
                )])])
                .unwrap(),
            ),
            (
                "metric_relabel_configs".into(),
                job["metric_relabel_configs"].clone(),
            ),
        ]))
        .unwrap();
        let root = serde_yaml::Mapping::from_iter([(
            "scrape_configs".into(),
            serde_yaml::to_value(vec![scrape]).unwrap(),
        )]);
        serde_yaml::to_string(&root).unwrap()
    }
}

/// The connector's two metrics over SPANS, with CONFIG's dimensions, exclusions and buckets,
/// named as the Prometheus exporter names them (the reference's `exporter`).
fn exposition(spans: &[Span], config: &serde_yaml::Value) -> String {
    let namespace = "traces_span_metrics";
    let dimensions: Vec<String> = config["dimensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    let excluded: Vec<&str> = config["exclude_dimensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    let buckets: Vec<f64> = config["histogram"]["explicit"]["buckets"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|b| go_duration(b.as_str().unwrap()).unwrap())
        .collect();
    let kinds = [
        "UNSPECIFIED",
        "INTERNAL",
        "SERVER",
        "CLIENT",
        "PRODUCER",
        "CONSUMER",
    ];
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for span in spans {
        let mut labels = vec![("service_name".to_owned(), "spin".to_owned())];
        if !excluded.contains(&"span.kind") {
            let kind = kinds.get(span.kind as usize).unwrap_or(&"UNSPECIFIED");
            labels.push(("span_kind".into(), format!("SPAN_KIND_{kind}")));
        }
        for dimension in &dimensions {
            if let Some(value) = span.attributes.get(dimension) {
                labels.push((dimension.replace('.', "_"), value.clone()));
            }
        }
        labels.sort();
        let key = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join(",");
        series.entry(key).or_default().push(span.seconds);
    }
    let mut text = format!("# TYPE {namespace}_calls_total counter\n");
    for (labels, durations) in &series {
        text.push_str(&format!(
            "{namespace}_calls_total{{{labels}}} {}\n",
            durations.len()
        ));
    }
    text.push_str(&format!("# TYPE {namespace}_duration_seconds histogram\n"));
    for (labels, durations) in &series {
        for bound in &buckets {
            let within = durations.iter().filter(|d| *d <= bound).count();
            text.push_str(&format!(
                "{namespace}_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {within}\n"
            ));
        }
        let (count, sum) = (durations.len(), durations.iter().sum::<f64>());
        text.push_str(&format!(
            "{namespace}_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n\
             {namespace}_duration_seconds_sum{{{labels}}} {sum}\n\
             {namespace}_duration_seconds_count{{{labels}}} {count}\n"
        ));
    }
    text
}
