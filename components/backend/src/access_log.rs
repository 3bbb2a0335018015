//! One structured line per request. It carries no headers, bodies, query strings or tokens,
//! so it can never leak a secret.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct AccessLog {
    pub method: String,
    /// The route's pattern (`/api/releases/{version}`), not the raw path.
    pub route: &'static str,
    pub status: u16,
    pub duration_ms: f64,
    pub request_id: String,
    /// The verified subject, or `-` for anonymous requests.
    pub actor: String,
    /// The internal cause of a 5xx response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AccessLog {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
