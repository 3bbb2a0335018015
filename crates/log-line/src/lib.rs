//! One rule for every log line the components write: a character that is invisible or moves
//! text (C0 and C1 controls, DEL, bidi controls, zero-width and other format characters, line
//! and paragraph separators) is written as a `\uXXXX` escape, so whoever reads the log sees
//! exactly what a client sent, and a client cannot reorder or hide what the line says.

/// `json` (a serialised line) with those characters escaped; still the same JSON value.
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
}
