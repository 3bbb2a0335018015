//! The policies on a real Karmada control plane: Karmada v1.18.2's webhook, controllers and
//! scheduler over a Kubernetes 1.36 API server, with three member API servers (`staging`,
//! `prod-east`, `prod-west`) where objects are stored but no pod runs.
//!
//! `local-dev/control-plane.sh up` starts it and applies `karmada/` and both workloads in the
//! order `karmada/README.md` documents; `scripts/with-control-plane.sh` (from `make test`) does
//! that once for the whole suite and exports `CONTROL_PLANE_DIR`. Tests that change production
//! or staging put everything back before they finish, and take a lock so that no other test
//! reads a half-changed environment.

mod digests;
mod platform;

use host_harness::control_plane::{eventually, exclusive, get, kubeconfigs, kubectl};
use manifest_check::Object;
use repo_checks::repo;
use serde_json::{Value, json};
use spinkube_standin::status;
use std::path::{Path, PathBuf};
use std::time::Duration;

const APPS: [&str; 2] = ["automatizacion-backend", "automatizacion-frontend"];
const PRODUCTION: &str = "automatizacion";
const STAGING: &str = "automatizacion-staging";
const IMAGE: &str = "ghcr.io/acme/automatizacion";

fn variable(app: &Value, index: usize) -> (String, String) {
    let v = &app["spec"]["variables"][index];
    (
        v["name"].as_str().unwrap().into(),
        v["value"].as_str().unwrap_or("").into(),
    )
}

fn expect(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

#[test]
fn staging_reaches_only_the_staging_member_with_its_dependencies_and_overrides() {
    for app in APPS {
        let spinapp = get("staging", STAGING, &format!("spinapp/{app}")).unwrap();
        let image = spinapp["spec"]["image"].as_str().unwrap();
        assert!(
            image.starts_with("registry.staging.internal:5000/acme/automatizacion@sha256:"),
            "{app}: the registry mirror override is missing: {image}"
        );
        assert_eq!(
            variable(&spinapp, 1),
            ("cluster_name".into(), "staging".into())
        );
        assert_eq!(
            variable(&spinapp, 2),
            ("region".into(), "eu-central-1".into())
        );
        assert_eq!(spinapp["spec"]["replicas"], 1);
        assert_eq!(spinapp["spec"]["executor"], "containerd-shim-spin");
    }
    // propagateDeps: what the SpinApps name travels with them.
    for dependency in [
        "spinappexecutor/containerd-shim-spin",
        "configmap/automatizacion-config",
        "secret/automatizacion-secrets",
    ] {
        get("staging", STAGING, dependency)
            .unwrap_or_else(|e| panic!("staging lacks {dependency}: {e}"));
    }
    for member in ["prod-east", "prod-west"] {
        let found = get(member, "", &format!("namespace/{STAGING}"));
        assert!(found.is_err(), "{member} holds staging's namespace");
    }
    let found = get("staging", "", &format!("namespace/{PRODUCTION}"));
    assert!(found.is_err(), "staging holds production's namespace");
}

#[test]
fn production_replicas_are_divided_four_and_two_by_the_interpreter_inside_karmada() {
    let expected = [
        (
            "prod-east",
            4,
            "eu-east-1",
            None,
            "east.automatizacion.example.com",
        ),
        (
            "prod-west",
            2,
            "eu-west-1",
            Some(json!("500m")),
            "west.automatizacion.example.com",
        ),
    ];
    for app in APPS {
        let template = get("karmada-apiserver", PRODUCTION, &format!("spinapp/{app}")).unwrap();
        assert_eq!(template["spec"]["replicas"], 6);
        for (member, replicas, region, cpu, _) in &expected {
            let spinapp = get(member, PRODUCTION, &format!("spinapp/{app}")).unwrap();
            assert_eq!(spinapp["spec"]["replicas"], *replicas, "{member}/{app}");
            assert_eq!(
                variable(&spinapp, 1),
                ("cluster_name".into(), member.to_string())
            );
            assert_eq!(variable(&spinapp, 2), ("region".into(), region.to_string()));
            // prod-west's smaller limit; prod-east keeps the template's.
            let want = cpu
                .clone()
                .unwrap_or(template["spec"]["resources"]["limits"]["cpu"].clone());
            assert_eq!(
                spinapp["spec"]["resources"]["limits"]["cpu"], want,
                "{member}/{app}"
            );
        }
    }
    for (member, _, _, _, host) in expected {
        let ingress = get(member, PRODUCTION, "ingress/automatizacion").unwrap();
        assert_eq!(ingress["spec"]["rules"][0]["host"], host);
        // The cluster's own host under TLS too: Karmada's override moves both.
        assert_eq!(ingress["spec"]["tls"][0]["hosts"][0], host, "{member}");
        for dependency in [
            "spinappexecutor/containerd-shim-spin",
            "secret/automatizacion-secrets",
        ] {
            get(member, PRODUCTION, dependency)
                .unwrap_or_else(|e| panic!("{member} lacks {dependency}: {e}"));
        }
    }
    let binding = get(
        "karmada-apiserver",
        PRODUCTION,
        "resourcebinding/automatizacion-backend-spinapp",
    )
    .unwrap();
    let mut clusters: Vec<(String, i64)> = binding["spec"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["replicas"].as_i64().unwrap(),
            )
        })
        .collect();
    clusters.sort();
    assert_eq!(clusters, [("prod-east".into(), 4), ("prod-west".into(), 2)]);
}

