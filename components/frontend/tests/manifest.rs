//! `spin.toml` and the console agree: every variable it reads is declared with the same
//! default and secrecy and passed to it, it serves every path the backend does not, and it may
//! reach the backend and nothing else.

use frontend::VARIABLES;
use host_harness::{assert_variables_declared_and_passed, assert_variables_documented, spin_toml};
use toml::Value;

#[test]
fn the_frontend_is_buildable_and_holds_no_storage() {
    let manifest = spin_toml();
    let frontend = manifest["component"]["frontend"].as_table().unwrap();
    assert_eq!(
        frontend["source"].as_str(),
        Some("target/wasm32-wasip2/release/frontend.wasm")
    );
    let build = frontend["build"]["command"].as_str().unwrap();
    assert!(build.contains("--target wasm32-wasip2") && build.contains("-p frontend"));
    for storage in ["sqlite_databases", "key_value_stores", "files"] {
        assert!(!frontend.contains_key(storage), "the console has {storage}");
    }
}

#[test]
fn the_frontend_may_reach_only_the_backend() {
    let manifest = spin_toml();
    assert_eq!(
        manifest["component"]["frontend"]["allowed_outbound_hosts"]
            .as_array()
            .unwrap(),
        &[Value::from("{{ backend_url }}")]
    );
}

#[test]
fn every_variable_is_declared_with_its_default_and_passed_to_the_frontend() {
    assert_variables_declared_and_passed("frontend", VARIABLES);
}

#[test]
fn the_readme_explains_every_variable_with_its_default() {
    assert_variables_documented("components/frontend/README.md", VARIABLES);
}

#[test]
fn the_console_serves_every_path_the_backend_does_not() {
    let manifest = spin_toml();
    let routes: Vec<(&str, &str)> = manifest["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["route"].as_str().unwrap(),
                t["component"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(routes.contains(&("/...", "frontend")));
    for (route, component) in &routes {
        if *component == "frontend" {
            assert_eq!(*route, "/...", "the console has one catch-all route");
        } else {
            assert!(route.starts_with("/api") || *route == "/metrics", "{route}");
        }
    }
}
