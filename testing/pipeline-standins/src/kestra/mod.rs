//! Stand-ins for a Kestra 2.0 OSS server: what it refuses when a flow is saved (`save`), how it
//! runs one (`run`, with the `plugins` it runs for real), its REST API for the approval gate
//! (`api`), the expressions it evaluates (`pebble`), and all of it as a server that keeps
//! running (`server`, the `kestra-standin` binary).

pub mod api;
mod inputs;
pub mod pebble;
mod plugins;
pub mod run;
pub mod save;
mod schedule;
pub mod server;
mod state;
