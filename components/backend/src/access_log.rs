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
        escape_invisible(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// The line as JSON, with every character that is invisible or moves text (C0 and C1
/// controls, DEL, bidi controls, zero-width and other format characters, line and paragraph
/// separators) written as a `\uXXXX` escape, so a log viewer shows exactly what was sent.
fn escape_invisible(json: &str) -> String {
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
    fn invisible_characters_are_escaped() {
        let log = AccessLog {
            method: "GET".into(),
            route: "-",
            status: 500,
            duration_ms: 1.0,
            request_id: "id".into(),
            actor: "-".into(),
            error: Some("a\u{202E}b\u{200B}c\u{7F}d\u{85}e\nf\u{E0041}g é".into()),
        };
        let line = log.to_line();
        assert!(
            line.contains(r#""error":"a\u202eb\u200bc\u007fd\u0085e\nf\udb40\udc41g é""#),
            "{line}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["error"], log.error.clone().unwrap());
    }
}
