//! The request and response as the router sees them, free of any host's HTTP types.

use ledger::{DbError, Executor, Timestamp};

/// Request bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body, read by the host up to [`MAX_BODY_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Complete(Vec<u8>),
    /// The host stopped reading past the limit.
    TooLarge,
}

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    /// The path without the query, percent-encoded as received.
    pub path: String,
    /// The query string without `?`; empty when there is none.
    pub query: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl ApiRequest {
    /// Builds a request from a path that may carry a query string.
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Body::Complete(Vec::new()),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn json(self, body: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string().into_bytes())
    }

    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = if bytes.len() > MAX_BODY_BYTES {
            Body::TooLarge
        } else {
            Body::Complete(bytes)
        };
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        // Serialising the ledger's own records cannot fail: they hold only strings and numbers.
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self::new(status, "application/json", body)
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

    /// The body parsed as JSON; `Null` if it is not JSON. For tests and tools.
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Opens the database: PostgreSQL at the given `db_url`, or the default SQLite database.
pub type OpenDb<'a> = dyn Fn(Option<&str>) -> Result<Box<dyn Executor + 'a>, DbError> + 'a;

/// What the host lends the router for one request.
pub struct Host<'a> {
    /// A Spin variable's value, or `None` if it is not set.
    pub variable: &'a dyn Fn(&str) -> Option<String>,
    pub open_db: &'a OpenDb<'a>,
    pub now: Timestamp,
    /// A fresh random id, used when the request brings no usable `x-request-id`.
    pub fresh_request_id: String,
}
