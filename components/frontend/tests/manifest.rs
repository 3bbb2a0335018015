//! `spin.toml` and the console agree: every variable it reads is declared with the same
//! default and secrecy and passed to it, it serves every path the backend does not, and it may
//! reach the backend and nothing else.

use frontend::VARIABLES;
use toml::Value;

fn manifest() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml");
    Value::Table(toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

#[test]
fn the_frontend_is_buildable_and_holds_no_storage() {
    let manifest = manifest();
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
    let manifest = manifest();
    assert_eq!(
        manifest["component"]["frontend"]["allowed_outbound_hosts"]
            .as_array()
            .unwrap(),
        &[Value::from("{{ backend_url }}")]
    );
}

#[test]
fn every_variable_is_declared_with_its_default_and_passed_to_the_frontend() {
    let variables: Vec<(&str, &str, bool)> = VARIABLES
        .iter()
        .map(|v| (v.name, v.default, v.secret))
        .collect();
    host_harness::assert_variables_declared_and_passed("frontend", &variables);
}

#[test]
fn the_console_serves_every_path_the_backend_does_not() {
    let manifest = manifest();
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
