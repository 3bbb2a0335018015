//! `spin.toml` as editors and `spin watch` read it: it names Spin's manifest schema, passes the
//! schema real Spin 3.6.3 generates (`spin maintenance generate-manifest-schema`, checked with
//! the `jsonschema_rs` validator `make test` installs for the contract test), and each
//! component's `watch` covers every crate of this workspace it is built from, as cargo says.

use host_harness::{repo, scratch_dir, spin_bin, spin_toml};
use repo_checks::stdout_of;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const SCHEMA_LINE: &str = "#:schema https://schemas.spinframework.dev/spin/manifest-v2/latest.json";

/// Spin's own schema of the manifest, from the Spin the suite runs.
fn spin_schema() -> Value {
    let schema =
        stdout_of(Command::new(spin_bin()).args(["maintenance", "generate-manifest-schema"]));
    serde_json::from_str(&schema).unwrap()
}

/// The schema's complaints about MANIFEST (as JSON), one per line; none when it passes.
fn complaints(schema: &Value, manifest: &Value) -> String {
    let python = repo().join("target/contract-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: make test installs it (scripts/python-venv.sh)",
        python.display()
    );
    let dir = scratch_dir("spin-manifest-schema");
    std::fs::write(dir.join("schema.json"), schema.to_string()).unwrap();
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    let check = "import json, sys, jsonschema_rs\n\
        schema, manifest = (json.load(open(p)) for p in sys.argv[1:])\n\
        for e in jsonschema_rs.validator_for(schema).iter_errors(manifest): print(e.message)";
    stdout_of(
        Command::new(python)
            .args(["-c", check])
            .arg(dir.join("schema.json"))
            .arg(dir.join("manifest.json")),
    )
}

#[test]
fn the_manifest_names_spins_schema_and_passes_it() {
    let text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    assert_eq!(text.lines().next(), Some(SCHEMA_LINE));
    let schema = spin_schema();
    let manifest = serde_json::to_value(spin_toml()).unwrap();
    assert_eq!(complaints(&schema, &manifest), "");
    // The check can fail: a misspelt key is refused.
    let mut misspelt = manifest.clone();
    let backend = misspelt["component"]["backend"].as_object_mut().unwrap();
    let source = backend.remove("source").unwrap();
    backend.insert("sorce".into(), source);
    assert!(!complaints(&schema, &misspelt).is_empty());
}

/// The directories of this workspace's crates that PACKAGE is built from for wasm32-wasip2,
/// itself included, relative to the checkout.
fn local_crates(metadata: &Value, package: &str) -> BTreeSet<String> {
    let packages = metadata["packages"].as_array().unwrap();
    let id_of = |name: &str| {
        let found = packages.iter().find(|p| p["name"] == name);
        found.unwrap_or_else(|| panic!("no package {name}"))["id"].clone()
    };
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    let root = repo().canonicalize().unwrap();
    let mut seen = BTreeSet::new();
    let mut todo = vec![id_of(package)];
    while let Some(id) = todo.pop() {
        let package = packages.iter().find(|p| p["id"] == id).unwrap();
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let Ok(dir) = manifest.parent().unwrap().strip_prefix(&root) else {
            continue; // from crates.io
        };
        if seen.insert(dir.display().to_string()) {
            // What it is built from: normal and build dependencies, not its tests'.
            let node = nodes.iter().find(|n| n["id"] == id).unwrap();
            let built_from = node["deps"].as_array().unwrap().iter().filter(|dep| {
                let kinds = dep["dep_kinds"].as_array().unwrap();
                kinds.iter().any(|k| k["kind"] != "dev")
            });
            todo.extend(built_from.map(|dep| dep["pkg"].clone()));
        }
    }
    seen
}

#[test]
fn each_components_watch_covers_every_crate_it_is_built_from() {
    let metadata = stdout_of(
        Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--filter-platform",
                "wasm32-wasip2",
            ])
            .current_dir(repo()),
    );
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    let manifest = spin_toml();
    for (component, settings) in manifest["component"].as_table().unwrap() {
        let watch: Vec<&str> = settings["build"]["watch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|glob| glob.as_str().unwrap())
            .collect();
        let crates = local_crates(&metadata, component);
        assert!(
            crates.contains(&format!("components/{component}")),
            "{crates:?}"
        );
        for dir in &crates {
            assert!(
                watch.contains(&format!("{dir}/**/*").as_str()),
                "{component}'s watch misses {dir}/**/*, which it is built from: {watch:?}"
            );
        }
        for file in ["Cargo.toml", "Cargo.lock"] {
            assert!(watch.contains(&file), "{component}'s watch misses {file}");
        }
    }
}
