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
    /// The internal cause of a 5xx page.
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