/// What the SpinKube operator would write on a member: `status.readyReplicas` and the
/// `Available` condition, as the SpinKube status stand-in writes them (`spinkube_standin::status`).
fn operator_stand_in_reports(member: &str, app: &str, ready: i64) {
    let reported = status::replicas(ready, &format!("{ready} replicas ready"));
    status::write(&kubeconfigs().join(member), PRODUCTION, app, &reported).unwrap();
}

/// The control plane's view: summed ready replicas, and each member's health.
fn aggregated(app: &str) -> Result<(i64, Vec<(String, String)>), String> {
    let template = get("karmada-apiserver", PRODUCTION, &format!("spinapp/{app}"))?;
    let ready = template["status"]["readyReplicas"]
        .as_i64()
        .ok_or("no readyReplicas yet")?;
    let binding = get(
        "karmada-apiserver",
        PRODUCTION,
        &format!("resourcebinding/{app}-spinapp"),
    )?;
    let mut health: Vec<(String, String)> = binding["status"]["aggregatedStatus"]
        .as_array()
        .ok_or("no aggregatedStatus yet")?
        .iter()
        .map(|s| {
            let cluster = s["clusterName"].as_str().unwrap_or("").to_owned();
            (cluster, s["health"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    health.sort();
    Ok((ready, health))
}

#[test]
fn member_statuses_from_an_operator_stand_in_aggregate_and_flip_health_on_the_control_plane() {
    let _lock = exclusive();
    let app = "automatizacion-frontend";
    let healthy = |ready: i64| {
        move || {
            let (sum, health) = aggregated(app)?;
            let want = vec![
                ("prod-east".to_owned(), "Healthy".to_owned()),
                ("prod-west".to_owned(), "Healthy".to_owned()),
            ];
            expect(sum == ready && health == want, || {
                format!("{sum} ready, {health:?}")
            })
        }
    };
    operator_stand_in_reports("prod-east", app, 4);
    operator_stand_in_reports("prod-west", app, 2);
    eventually("6 ready replicas, both clusters healthy", healthy(6));

    operator_stand_in_reports("prod-west", app, 0);
    eventually("prod-west unhealthy, 4 ready", || {
        let (sum, health) = aggregated(app)?;
        let want = vec![
            ("prod-east".to_owned(), "Healthy".to_owned()),
            ("prod-west".to_owned(), "Unhealthy".to_owned()),
        ];
        expect(sum == 4 && health == want, || {
            format!("{sum} ready, {health:?}")
        })
    });
    let template = get("karmada-apiserver", PRODUCTION, &format!("spinapp/{app}")).unwrap();
    let messages: Vec<&str> = template["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("prod-west")),
        "each condition names its cluster: {messages:?}"
    );

    // Back to healthy well within the policy's 120 s failover toleration.
    operator_stand_in_reports("prod-west", app, 2);
    eventually("both clusters healthy again", healthy(6));
}

#[test]
fn every_rendered_k8s_manifest_passes_server_side_validation_on_a_member() {
    for dir in [
        "k8s/base",
        "k8s/overlays/staging",
        "k8s/overlays/production",
        "k8s/database",
    ] {
        let path = repo().join(dir);
        let out = kubectl(
            "prod-east",
            &[
                "apply",
                "--dry-run=server",
                "--validate=strict",
                "-k",
                path.to_str().unwrap(),
            ],
            None,
        )
        .unwrap_or_else(|e| panic!("{dir}: {e}"));
        let expected = if dir == "k8s/database" {
            "cronjob.batch/automatizacion-db-backup"
        } else {
            "spinapp.core.spinkube.dev"
        };
        assert!(out.contains(expected), "{dir}: {out}");
    }
    // The API server checks the backup CronJob's schedule and time zone itself.
    let mut database: Vec<Object> = repo_checks::rendered("k8s/database");
    let cronjob = database.iter_mut().find(|o| o.kind() == "CronJob").unwrap();
    cronjob.value["spec"]["schedule"] = json!("61 * * * *");
    cronjob.value["spec"]["timeZone"] = json!("Europe/Atlantis");
    let refused = kubectl(
        "prod-east",
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        Some(&cronjob.value.to_string()),
    );
    let error = refused.expect_err("a schedule past the hour and an unknown zone are refused");
    assert!(
        error.contains("spec.schedule") && error.contains("spec.timeZone"),
        "{error}"
    );
    // The same check refuses what the SpinApp CRD does not allow.
    let mut objects: Vec<Object> = repo_checks::rendered("k8s/overlays/production");
    let spinapp = objects.iter_mut().find(|o| o.kind() == "SpinApp").unwrap();
    spinapp.value["spec"]["replicaCount"] = json!(3);
    let refused = kubectl(
        "prod-east",
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        Some(&spinapp.value.to_string()),
    );
    let error = refused.expect_err("an unknown SpinApp field is refused");
    assert!(error.contains("replicaCount"), "{error}");
}

/// The CRDs `scripts/parts.sh` put in DIR under `target/parts/crds`, installed on prod-east and
/// established.
pub fn crds_on_prod_east(dir: &str) {
    let crds = repo().join("target/parts/crds").join(dir);
    let crds = crds.to_str().unwrap();
    kubectl("prod-east", &["apply", "--server-side", "-f", crds], None).unwrap();
    // Polled: `kubectl wait` fails at once on a CRD whose status.conditions is still null.
    let wait = [
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=5s",
    ];
    eventually(&format!("{dir}'s CRDs established"), || {
        kubectl("prod-east", &wait, None)
    });
}

/// The Prometheus Operator's objects (`k8s/observability/prometheus-operator`) pass its own
/// CRDs (`PROMETHEUS_OPERATOR_VERSION`, installed on a member for this), which refuse what they
/// do not define.
#[test]
fn the_prometheus_operator_objects_pass_its_crds_on_a_member() {
    let on_member = |args: &[&str], input: Option<&str>| kubectl("prod-east", args, input);
    crds_on_prod_east("prometheus-operator");
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: monitoring}\n";
    on_member(&["apply", "-f", "-"], Some(namespace)).unwrap();
    let dir = "k8s/observability/prometheus-operator";
    let strict = ["apply", "--dry-run=server", "--validate=strict"];
    let path = repo().join(dir);
    let out = on_member(
        &[&strict[..], &["-k", path.to_str().unwrap()]].concat(),
        None,
    )
    .unwrap_or_else(|e| panic!("{dir}: {e}"));
    for object in [
        "podmonitor.monitoring.coreos.com/automatizacion-backend",
        "podmonitor.monitoring.coreos.com/otel-collector",
        "prometheusrule.monitoring.coreos.com/automatizacion-alerts",
    ] {
        assert!(out.contains(object), "{object}: {out}");
    }
    let mut objects: Vec<Object> = repo_checks::rendered(dir);
    let monitor = objects
        .iter_mut()
        .find(|o| o.kind() == "PodMonitor")
        .unwrap();
    monitor.value["spec"]["podMetricsEndpoints"][0]["scrapeEvery"] = json!("30s");
    let refused = on_member(
        &[&strict[..], &["-f", "-"]].concat(),
        Some(&monitor.value.to_string()),
    );
    let error = refused.expect_err("a field the PodMonitor CRD does not define is refused");
    assert!(error.contains("scrapeEvery"), "{error}");
}

/// The production overlay with the Gateway API edge (`k8s/components/gateway-api`) added, as
/// the component's comment says to add it, in a copy of `k8s/`: its Gateway API objects pass the
/// Gateway API's own CRDs server-side, carry the overlay's host, and replace the Ingress; the
/// Envoy Gateway policies (whose CRDs no part here holds) restate the Ingress's limits.
#[test]
fn the_gateway_api_edge_passes_its_crds_on_a_member() {
    let copy = host_harness::scratch_dir("gateway-edge").join("k8s");
    let status = std::process::Command::new("cp")
        .args([
            "-r",
            repo().join("k8s").to_str().unwrap(),
            copy.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let overlay = copy.join("overlays/production/kustomization.yaml");
    let text = std::fs::read_to_string(&overlay).unwrap();
    std::fs::write(
        &overlay,
        format!("{text}components:\n  - ../../components/gateway-api\n"),
    )
    .unwrap();
    let objects = manifest_check::render(&copy.join("overlays/production")).unwrap();
    let of_kind = |kind: &str| -> Vec<&Value> {
        let found = objects.iter().filter(|o| o.kind() == kind);
        found.map(|o| &o.value).collect()
    };
    assert!(
        of_kind("Ingress").is_empty(),
        "the Gateway replaces the Ingress"
    );
    let host = "automatizacion.example.com";
    for listener in of_kind("Gateway")[0]["spec"]["listeners"]
        .as_array()
        .unwrap()
    {
        assert_eq!(listener["hostname"], host, "{listener}");
    }
    let routes = of_kind("HTTPRoute");
    assert_eq!(routes.len(), 2);
    for route in &routes {
        assert_eq!(route["spec"]["hostnames"], json!([host]), "{route}");
    }
    let policy = of_kind("NetworkPolicy")[0].to_string();
    assert!(policy.contains("envoy-gateway-system") && !policy.contains("ingress-nginx"));

    // What the Ingress guaranteed, restated for Envoy Gateway.
    let ingress = repo_checks::rendered("k8s/base");
    let ingress = ingress.iter().find(|o| o.kind() == "Ingress").unwrap();
    let annotations = &ingress.value["metadata"]["annotations"];
    assert_eq!(
        annotations["nginx.ingress.kubernetes.io/proxy-body-size"],
        "64k"
    );
    let client = of_kind("ClientTrafficPolicy")[0];
    let backend = of_kind("BackendTrafficPolicy")[0];
    assert_eq!(client["spec"]["connection"]["bufferLimit"], "64Ki");
    assert_eq!(backend["spec"]["requestBuffer"]["limit"], "64Ki");
    let install = repo_checks::read("k8s/platform/install.sh");
    assert!(
        install.contains(r#""client-body-timeout":"10""#),
        "{install}"
    );
    assert_eq!(
        client["spec"]["timeout"]["http"]["requestReceivedTimeout"],
        "10s"
    );
    for policy in [client, backend] {
        let target = &policy["spec"]["targetRefs"][0];
        assert_eq!(
            (&target["kind"], &target["name"]),
            (&json!("Gateway"), &json!("automatizacion"))
        );
    }

    // The Gateway API's objects, server-side, against its CRDs on a member.
    let on_member = |args: &[&str], input: Option<&str>| kubectl("prod-east", args, input);
    crds_on_prod_east("gateway-api");
    let mut edge: Vec<Value> = objects
        .iter()
        .filter(|o| {
            o.value["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("gateway.networking.k8s.io/")
        })
        .map(|o| o.value.clone())
        .collect();
    // The class the Gateway names, as `install.sh --gateway-api` makes it.
    let class = repo_checks::read("k8s/platform/gateway-class.yaml");
    let class: Value = serde_yaml::from_str(&class).unwrap();
    assert_eq!(
        class["metadata"]["name"],
        of_kind("Gateway")[0]["spec"]["gatewayClassName"]
    );
    edge.push(class);
    let list = json!({"apiVersion": "v1", "kind": "List", "items": edge});
    let strict = ["apply", "--dry-run=server", "--validate=strict", "-f", "-"];
    let out = on_member(&strict, Some(&list.to_string())).unwrap_or_else(|e| panic!("{e}"));
    for object in [
        "gatewayclass.gateway.networking.k8s.io/envoy-gateway",
        "gateway.gateway.networking.k8s.io/automatizacion",
        "httproute.gateway.networking.k8s.io/automatizacion",
        "httproute.gateway.networking.k8s.io/automatizacion-https-redirect",
    ] {
        assert!(out.contains(object), "{object}: {out}");
    }
    // The CRD checks what it defines: a time-out kubectl cannot read as a duration is refused.
    let mut route = routes[0].clone();
    route["spec"]["rules"][0]["timeouts"]["request"] = json!("fifteen seconds");
    let refused = on_member(&strict, Some(&route.to_string()));
    let error = refused.expect_err("a time-out that is no duration is refused");
    assert!(error.contains("timeouts"), "{error}");
}

#[test]
fn karmadas_webhook_refuses_an_invalid_policy() {
    let policy = json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": "invalid-spread", "namespace": PRODUCTION},
        "spec": {
            "resourceSelectors": [{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp"}],
            "placement": {"spreadConstraints": [
                {"spreadByField": "cluster", "minGroups": 3, "maxGroups": 1}
            ]},
        },
    });
    let refused = kubectl(
        "karmada-apiserver",
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&policy.to_string()),
    );
    let error = refused.expect_err("the webhook refuses maxGroups below minGroups");
    assert!(error.contains("admission webhook"), "{error}");
}

fn db_outbound_hosts() -> Result<Vec<String>, String> {
    [
        ("staging", STAGING),
        ("prod-east", PRODUCTION),
        ("prod-west", PRODUCTION),
    ]
    .iter()
    .map(|(member, namespace)| {
        let config = get(member, namespace, "configmap/automatizacion-config")?;
        Ok(config["data"]["db_outbound_host"]
            .as_str()
            .unwrap_or("")
            .to_owned())
    })
    .collect()
}

#[test]
fn the_kind_database_override_points_every_cluster_at_one_ledger_and_leaves_with_its_policy() {
    let _lock = exclusive();
    let original = db_outbound_hosts().unwrap();
    let template =
        std::fs::read_to_string(repo().join("local-dev/manifests/kind-database-override.yaml"))
            .unwrap();
    // What local-dev/up.sh applies, with the staging node's address filled in.
    let policy = template.replace("DB_ADDRESS", "172.18.0.3:30432");
    kubectl("karmada-apiserver", &["apply", "-f", "-"], Some(&policy)).unwrap();
    eventually("every cluster allowing the staging database", || {
        let hosts = db_outbound_hosts()?;
        expect(
            hosts.iter().all(|h| h == "postgres://172.18.0.3:30432"),
            || format!("{hosts:?}"),
        )
    });
    kubectl("karmada-apiserver", &["delete", "-f", "-"], Some(&policy)).unwrap();
    eventually("the clusters back on their own database hosts", || {
        let hosts = db_outbound_hosts()?;
        expect(hosts == original, || format!("{hosts:?}"))
    });
}

/// k8s/README.md's restore steps start a Pod that mounts the backups volume; nothing runs pods
/// here, but the API server checks that Pod as written (image, command, the claim's volume).
#[test]
fn the_restore_pod_k8s_readme_starts_passes_server_side_validation() {
    let readme = std::fs::read_to_string(repo().join("k8s/README.md")).unwrap();
    let start = readme
        .find("kubectl -n automatizacion run restore-copy")
        .expect("k8s/README.md shows the restore Pod");
    let end = start + readme[start..].find("}}'\n").expect("the overrides end") + 3;
    let command = format!(
        "{} --context prod-east --dry-run=server -o jsonpath='{{.spec.volumes[0].persistentVolumeClaim.claimName}}'",
        &readme[start..end]
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &command])
        .env("KUBECONFIG", kubeconfigs().join("all"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{command}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(printed, "automatizacion-db-backups");
}
