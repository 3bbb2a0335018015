//! The request and response as the router sees them, free of any host's HTTP types.

use ledger::{DbError, Executor, Timestamp};

/// Request bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long the host waits for a body once a route asks for it. A client that sends slower
/// than this is answered 400 and holds nothing longer.
pub const BODY_DEADLINE_MS: u64 = 5_000;

/// A request body, as far as the host read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Not read yet: the host reads it only when a route that takes a body asks, after
    /// authentication ([`Host::read_body`]).
    Unread,
    Complete(Vec<u8>),
    /// Over [`MAX_BODY_BYTES`], declared or received; the host stopped reading.
    TooLarge,
    /// The connection ended before the declared length, or the body did not arrive within
    /// [`BODY_DEADLINE_MS`]. Never parsed, so a broken request records nothing.
    Broken(String),
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
            // Methods are case-sensitive (RFC 9110): `post` is not `POST`.
            method: method.to_owned(),
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
        self.header_values(name).next()
    }

    /// Every value of a header that may be repeated.
    pub fn header_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
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
    /// A fresh random trace id (32 hex digits), used when the request brings no usable
    /// `traceparent`.
    pub fresh_trace_id: String,
    /// Reads the body of a request whose body is [`Body::Unread`]; called at most once.
    pub read_body: &'a dyn Fn() -> Body,
}
