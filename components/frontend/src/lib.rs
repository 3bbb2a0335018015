//! The `frontend` component: the release console, server-rendered HTML over the backend's
//! public API.
//!
//! Everything here is plain Rust over [`ConsoleRequest`] and [`ConsoleResponse`], so native
//! tests render the real pages against scripted backends. Only the `spin` module, compiled for
//! `wasm32`, touches Spin: it reads the request, lends [`Host`] the variables and an HTTP
//! [`Transport`](backend::Transport), and writes the page and the log line back out.

pub mod api;
pub mod assets;
pub mod backend;
mod error;
pub mod http;
pub mod links;
pub mod pages;
mod router;
pub mod settings;
pub mod time;
// The SDK's `#[http_component]` expands to the component's unsafe export glue.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod spin;

pub use http::{ConsoleRequest, ConsoleResponse, Host};
pub use router::{ROUTES, handle};
pub use settings::{Settings, VARIABLES};
pub use spin_edge::AccessLog;
