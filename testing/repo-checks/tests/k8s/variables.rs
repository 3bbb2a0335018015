//! The Spin variables the SpinApps set: every variable `spin.toml` requires is set, from a
//! ConfigMap or Secret that exists, and nothing is set that `spin.toml` does not declare.

use super::of_kind;
use manifest_check::Object;
use repo_checks::{rendered, repo};
use serde_json::Value;

/// Variables that `spin.toml` requires, and the references to ConfigMaps and Secrets.
fn uncovered_required_variables(spin_toml: &str, apps: &[&Object]) -> Vec<String> {
    let manifest: toml::Table = toml::from_str(spin_toml).unwrap();
    let required = manifest["variables"]
        .as_table()
        .unwrap()
        .iter()
        .filter(|(_, spec)| spec.get("required").and_then(toml::Value::as_bool) == Some(true))
        .map(|(name, _)| name.clone());
    required
        .filter(|name| {
            !apps.iter().any(|app| {
                app.value["spec"]["variables"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|v| v["name"] == name.as_str())
            })
        })
        .collect()
}

#[test]
fn spinapp_variables_cover_every_required_variable_and_resolve() {
    let spin_toml = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    let secrets_doc = std::fs::read_to_string(repo().join("k8s/secrets.md")).unwrap();
    for dir in ["k8s/overlays/staging", "k8s/overlays/production"] {
        let objects = rendered(dir);
        let apps = of_kind(&objects, "SpinApp");
        assert_eq!(
            uncovered_required_variables(&spin_toml, &apps),
            Vec::<String>::new(),
            "{dir}"
        );
        let config: Vec<&Object> = of_kind(&objects, "ConfigMap");
        for app in &apps {
            for variable in app.value["spec"]["variables"].as_array().unwrap() {
                let from = &variable["valueFrom"];
                if let Some(reference) = from.get("configMapKeyRef") {
                    let found = config.iter().any(|c| {
                        c.name() == reference["name"]
                            && !c.value["data"][reference["key"].as_str().unwrap()].is_null()
                    });
                    assert!(found, "{dir} {}: {reference} does not resolve", app.id());
                } else if let Some(reference) = from.get("secretKeyRef") {
                    let (name, key) = (
                        reference["name"].as_str().unwrap(),
                        reference["key"].as_str().unwrap(),
                    );
                    assert!(
                        secrets_doc.contains(&format!("`{name}`"))
                            && secrets_doc.contains(&format!("`{key}`")),
                        "{dir}: secret {name}/{key} is not documented in k8s/secrets.md"
                    );
                } else {
                    assert!(
                        variable["value"].is_string(),
                        "{dir} {}: {variable} has no value",
                        app.id()
                    );
                }
            }
        }
        let frontend = apps
            .iter()
            .find(|a| a.name() == "automatizacion-frontend")
            .unwrap();
        let backend_url = frontend.value["spec"]["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "backend_url")
            .unwrap();
        assert_eq!(
            backend_url["value"],
            "http://automatizacion-backend.automatizacion.svc.cluster.local"
        );
    }
    // The check itself: a required variable no SpinApp sets is reported.
    let with_required = spin_toml.replace(
        "[variables]\n",
        "[variables]\nlicence_key = { required = true }\n",
    );
    let apps = rendered("k8s/overlays/staging");
    assert_eq!(
        uncovered_required_variables(&with_required, &of_kind(&apps, "SpinApp")),
        ["licence_key"]
    );
}

/// What the SpinApps name that `spin.toml` does not have: components and variables.
fn unknown_to_spin_toml(spin_toml: &str, apps: &[&Object]) -> Vec<String> {
    let manifest: toml::Table = toml::from_str(spin_toml).unwrap();
    let components = manifest["component"].as_table().unwrap();
    let variables = manifest["variables"].as_table().unwrap();
    let mut unknown = Vec::new();
    for app in apps {
        let spec = &app.value["spec"];
        for component in spec["components"].as_array().into_iter().flatten() {
            let name = component.as_str().unwrap();
            if !components.contains_key(name) {
                unknown.push(format!("{}: component {name}", app.id()));
            }
        }
        for variable in spec["variables"].as_array().into_iter().flatten() {
            let name = variable["name"].as_str().unwrap();
            if !variables.contains_key(name) {
                unknown.push(format!("{}: variable {name}", app.id()));
            }
        }
    }
    unknown
}

#[test]
fn spinapps_select_components_and_set_variables_that_spin_toml_has() {
    let spin_toml = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    for dir in [
        "k8s/overlays/staging",
        "k8s/overlays/production",
        "karmada/workloads/staging",
        "karmada/workloads/production",
    ] {
        let objects = rendered(dir);
        let apps = of_kind(&objects, "SpinApp");
        assert!(!apps.is_empty(), "{dir} has SpinApps");
        assert_eq!(
            unknown_to_spin_toml(&spin_toml, &apps),
            Vec::<String>::new(),
            "{dir}"
        );
        // Each SpinApp selects components, and together they run every component of the app.
        let selected: Vec<&str> = apps
            .iter()
            .flat_map(|a| a.value["spec"]["components"].as_array().unwrap())
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(
            selected.contains(&"backend") && selected.contains(&"frontend"),
            "{dir}"
        );
    }
    // The check itself: a misspelled component or variable is reported.
    let misspelled = spin_toml
        .replace("[component.frontend", "[component.frontent")
        .replace("refresh_seconds = { default", "refresh_secs = { default");
    let objects = rendered("k8s/overlays/staging");
    let apps = of_kind(&objects, "SpinApp");
    let unknown = unknown_to_spin_toml(&misspelled, &apps);
    assert!(
        unknown.iter().any(|u| u.ends_with("component frontend")),
        "{unknown:?}"
    );
    let mut with_refresh = apps[0].clone();
    with_refresh.value["spec"]["variables"] =
        serde_json::json!([{"name": "refresh_seconds", "value": "30"}]);
    assert_eq!(
        unknown_to_spin_toml(&misspelled, &[&with_refresh])
            .last()
            .map(String::as_str),
        Some(format!("{}: variable refresh_seconds", with_refresh.id()).as_str())
    );
}

/// Every `secretKeyRef` in VALUE (at any depth), as `(name, key)`.
fn secret_refs(value: &Value, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("secretKeyRef") {
                let text = |field: &str| reference[field].as_str().unwrap_or("").to_owned();
                found.push((text("name"), text("key")));
            }
            map.values().for_each(|v| secret_refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| secret_refs(v, found)),
        _ => {}
    }
}

/// What any object reads from a Secret (a SpinApp's variables and runtime configuration, a
/// container's environment) is a key that `scripts/make-secrets.sh` creates and
/// `k8s/secrets.md` explains: a key nobody creates stops the pod at start.
#[test]
fn every_secret_key_the_manifests_read_is_generated_and_documented() {
    let script = std::fs::read_to_string(repo().join("scripts/make-secrets.sh")).unwrap();
    let doc = std::fs::read_to_string(repo().join("k8s/secrets.md")).unwrap();
    let mut refs = Vec::new();
    for dir in [
        "k8s/overlays/staging",
        "k8s/overlays/production",
        "k8s/database",
    ] {
        for object in rendered(dir) {
            secret_refs(&object.value, &mut refs);
        }
    }
    assert!(refs.iter().any(|(_, key)| key == "kv_url"), "{refs:?}");
    for (name, key) in refs {
        assert!(
            script.contains(&format!("secret generic {name} "))
                && script.contains(&format!("--from-literal={key}=")),
            "scripts/make-secrets.sh does not create {name}/{key}"
        );
        assert!(
            doc.contains(&format!("`{name}`")) && doc.contains(&format!("`{key}`")),
            "k8s/secrets.md does not explain {name}/{key}"
        );
    }
}
