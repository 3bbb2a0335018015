//! Starting the app on a free loopback port, on real Spin or on `spin-host`, and talking to it
//! over HTTP: shared by the end-to-end tests of the backend, the console and the host, the
//! browser test, and the benchmark; and the suite's Karmada control plane ([`control_plane`]),
//! shared by every test that runs on it.

mod agent;
mod client;
mod cluster_parts;
pub mod collector;
pub mod control_plane;
mod fixtures;
mod host;
mod machine_locks;
pub mod prometheus;
mod runtime;

pub use client::{Reply, seed_releases, wait_for_listener};
pub use cluster_parts::{Redis, push_checkout, push_checkout_edited};
pub use fixtures::{
    HMAC_KEY, assert_variables_declared_and_passed, assert_variables_documented, free_port,
    host_bin, release_body, repo, scratch_dir, spin_toml, token, wasm,
};
pub use host::{Host, HostBuilder};
pub use machine_locks::{OneBuildAtATime, OneSetOfNodes};
pub use runtime::{Runtime, spin_bin};

/// Generates, for each named `fn(Runtime)`, one test per runtime: `spin::NAME` and
/// `spin_host::NAME`, so that a failure names the runtime it happened on.
#[macro_export]
macro_rules! on_both_runtimes {
    ($($test:ident),+ $(,)?) => {
        mod spin {
            $(#[test] fn $test() { super::$test($crate::Runtime::Spin) })+
        }
        mod spin_host {
            $(#[test] fn $test() { super::$test($crate::Runtime::SpinHost) })+
        }
    };
}
