//! The request and response as the console sees them, free of any host's HTTP types, and what
//! the host lends each request.

use crate::backend::Transport;
use crate::time::Millis;

#[derive(Debug, Clone)]
pub struct ConsoleRequest {
    pub method: String,
    /// The path without the query, percent-encoded as received.
    pub path: String,
    /// The query string without `?`; empty when there is none.
    pub query: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
}

impl ConsoleRequest {
    /// Builds a request from a path that may carry a query string.
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            // Methods are case-sensitive (RFC 9110): `get` is not `GET`.
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
        }
    }

    pub fn get(path_and_query: &str) -> Self {
        Self::new("GET", path_and_query)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter, percent-decoded; `None` when absent or not UTF-8.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| percent_decode(value))
    }
}

fn percent_decode(text: &str) -> Option<String> {
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
            b'+' => {
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
    percent_encode(text, b"")
}

/// Percent-encodes a path segment. `+` stays, as semantic versions' build metadata uses it.
pub fn encode_path_segment(text: &str) -> String {
    percent_encode(text, b"+")
}

/// Decodes a path segment (`+` is itself there, not a space).
pub fn decode_path_segment(text: &str) -> Option<String> {
    percent_decode(&text.replace('+', "%2B"))
}

fn percent_encode(text: &str, also_keep: &[u8]) -> String {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Sent with every page: the pages load only the console's own CSS and script, so even a
/// template that failed to escape could not run an injected script.
const PAGE_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-cache"),
];

impl ConsoleResponse {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    /// An HTML page (or fragment) with the console's security headers.
    pub fn html(status: u16, body: String) -> Self {
        let mut response = Self::new(status, "text/html; charset=utf-8", body.into_bytes());
        for (name, value) in PAGE_HEADERS {
            response = response.with_header(name, value);
        }
        response
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or_default()
    }
}

/// What the host lends one request.
pub struct Host<'a> {
    /// A Spin variable of this component, `None` when it is not defined.
    pub variable: &'a dyn Fn(&str) -> Option<String>,
    /// Sends requests to the backend.
    pub transport: &'a dyn Transport,
    /// The wall-clock time of the request.
    pub now: Millis,
    /// A fresh id, sent to the backend and shown on error pages so one id finds both logs.
    pub request_id: String,
    /// The trace this page belongs to, with the console's own span as the parent of its
    /// backend calls (see [`crate::trace_of`]).
    pub trace: trace_context::TraceParent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_parameters_percent_decoded() {
        let req = ConsoleRequest::get("/approvals?state=pending&cursor=4%32&flag&q=a+b");
        assert_eq!(req.path, "/approvals");
        assert_eq!(req.query_param("state").as_deref(), Some("pending"));
        assert_eq!(req.query_param("cursor").as_deref(), Some("42"));
        assert_eq!(req.query_param("flag").as_deref(), Some(""));
        assert_eq!(req.query_param("q").as_deref(), Some("a b"));
        assert_eq!(req.query_param("missing"), None);
        assert_eq!(ConsoleRequest::get("/?x=%zz").query_param("x"), None);
    }

    #[test]
    fn encodes_everything_but_unreserved_characters() {
        assert_eq!(encode_query_value("1.4.0-rc.1"), "1.4.0-rc.1");
        assert_eq!(encode_query_value("a+b&c=d"), "a%2Bb%26c%3Dd");
        assert_eq!(
            encode_path_segment("1.0.0+build/../x?y"),
            "1.0.0+build%2F..%2Fx%3Fy"
        );
        assert_eq!(
            decode_path_segment("1.0.0+b%2E1").as_deref(),
            Some("1.0.0+b.1")
        );
        assert_eq!(decode_path_segment("%ff"), None);
    }
}
