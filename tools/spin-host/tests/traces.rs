//! Traces from spin-host, received by an **OTLP receiver double** (a test double of an
//! OpenTelemetry Collector's OTLP/HTTP JSON endpoint): one console page makes one trace in
//! which the console's span parents its outbound call, that call parents the backend's span,
//! and the backend's span parents its database statements.

use host_harness::HostBuilder;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Accepts `POST /v1/traces` and keeps every span it is sent.
fn otlp_receiver_double() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some(n) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = n.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let ok = line.starts_with("POST /v1/traces ");
            if let Ok(export) = serde_json::from_slice::<Value>(&body) {
                for resource in export["resourceSpans"].as_array().into_iter().flatten() {
                    for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                        kept.lock()
                            .unwrap()
                            .extend(scope["spans"].as_array().cloned().unwrap_or_default());
                    }
                }
            }
            let status = if ok { "200 OK" } else { "404 Not Found" };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
            );
        }
    });
    (base, spans)
}

fn find(spans: &[Value], what: impl Fn(&Value) -> bool) -> Option<&Value> {
    spans.iter().find(|s| what(s))
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

#[test]
fn a_console_page_is_one_trace_down_to_the_database() {
    let (collector, spans) = otlp_receiver_double();
    let host = HostBuilder::new("traces")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .start();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let page = host.get_with(
        "/releases",
        &[("traceparent", &format!("00-{trace}-{caller}-01"))],
    );
    assert_eq!(page.status, 200);

    let deadline = Instant::now() + Duration::from_secs(60);
    let (console, call, backend, statements) = loop {
        let spans: Vec<Value> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s["traceId"] == trace)
            .cloned()
            .collect();
        let console = find(&spans, |s| {
            s["name"] == "GET frontend" && s["parentSpanId"] == caller
        })
        .cloned();
        let call = console.as_ref().and_then(|c| {
            find(&spans, |s| {
                s["kind"] == 3 && s["parentSpanId"] == c["spanId"]
            })
            .cloned()
        });
        let backend = call.as_ref().and_then(|c| {
            find(&spans, |s| {
                s["name"] == "GET backend" && s["parentSpanId"] == c["spanId"]
            })
            .cloned()
        });
        let statements: Vec<Value> = backend
            .as_ref()
            .map(|b| {
                spans
                    .iter()
                    .filter(|s| s["parentSpanId"] == b["spanId"])
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if let (Some(console), Some(call), Some(backend), false) =
            (console, call, backend, statements.is_empty())
        {
            break (console, call, backend, statements);
        }
        assert!(
            Instant::now() < deadline,
            "no complete trace; spans received: {spans:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    assert_eq!(console["kind"], 2);
    assert_eq!(attribute(&console, "url.path"), Some("/releases"));
    assert_eq!(
        attribute(&console, "http.response.status_code"),
        Some("200")
    );
    assert_eq!(
        attribute(&call, "server.address"),
        Some("backend.spin.internal")
    );
    assert_eq!(attribute(&call, "http.response.status_code"), Some("200"));
    assert_eq!(attribute(&backend, "url.path"), Some("/api/releases"));
    for statement in &statements {
        assert_eq!(
            attribute(statement, "db.system.name"),
            Some("sqlite"),
            "{statement}"
        );
        let text = attribute(statement, "db.query.text").unwrap();
        assert!(
            statement["name"]
                .as_str()
                .unwrap()
                .starts_with(text.split_whitespace().next().unwrap())
        );
    }
    assert!(
        statements
            .iter()
            .any(|s| attribute(s, "db.query.text").unwrap().contains("releases"))
    );
    // A child starts no earlier and ends no later than its parent.
    let time = |s: &Value, k: &str| s[k].as_str().unwrap().parse::<u128>().unwrap();
    for (parent, child) in [(&console, &call), (&call, &backend)] {
        assert!(time(parent, "startTimeUnixNano") <= time(child, "startTimeUnixNano"));
        assert!(time(child, "endTimeUnixNano") <= time(parent, "endTimeUnixNano"));
    }
    // The components logged the trace the spans carry.
    host.wait_for_line(|l| {
        l.contains(&format!("\"trace_id\":\"{trace}\""))
            && l.contains("\"route\":\"/api/releases\"")
    });
}

#[test]
fn without_an_endpoint_nothing_is_exported_and_an_unsupported_protocol_is_said() {
    let (collector, spans) = otlp_receiver_double();
    let host = HostBuilder::new("traces-grpc")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .start();
    assert_eq!(host.get("/api/health").status, 200);
    host.wait_for_line(|l| l.contains("only OTEL_EXPORTER_OTLP_PROTOCOL=http/json is supported"));
    let quiet = HostBuilder::new("traces-off").start();
    assert_eq!(quiet.get("/api/health").status, 200);
    std::thread::sleep(Duration::from_millis(500));
    assert!(spans.lock().unwrap().is_empty());
}
