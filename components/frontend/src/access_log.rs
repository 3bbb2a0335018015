//! One structured line per request. No headers, query strings or tokens, so no secret leaks.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct AccessLog {
    pub method: String,
    /// The route's pattern (`/releases/{version}`), not the raw path.
    pub route: &'static str,
    pub status: u16,
    pub duration_ms: f64,
    pub request_id: String,
    /// The W3C trace this page belongs to; its backend calls carry it in `traceparent`.
    pub trace_id: String,
    /// The internal cause of a 5xx page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AccessLog {
    pub fn to_line(&self) -> String {
        log_line::escape_invisible(&serde_json::to_string(self).unwrap_or_default())
    }
}
