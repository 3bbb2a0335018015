//! Prometheus's text exposition format, as far as both the API's `/metrics` and the local
//! host's need it.

/// A label value escaped as the exposition format requires (backslash, double quote, newline).
pub fn label_value(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::label_value;

    #[test]
    fn quotes_backslashes_and_newlines_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(label_value("prod-east"), "prod-east");
    }
}
