//! The request and response as the router sees them, free of any host's HTTP types.

use spin_edge::RequestHead;

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

/// A request to the API: what arrived before the body, and the body as far as it was read.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub head: RequestHead,
    pub body: Body,
}

/// The request's method, target and headers are read straight through it (`req.path`).
impl std::ops::Deref for ApiRequest {
    type Target = RequestHead;

    fn deref(&self) -> &RequestHead {
        &self.head
    }
}

impl ApiRequest {
    /// A request for a target that may carry a query string, with an empty body.
    pub fn new(method: &str, path_and_query: &str) -> Self {
        Self {
            head: RequestHead::new(method, path_and_query),
            body: Body::Complete(Vec::new()),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.head = self.head.header(name, value);
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
}

/// An API answer.
pub type ApiResponse = spin_edge::Response;
