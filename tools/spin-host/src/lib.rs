//! `spin-host`: runs a Spin application from its `spin.toml` on the engine Spin embeds
//! (wasmtime, with its WASI 0.2 and wasi:http crates), for machines without the Spin CLI.
//! It implements the Spin interfaces this repository's components import, and refuses any
//! manifest feature or import it does not implement.

mod json_text;
pub mod manifest;
pub mod metrics;
pub mod outbound;
pub mod pools;
pub mod runtime;
pub mod server;
mod spin_apis;
mod state;
pub mod traces;
pub mod variables;
