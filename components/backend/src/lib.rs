//! The `backend` component: the release ledger's JSON API.
//!
//! Everything here is plain Rust over [`ApiRequest`] and [`ApiResponse`], so native tests
//! drive the real router. Only the `spin` module, compiled for `wasm32`, touches Spin: it turns
//! the incoming request into an [`ApiRequest`], lends [`Host`] access to variables and
//! databases, and writes the response and the access-log line back out.

mod access_log;
mod auth;
mod context;
mod handlers;
mod http;
mod input;
mod metrics;
pub mod openapi;
mod problem;
mod router;
pub mod routes;
mod settings;
// The SDK's `#[http_component]` expands to the component's unsafe export glue.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod spin;

pub use access_log::AccessLog;
pub use http::{ApiRequest, ApiResponse, BODY_DEADLINE_MS, Body, Host, MAX_BODY_BYTES};
pub use input::{MAX_COMMENT, MAX_MESSAGE, MAX_NOTES};
pub use router::handle;
pub use routes::Route;
pub use settings::{Settings, VARIABLES};

/// The version and commit this component was built from.
pub const VERSION: &str = env!("BUILD_APP_VERSION");
pub const COMMIT: &str = env!("BUILD_GIT_COMMIT");
