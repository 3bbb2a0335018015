//! The manifests under `k8s/`: every overlay renders, every object fits its real schema, and
//! the policies below hold.

mod platform;
mod variables;

use manifest_check::{Object, parse_yaml, validate};
use repo_checks::{rendered, repo, schemas};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const RENDERED: &[&str] = &[
    "k8s/base",
    "k8s/overlays/staging",
    "k8s/overlays/production",
    "k8s/database",
];

pub fn of_kind<'a>(objects: &'a [Object], kind: &str) -> Vec<&'a Object> {
    objects.iter().filter(|o| o.kind() == kind).collect()
}

#[test]
fn every_rendered_object_fits_its_schema() {
    let schemas = schemas();
    // local-dev/database: the Kind clusters' ledger database (local-dev/up.sh);
    // k8s/observability: the monitoring ConfigMaps.
    for dir in RENDERED.iter().chain(&[
        "local-dev/database",
        "k8s/observability",
        "k8s/platform/spin/executor",
    ]) {
        let objects = rendered(dir);
        assert!(!objects.is_empty(), "{dir} rendered nothing");
        let violations = validate(&schemas, &objects);
        assert!(
            violations.is_empty(),
            "{dir}:\n{}",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn misspelled_fields_fail_with_file_object_and_path() {
    let schemas = schemas();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (file, path) in [
        ("misspelled-spinapp.yaml", "spec.exectuor"),
        (
            "misspelled-ingress.yaml",
            "spec.rules[0].http.paths[0].pathTyp",
        ),
    ] {
        let source = dir.join(file).display().to_string();
        let objects = parse_yaml(&std::fs::read_to_string(&source).unwrap(), &source).unwrap();
        let violations = validate(&schemas, &objects);
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert!(
            violations.iter().any(|v| v.path == path
                && v.source.ends_with(file)
                && v.object.ends_with("/broken")),
            "{file}: {text:#?}"
        );
    }
    // The SpinApp also lacks its required executor, which the schema says.
    let source = dir.join("misspelled-spinapp.yaml").display().to_string();
    let objects = parse_yaml(&std::fs::read_to_string(&source).unwrap(), &source).unwrap();
    assert!(
        validate(&schemas, &objects)
            .iter()
            .any(|v| v.path == "spec.executor" && v.message.contains("required"))
    );
}

#[test]
fn production_spinapps_pin_their_image_by_digest() {
    for app in of_kind(&rendered("k8s/overlays/production"), "SpinApp") {
        let image = app.value["spec"]["image"].as_str().unwrap();
        let digest = image
            .split_once("@sha256:")
            .map(|(_, hex)| hex)
            .unwrap_or_default();
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{}: {image}",
            app.id()
        );
    }
}

#[test]
fn production_autoscales_the_operators_deployments() {
    let objects = rendered("k8s/overlays/production");
    let apps = of_kind(&objects, "SpinApp");
    let targets: BTreeSet<&str> = of_kind(&objects, "HorizontalPodAutoscaler")
        .iter()
        .map(|hpa| {
            let target = &hpa.value["spec"]["scaleTargetRef"];
            assert_eq!(
                (target["apiVersion"].as_str(), target["kind"].as_str()),
                (Some("apps/v1"), Some("Deployment"))
            );
            assert_eq!(hpa.value["spec"]["metrics"][0]["resource"]["name"], "cpu");
            target["name"].as_str().unwrap()
        })
        .collect();
    for app in &apps {
        assert_eq!(app.value["spec"]["enableAutoscaling"], true, "{}", app.id());
        assert!(
            app.value["spec"].get("replicas").is_none(),
            "{}: replicas must be unset with autoscaling",
            app.id()
        );
        assert!(targets.contains(app.name()), "{} has no HPA", app.id());
    }
    assert_eq!(targets.len(), apps.len());
}

/// Where each SpinApp's executor comes from: one cluster has the platform's
/// (`install.sh --app-namespace`), the Karmada workloads carry it in the SpinApps' namespace. No
/// app directory ships a RuntimeClass: that is the platform's, or runtime-class-manager's.
#[test]
fn every_spinapp_has_probes_resources_and_an_executor_that_exists() {
    let platform = rendered("k8s/platform/spin/executor");
    let platform: Vec<&str> = of_kind(&platform, "SpinAppExecutor")
        .iter()
        .map(|e| e.name())
        .collect();
    let karmada = ["karmada/workloads/staging", "karmada/workloads/production"];
    let apps = RENDERED.iter().filter(|d| !d.contains("database"));
    for dir in apps.chain(&karmada) {
        let objects = rendered(dir);
        let carried: Vec<(&str, &str)> = of_kind(&objects, "SpinAppExecutor")
            .iter()
            .map(|e| (e.namespace(), e.name()))
            .collect();
        for app in of_kind(&objects, "SpinApp") {
            let spec = &app.value["spec"];
            for probe in ["liveness", "readiness"] {
                assert!(
                    spec["checks"][probe]["httpGet"]["path"].is_string(),
                    "{dir} {}: no {probe} check",
                    app.id()
                );
            }
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        !spec["resources"][bound][resource].is_null(),
                        "{dir} {}: no {bound}.{resource}",
                        app.id()
                    );
                }
            }
            let executor = spec["executor"].as_str().unwrap_or_default();
            let found = if dir.starts_with("karmada/") {
                carried.contains(&(app.namespace(), executor))
            } else {
                platform.contains(&executor)
            };
            assert!(found, "{dir} {}: no executor `{executor}`", app.id());
            assert_eq!(
                spec["components"].as_array().map(Vec::len),
                Some(1),
                "{dir} {}: selects one component",
                app.id()
            );
        }
        assert!(of_kind(&objects, "RuntimeClass").is_empty(), "{dir}");
        if !dir.starts_with("karmada/") {
            assert!(carried.is_empty(), "{dir} ships the platform's executor");
        }
    }
}

