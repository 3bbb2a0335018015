//! The bare "hello" component the benchmark measures the app against.
#![cfg(target_arch = "wasm32")]
#![allow(unsafe_code)]

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> Response {
    Response::new(200, "hello")
}
