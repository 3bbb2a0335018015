//! One structured JSON line per request, the same for both components. It carries no headers,
//! bodies, query strings or tokens, so it can never leak a secret; and a character that is
//! invisible or moves text (C0 and C1 controls, DEL, bidi controls, zero-width and other format
//! characters, line and paragraph separators) is written as a `\uXXXX` escape, so whoever reads
//! the log sees exactly what a client sent, and a client cannot reorder or hide what it says.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct AccessLog {
    pub method: String,
    /// The route's pattern (`/api/releases/{version}`), not the raw path.
    pub route: String,
    pub status: u16,
    pub duration_ms: f64,
    pub request_id: String,
    /// The W3C trace this request belongs to (a page's, for its API calls).
    pub trace_id: String,
    /// The API's verified subject, or `-` for anonymous requests; the console has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The internal cause of a 5xx answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AccessLog {
    pub fn to_line(&self) -> String {
        escape_invisible(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// `json` (a serialised line) with invisible and text-moving characters escaped; still the
/// same JSON value.
pub fn escape_invisible(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        let hidden = c.is_control()
            || matches!(c as u32,
                0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E
                | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE0000..=0xE007F);
        if hidden {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_escaped_and_the_line_stays_json() {
        let value = "a\u{202E}b\u{200B}c\u{7F}d\u{85}e\nf\u{E0041}g é";
        let line = escape_invisible(&serde_json::json!({ "error": value }).to_string());
        assert_eq!(
            line,
            r#"{"error":"a\u202eb\u200bc\u007fd\u0085e\nf\udb40\udc41g é"}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["error"], value);
    }

    #[test]
    fn a_line_says_only_what_it_has() {
        let log = AccessLog {
            method: "GET".into(),
            route: "/".into(),
            status: 500,
            duration_ms: 1.0,
            request_id: "id".into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            actor: None,
            error: Some("storage said \u{202E}kO".into()),
        };
        let line = log.to_line();
        assert!(
            line.contains(r#""error":"storage said \u202ekO""#),
            "{line}"
        );
        assert!(!line.contains("actor"), "{line}");
    }
}