/// Secrets are never committed with data: not in any rendered output, not in any file.
#[test]
fn no_secret_carries_data_in_git() {
    let holds_data = |o: &Object| {
        o.kind() == "Secret"
            && (o.value.get("data").is_some() || o.value.get("stringData").is_some())
    };
    for dir in RENDERED {
        assert!(
            !rendered(dir).iter().any(holds_data),
            "{dir} renders a Secret with data"
        );
    }
    let mut pending = vec![repo().join("k8s")];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files += 1;
                let source = path.display().to_string();
                let text = std::fs::read_to_string(&path).unwrap();
                if let Ok(objects) = parse_yaml(&text, &source) {
                    assert!(
                        !objects.iter().any(holds_data),
                        "{source} holds Secret data"
                    );
                }
            }
        }
    }
    assert!(files > 5, "walked too few files: {files}");
}

#[test]
fn labels_and_namespaces_are_consistent() {
    for dir in RENDERED {
        for object in rendered(dir) {
            let labels = &object.value["metadata"]["labels"];
            for key in ["app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"] {
                assert!(labels[key].is_string(), "{dir} {} lacks {key}", object.id());
            }
            let cluster_scoped = matches!(object.kind(), "Namespace" | "RuntimeClass");
            let namespace = if cluster_scoped { "" } else { "automatizacion" };
            assert_eq!(
                object.namespace(),
                namespace,
                "{dir} {}: namespace",
                object.id()
            );
            if object.kind() == "SpinApp" {
                let pod = &object.value["spec"]["podLabels"];
                for key in [
                    "app.kubernetes.io/name",
                    "app.kubernetes.io/component",
                    "app.kubernetes.io/part-of",
                ] {
                    assert!(
                        pod[key].is_string(),
                        "{dir} {} podLabels lack {key}",
                        object.id()
                    );
                    assert_eq!(
                        pod[key],
                        labels[key],
                        "{dir} {}: {key} differs between object and pods",
                        object.id()
                    );
                }
            }
        }
    }
}

/// The pods a selector picks, given that the operator labels a SpinApp's pods with
/// `core.spinkube.dev/app-name` and its `podLabels`.
fn selects_spinapp(selector: &Value, apps: &[&Object]) -> bool {
    let Some(wanted) = selector["matchLabels"].as_object() else {
        return false;
    };
    apps.iter().any(|app| {
        wanted.iter().all(|(key, value)| {
            (key == "core.spinkube.dev/app-name" && value == app.name())
                || app.value["spec"]["podLabels"][key] == *value
        })
    })
}

