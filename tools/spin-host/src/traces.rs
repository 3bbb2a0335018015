//! OpenTelemetry traces, exported over OTLP/HTTP with JSON when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, as Spin does: a server span for each
//! request a component handles, a client span for each outbound HTTP request (service chaining
//! included, so a chained component's span is that client span's child), and a span for each
//! database statement. Context travels in W3C `traceparent` headers, and the guest sees its
//! own span's, so the components log the same trace id that the spans carry.

use crate::json_text::json_string;
use spin_edge::TraceParent;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// OTLP span kinds.
pub const SERVER: u8 = 2;
pub const CLIENT: u8 = 3;

/// Sends finished spans to the collector in batches, off the request path.
pub struct Exporter {
    spans: mpsc::UnboundedSender<Span>,
}

impl Exporter {
    /// The exporter the environment asks for, or `None` when it asks for none. Only
    /// `http/json` to an `http://` endpoint is spoken; anything else is said once and ignored.
    pub fn from_env(service: &str) -> Option<Arc<Exporter>> {
        let url = match std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let base = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .ok()
                    .filter(|u| !u.is_empty())?;
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
        };
        let protocol =
            std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_else(|_| "http/json".into());
        let Some((authority, path)) =
            url.strip_prefix("http://")
                .map(|rest| match rest.split_once('/') {
                    Some((authority, path)) => (authority.to_owned(), format!("/{path}")),
                    None => (rest.to_owned(), "/".to_owned()),
                })
        else {
            eprintln!(
                "spin-host: traces not exported: only http:// endpoints are supported ({url})"
            );
            return None;
        };
        if protocol != "http/json" {
            eprintln!(
                "spin-host: traces not exported: only OTEL_EXPORTER_OTLP_PROTOCOL=http/json is supported ({protocol})"
            );
            return None;
        }
        let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
        let (spans, receiver) = mpsc::unbounded_channel();
        tokio::spawn(export(receiver, authority.clone(), path, service));
        eprintln!("spin-host: exporting traces to {url}");
        Some(Arc::new(Exporter { spans }))
    }
}

/// One span in flight: started now, ended (and sent) by [`Span::end`].
pub struct Span {
    trace_id: String,
    span_id: String,
    parent_id: Option<String>,
    name: String,
    kind: u8,
    start: u128,
    end: u128,
    attributes: Vec<(&'static str, String)>,
    error: bool,
}

impl Span {
    /// A span of PARENT's trace (or of a new trace).
    pub fn start(parent: Option<&TraceParent>, name: String, kind: u8) -> Self {
        Span {
            trace_id: parent.map_or_else(|| random_hex(16), |p| p.trace_id.clone()),
            span_id: random_hex(8),
            parent_id: parent.map(|p| p.parent_id.clone()),
            name,
            kind,
            start: now_nanos(),
            end: 0,
            attributes: Vec::new(),
            error: false,
        }
    }

    /// This span as the parent of what it calls.
    pub fn context(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id.clone(),
            parent_id: self.span_id.clone(),
            sampled: true,
        }
    }

    pub fn attribute(&mut self, key: &'static str, value: impl Into<String>) {
        self.attributes.push((key, value.into()));
    }

    pub fn end(mut self, exporter: &Exporter, error: bool) {
        self.end = now_nanos();
        self.error = error;
        let _ = exporter.spans.send(self);
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    loop {
        getrandom::fill(&mut buf).expect("the system's random source");
        if buf.iter().any(|b| *b != 0) {
            return buf.iter().map(|b| format!("{b:02x}")).collect();
        }
    }
}

/// Batches spans (up to 0.2 s or 512 spans) and POSTs each batch; a failure is said once per
/// kind and the batch dropped: tracing never holds up a request.
async fn export(
    mut spans: mpsc::UnboundedReceiver<Span>,
    authority: String,
    path: String,
    service: String,
) {
    let mut warned = false;
    while let Some(first) = spans.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        while batch.len() < 512 {
            match tokio::time::timeout_at(deadline, spans.recv()).await {
                Ok(Some(span)) => batch.push(span),
                _ => break,
            }
        }
        let body = otlp_json(&batch, &service);
        if let Err(e) = post(&authority, &path, &body).await
            && !warned
        {
            eprintln!("spin-host: traces to http://{authority}{path} failed: {e}");
            warned = true;
        }
    }
}

async fn post(authority: &str, path: &str, body: &str) -> std::io::Result<()> {
    let mut stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(authority),
    )
    .await
    .map_err(|_| std::io::Error::other("connect timed out"))??;
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::other("no answer"))??;
    let status = String::from_utf8_lossy(&answer);
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        other => Err(std::io::Error::other(format!(
            "answered {}",
            other.unwrap_or("nothing")
        ))),
    }
}

/// The OTLP/JSON encoding of BATCH (ids in hex, times as decimal strings, as the OTLP JSON
/// mapping says).
fn otlp_json(batch: &[Span], service: &str) -> String {
    let mut spans = String::new();
    for (i, span) in batch.iter().enumerate() {
        if i > 0 {
            spans.push(',');
        }
        let attributes: Vec<String> = span
            .attributes
            .iter()
            .map(|(k, v)| {
                format!(
                    "{{\"key\":{},\"value\":{{\"stringValue\":{}}}}}",
                    json_string(k),
                    json_string(v)
                )
            })
            .collect();
        let _ = write!(
            spans,
            "{{\"traceId\":\"{}\",\"spanId\":\"{}\",{}\"name\":{},\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":[{}],\"status\":{{\"code\":{}}}}}",
            span.trace_id,
            span.span_id,
            span.parent_id
                .as_ref()
                .map_or(String::new(), |p| format!("\"parentSpanId\":\"{p}\",")),
            json_string(&span.name),
            span.kind,
            span.start,
            span.end,
            attributes.join(","),
            if span.error { 2 } else { 1 }
        );
    }
    format!(
        "{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"service.name\",\"value\":{{\"stringValue\":{}}}}}]}},\"scopeSpans\":[{{\"scope\":{{\"name\":\"spin-host\"}},\"spans\":[{spans}]}}]}}]}}",
        json_string(service)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_share_the_trace_and_name_their_parent() {
        let root = Span::start(None, "GET frontend".into(), SERVER);
        let child = Span::start(
            Some(&root.context()),
            "GET backend.spin.internal".into(),
            CLIENT,
        );
        assert_eq!(child.trace_id, root.trace_id);
        assert_eq!(child.parent_id.as_deref(), Some(root.span_id.as_str()));
        assert_eq!((root.trace_id.len(), root.span_id.len()), (32, 16));
        let body = otlp_json(&[child], "app \"x\"");
        assert!(
            body.contains(&format!("\"parentSpanId\":\"{}\"", root.span_id)),
            "{body}"
        );
        assert!(body.contains("\"stringValue\":\"app \\\"x\\\"\""), "{body}");
    }
}
