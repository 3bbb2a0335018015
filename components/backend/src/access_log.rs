//! One structured line per request. It carries no headers, bodies, query strings or tokens,
//! so it can never leak a secret.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct AccessLog {
    pub method: String,
    /// The route's pattern (`/api/releases/{version}`), not the raw path.
    pub route: String,
    pub status: u16,
    pub duration_ms: f64,
    pub request_id: String,
    /// The W3C trace this request belongs to: the console's, when it called.
    pub trace_id: String,
    /// The verified subject, or `-` for anonymous requests.
    pub actor: String,
    /// The internal cause of a 5xx response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AccessLog {
    pub fn to_line(&self) -> String {
        log_line::escape_invisible(&serde_json::to_string(self).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_escape_what_would_hide_or_reorder_text() {
        let log = AccessLog {
            method: "GET".into(),
            route: "-".into(),
            status: 500,
            duration_ms: 1.0,
            request_id: "id".into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            actor: "-".into(),
            error: Some("storage said \u{202E}kO".into()),
        };
        assert!(log.to_line().contains(r#""error":"storage said \u202ekO""#));
    }
}