#[test]
fn ingress_and_network_policy_point_at_things_that_exist() {
    for dir in [
        "k8s/base",
        "k8s/overlays/staging",
        "k8s/overlays/production",
    ] {
        let objects = rendered(dir);
        let apps = of_kind(&objects, "SpinApp");
        // The operator creates a port-80 Service named after each SpinApp.
        let services: BTreeSet<&str> = apps
            .iter()
            .map(|a| a.name())
            .chain(of_kind(&objects, "Service").iter().map(|s| s.name()))
            .collect();
        let mut routed = BTreeSet::new();
        for ingress in of_kind(&objects, "Ingress") {
            for rule in ingress.value["spec"]["rules"].as_array().unwrap() {
                assert!(rule["host"].is_string(), "{dir}: ingress rule without host");
                for path in rule["http"]["paths"].as_array().unwrap() {
                    let service = &path["backend"]["service"];
                    let name = service["name"].as_str().unwrap();
                    assert!(
                        services.contains(name),
                        "{dir}: ingress routes to missing Service {name}"
                    );
                    assert_eq!(service["port"]["number"], 80, "{dir}: {name} listens on 80");
                    routed.insert((path["path"].as_str().unwrap().to_owned(), name.to_owned()));
                }
            }
        }
        for (path, service) in [
            ("/api", "automatizacion-backend"),
            ("/", "automatizacion-frontend"),
        ] {
            assert!(
                routed.contains(&(path.to_owned(), service.to_owned())),
                "{dir}: {path} is not routed to {service}"
            );
        }
        // The ledger's gauges are for Prometheus inside the cluster, never routed outside.
        assert!(
            routed.iter().all(|(path, _)| !path.starts_with("/metrics")),
            "{dir}: /metrics is routed outside the cluster"
        );
        for policy in of_kind(&objects, "NetworkPolicy") {
            assert!(
                selects_spinapp(&policy.value["spec"]["podSelector"], &apps),
                "{dir}: {} selects no SpinApp pods",
                policy.id()
            );
            for peer in policy.value["spec"]["ingress"][0]["from"]
                .as_array()
                .unwrap()
            {
                if peer.get("namespaceSelector").is_none() {
                    assert!(
                        selects_spinapp(&peer["podSelector"], &apps),
                        "{dir}: {} admits pods that do not exist",
                        policy.id()
                    );
                }
            }
        }
        for budget in of_kind(&objects, "PodDisruptionBudget") {
            assert!(
                selects_spinapp(&budget.value["spec"]["selector"], &apps),
                "{dir}: {} selects nothing",
                budget.id()
            );
        }
        assert_eq!(
            of_kind(&objects, "PodDisruptionBudget").len(),
            apps.len(),
            "{dir}: one budget per SpinApp"
        );
    }
}

/// A stalled or slow client must never hold a Spin instance: the ingress buffers whole requests
/// (up to the API's body limit) and times out slow ones before proxying.
#[test]
fn the_ingress_shields_instances_from_slow_clients() {
    for dir in ["k8s/overlays/staging", "k8s/overlays/production"] {
        let objects = rendered(dir);
        let ingresses = of_kind(&objects, "Ingress");
        assert!(!ingresses.is_empty(), "{dir} has no Ingress");
        for ingress in ingresses {
            let annotations = &ingress.value["metadata"]["annotations"];
            let get =
                |key: &str| annotations[format!("nginx.ingress.kubernetes.io/{key}")].as_str();
            assert_eq!(get("proxy-request-buffering"), Some("on"), "{dir}");
            assert_eq!(get("proxy-body-size"), Some("64k"), "{dir}");
            assert_eq!(get("client-body-buffer-size"), Some("64k"), "{dir}");
            let read: u64 = get("proxy-read-timeout").unwrap().parse().unwrap();
            assert!((1..=60).contains(&read), "{dir}: proxy-read-timeout {read}");
        }
    }
    let install = std::fs::read_to_string(repo().join("k8s/platform/install.sh")).unwrap();
    for key in ["client-header-timeout", "client-body-timeout"] {
        assert!(
            install.contains(&format!("\"{key}\":\"10\"")),
            "install.sh sets {key}"
        );
    }
}

/// Bearer tokens never cross the network in clear: every host an Ingress routes is under its
/// `tls`, with a Secret that cert-manager fills from the platform's ClusterIssuer (so
/// ingress-nginx redirects plain HTTP), in the base and in each overlay, whose host patches
/// must move both.
#[test]
fn every_ingress_serves_its_hosts_over_tls() {
    for dir in [
        "k8s/base",
        "k8s/overlays/staging",
        "k8s/overlays/production",
    ] {
        for ingress in of_kind(&rendered(dir), "Ingress") {
            let spec = &ingress.value["spec"];
            let annotations = &ingress.value["metadata"]["annotations"];
            assert_eq!(
                annotations["cert-manager.io/cluster-issuer"], "automatizacion",
                "{dir}: the platform's ClusterIssuer"
            );
            let tls = spec["tls"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            assert!(!tls.is_empty(), "{dir}: an Ingress without TLS");
            for entry in tls {
                assert!(entry["secretName"].is_string(), "{dir}: {entry}");
            }
            let covered: BTreeSet<&str> = tls
                .iter()
                .flat_map(|entry| entry["hosts"].as_array().unwrap())
                .map(|host| host.as_str().unwrap())
                .collect();
            for rule in spec["rules"].as_array().unwrap() {
                let host = rule["host"].as_str().unwrap();
                assert!(
                    covered.contains(host),
                    "{dir}: {host} is served without TLS"
                );
            }
        }
    }
    let issuer: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("k8s/platform/cluster-issuer-selfsigned.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(issuer["kind"], "ClusterIssuer");
    assert_eq!(issuer["metadata"]["name"], "automatizacion");
}
