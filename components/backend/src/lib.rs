//! The `backend` component: the release ledger's JSON API.
//!
//! Everything here is plain Rust over [`ApiRequest`] and [`ApiResponse`], so native tests
//! drive the real router. Only the `spin` module, compiled for `wasm32`, touches Spin: it turns
//! the incoming request into an [`ApiRequest`], lends [`Host`] access to variables and
//! databases, and writes the response and the access-log line back out.

mod auth;
mod build_info;
mod call;
mod handlers;
mod host;
mod http;
mod input;
mod metrics;
mod openapi;
mod problem;
mod query;
pub mod read_model;
mod router;
mod routes;
mod settings;
// The SDK's `#[http_component]` expands to the component's unsafe export glue.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod spin;

pub use build_info::{COMMIT, VERSION};
pub use host::{Host, KeyValue};
pub use http::{ApiRequest, ApiResponse, BODY_DEADLINE_MS, Body, MAX_BODY_BYTES};
pub use router::{handle, openapi_document, route_table};
pub use routes::Route;
pub use settings::{Settings, VARIABLES};
pub use spin_edge::AccessLog;
