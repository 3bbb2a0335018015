//! The request and response as the console sees them, free of any host's HTTP types, and what
//! the host lends each request.

use crate::backend::Transport;
use crate::time::Millis;

/// A request to the console: it takes no bodies.
pub type ConsoleRequest = spin_edge::RequestHead;

pub use spin_edge::{decode_path_segment, encode_path_segment, encode_query_value};

/// A console page (or asset).
pub type ConsoleResponse = spin_edge::Response;

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

/// An HTML page (or fragment) with the console's security headers.
pub fn html(status: u16, body: String) -> ConsoleResponse {
    let mut response = ConsoleResponse::new(status, "text/html; charset=utf-8", body.into_bytes());
    for (name, value) in PAGE_HEADERS {
        response = response.with_header(name, value);
    }
    response
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
    /// backend calls (see [`spin_edge::continue_or_start`]).
    pub trace: spin_edge::TraceParent,
}
