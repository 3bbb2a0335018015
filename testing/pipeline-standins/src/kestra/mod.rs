//! Stand-ins for a Kestra 2.0 OSS server: what it refuses when a flow is saved (`save`), how it
//! runs one (`run`), its REST API for the approval gate (`api`), and the expressions it
//! evaluates (`pebble`).

pub mod api;
pub mod pebble;
pub mod run;
pub mod save;
