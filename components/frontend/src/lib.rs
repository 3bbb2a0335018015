//! The `frontend` component: the release console, server-rendered HTML over the backend's
//! public API.
//!
//! Everything here is plain Rust over [`ConsoleRequest`] and [`ConsoleResponse`], so native
//! tests render the real pages against scripted backends. Only the `spin` module, compiled for
//! `wasm32`, touches Spin: it reads the request, lends [`Host`] the variables and an HTTP
//! [`Transport`](backend::Transport), and writes the page and the log line back out.

mod access_log;
pub mod api;
pub mod assets;
pub mod backend;
mod error;
pub mod http;
pub mod pages;
mod router;
pub mod settings;
pub mod time;
// The SDK's `#[http_component]` expands to the component's unsafe export glue.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod spin;

pub use access_log::AccessLog;
pub use http::{ConsoleRequest, ConsoleResponse, Host};
pub use router::{ROUTES, handle};
pub use settings::{Settings, VARIABLES, Variable};

use trace_context::TraceParent;

/// The trace a page belongs to: the caller's when it sent a valid `traceparent`, else a new one
/// (FRESH_TRACE_ID). SPAN_ID is the console's own span, which its backend calls name as their
/// parent, so the backend logs the page's trace id.
pub fn trace_of(incoming: Option<&str>, fresh_trace_id: String, span_id: String) -> TraceParent {
    let caller = incoming.and_then(TraceParent::parse);
    TraceParent {
        sampled: caller.as_ref().is_none_or(|c| c.sampled),
        trace_id: caller.map_or(fresh_trace_id, |c| c.trace_id),
        parent_id: span_id,
    }
}
