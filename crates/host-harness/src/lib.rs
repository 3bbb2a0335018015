//! Starting the app on a free loopback port, on real Spin or on `spin-host`, and talking to it
//! over HTTP: shared by the end-to-end tests of the backend, the console and the host, the
//! browser test, and the benchmark.

mod agent;
mod client;
mod host;
mod runtime;

pub use client::{Reply, seed_releases, wait_for_listener};
pub use host::{Host, HostBuilder};
pub use runtime::{Runtime, spin_bin};

use serde_json::Value;
use std::path::{Path, PathBuf};

pub const HMAC_KEY: &str = "e2e-hmac-key-0123456789abcdef0123456789";

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

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The host binary: `SPIN_HOST_BIN`, else the `host` profile build that `make build` makes.
pub fn host_bin() -> PathBuf {
    let path = std::env::var_os("SPIN_HOST_BIN")
        .map_or_else(|| repo().join("target/host/spin-host"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run `make build` first",
        path.display()
    );
    path
}

pub fn wasm(name: &str) -> PathBuf {
    let path = repo().join(format!("target/wasm32-wasip2/release/{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `make build` first",
        path.display()
    );
    path
}

/// A new empty directory under the system's temporary directory.
pub fn scratch_dir(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "automatizacion-e2e-{label}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn token(sub: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let claims = token::Claims::new(
        sub,
        &roles,
        3600,
        token::DEFAULT_ISSUER,
        token::DEFAULT_AUDIENCE,
    );
    token::mint_hs256(&claims, HMAC_KEY.as_bytes()).unwrap()
}

pub fn release_body(version: &str) -> Value {
    serde_json::json!({
        "version": version,
        "artifact": format!("ghcr.io/acme/automatizacion:{version}"),
        "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "notes": "e2e",
    })
}

/// A free loopback port: for a test double, or a destination that must refuse connections.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository's `spin.toml`, parsed.
pub fn spin_toml() -> toml::Value {
    let text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    toml::Value::Table(toml::from_str(&text).unwrap())
}
/// Checks that `spin.toml` declares each `(name, default, secret)` the component reads, with
/// that default and secrecy, and passes exactly those to the component as `{{ name }}`.
pub fn assert_variables_declared_and_passed(component: &str, variables: &[(&str, &str, bool)]) {
    let manifest = spin_toml();
    let declared = manifest["variables"].as_table().unwrap();
    let passed = manifest["component"][component]["variables"]
        .as_table()
        .unwrap();
    for &(name, default, secret) in variables {
        let entry = declared
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not declared"));
        assert_eq!(
            entry["default"].as_str(),
            Some(default),
            "default of {name}"
        );
        let declared_secret = entry
            .get("secret")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        assert_eq!(declared_secret, secret, "secrecy of {name}");
        let template = format!("{{{{ {name} }}}}");
        assert_eq!(
            passed.get(name).and_then(toml::Value::as_str),
            Some(template.as_str()),
            "{name} passed to {component}"
        );
    }
    assert_eq!(
        passed.len(),
        variables.len(),
        "{component} is passed variables it never reads"
    );
}
