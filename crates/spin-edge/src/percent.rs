//! Percent-coding with one rule for `+`: in a query value it stands for a space (HTML forms
//! send it so); in a path segment it is itself, as semantic versions' build metadata uses it.

/// Decodes a query value; `None` when an escape is broken or the result is not UTF-8.
pub fn decode_query_value(text: &str) -> Option<String> {
    decode(text, true)
}

/// Decodes a path segment (`+` is itself there, not a space).
pub fn decode_path_segment(text: &str) -> Option<String> {
    decode(text, false)
}

fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
pub fn encode_query_value(text: &str) -> String {
    encode(text, b"")
}

/// Percent-encodes a path segment. `+` stays, as semantic versions' build metadata uses it.
pub fn encode_path_segment(text: &str) -> String {
    encode(text, b"+")
}

fn encode(text: &str, also_keep: &[u8]) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ if also_keep.contains(&b) => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_a_space_in_queries_and_itself_in_paths() {
        assert_eq!(decode_query_value("a+b%2Bc").as_deref(), Some("a b+c"));
        assert_eq!(
            decode_path_segment("1.0.0+b%2E1").as_deref(),
            Some("1.0.0+b.1")
        );
        assert_eq!(
            decode_path_segment("1.0.0%2Bbuild").as_deref(),
            Some("1.0.0+build")
        );
        for broken in ["%", "%z", "%zz", "%ff", "a%2"] {
            assert_eq!(decode_path_segment(broken), None, "{broken}");
            assert_eq!(decode_query_value(broken), None, "{broken}");
        }
    }

    #[test]
    fn encodes_everything_but_unreserved_characters() {
        assert_eq!(encode_query_value("1.4.0-rc.1"), "1.4.0-rc.1");
        assert_eq!(encode_query_value("a+b&c=d"), "a%2Bb%26c%3Dd");
        assert_eq!(
            encode_path_segment("1.0.0+build/../x?y"),
            "1.0.0+build%2F..%2Fx%3Fy"
        );
        for text in ["a b", "é", "1.0.0+x"] {
            assert_eq!(
                decode_path_segment(&encode_path_segment(text)).as_deref(),
                Some(text)
            );
            assert_eq!(
                decode_query_value(&encode_query_value(text)).as_deref(),
                Some(text)
            );
        }
    }
}
