//! Where the checkout and its builds are, and the tokens, bodies, ports and directories the
//! end-to-end tests are made of.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The key the app under test verifies HS256 tokens with (`auth_hmac_key`).
pub const HMAC_KEY: &str = "e2e-hmac-key-0123456789abcdef0123456789";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The host binary: `SPIN_HOST_BIN` (`make test` names the one its test build made), else the
/// `host` profile build that `make build` makes.
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
/// Checks that `spin.toml` declares each of VARIABLES with its default and secrecy, and passes
/// exactly those to COMPONENT as `{{ name }}`.
pub fn assert_variables_declared_and_passed(component: &str, variables: &[spin_edge::Variable]) {
    let manifest = spin_toml();
    let declared = manifest["variables"].as_table().unwrap();
    let passed = manifest["component"][component]["variables"]
        .as_table()
        .unwrap();
    for variable in variables {
        let name = variable.name;
        let entry = declared
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not declared"));
        assert_eq!(
            entry["default"].as_str(),
            Some(variable.default),
            "default of {name}"
        );
        let declared_secret = entry
            .get("secret")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        assert_eq!(declared_secret, variable.secret, "secrecy of {name}");
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

/// The configuration table a README shows for VARIABLES: one row each, in their order.
pub fn variables_table(variables: &[spin_edge::Variable]) -> String {
    let mut table = String::from("| variable | default | meaning |\n| --- | --- | --- |\n");
    for v in variables {
        let secret = if v.secret { " (secret)" } else { "" };
        let default = if v.default.is_empty() {
            "empty".to_owned()
        } else {
            format!("`{}`", v.default)
        };
        table.push_str(&format!(
            "| `{}`{secret} | {default} | {} |\n",
            v.name, v.meaning
        ));
    }
    table
}

/// Checks that README (a path from the checkout's root) shows VARIABLES' table as
/// [`variables_table`] renders it, so the documented defaults are the ones the code uses.
pub fn assert_variables_documented(readme: &str, variables: &[spin_edge::Variable]) {
    let text = std::fs::read_to_string(repo().join(readme)).unwrap();
    let table = variables_table(variables);
    assert!(
        text.contains(&table),
        "{readme} does not show the variables as the code declares them; its table should read:\n{table}"
    );
}
