//! `spin.toml` and the component agree: every variable the backend reads is declared, with the
//! same default and secrecy, and passed to the component; every route the router serves is
//! routed to it.

use backend::VARIABLES;
use host_harness::{assert_variables_declared_and_passed, assert_variables_documented, spin_toml};
use toml::Value;

#[test]
fn the_manifest_is_version_2_with_a_buildable_backend() {
    let manifest = spin_toml();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let backend = &manifest["component"]["backend"];
    assert_eq!(
        backend["source"].as_str(),
        Some("target/wasm32-wasip2/release/backend.wasm")
    );
    let build = backend["build"]["command"].as_str().unwrap();
    assert!(
        build.contains("--target wasm32-wasip2")
            && build.contains("--release")
            && build.contains("-p backend")
    );
    assert_eq!(
        backend["sqlite_databases"].as_array().unwrap(),
        &[Value::from("default")]
    );
}

#[test]
fn every_variable_is_declared_with_its_default_and_passed_to_the_backend() {
    assert_variables_declared_and_passed("backend", VARIABLES);
}

#[test]
fn the_readme_explains_every_variable_with_its_default() {
    assert_variables_documented("components/backend/README.md", VARIABLES);
}

#[test]
fn every_route_reaches_the_backend() {
    let manifest = spin_toml();
    let triggers = manifest["trigger"]["http"].as_array().unwrap();
    let backend_routes: Vec<&str> = triggers
        .iter()
        .filter(|t| t["component"].as_str() == Some("backend"))
        .map(|t| t["route"].as_str().unwrap())
        .collect();
    for route in backend::route_table() {
        let served = backend_routes.iter().any(|r| match r.strip_suffix("/...") {
            Some(prefix) => route.pattern.starts_with(&format!("{prefix}/")),
            None => *r == route.pattern,
        });
        assert!(served, "{} is not routed to the backend", route.pattern);
    }
}

#[test]
fn the_backend_may_reach_only_the_database_host() {
    let manifest = spin_toml();
    let hosts = manifest["component"]["backend"]["allowed_outbound_hosts"]
        .as_array()
        .unwrap();
    assert_eq!(hosts, &[Value::from("{{ db_outbound_host }}")]);
    let default = manifest["variables"]["db_outbound_host"]["default"]
        .as_str()
        .unwrap();
    assert!(default.starts_with("postgres://"), "{default}");
}
