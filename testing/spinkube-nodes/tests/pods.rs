//! The project's staging workload as SpinKube runs it, with no imitation in the chain: Karmada
//! places `karmada/workloads/staging` (this checkout's artifact, pushed to the suite's registry)
//! on staging; the real spin-operator (webhooks on) makes its Deployments and Services; a real
//! kubelet and containerd run them as pods through containerd-shim-spin; their probes make them
//! ready, the API's through PostgreSQL; and the SpinApps' status reaches Karmada through the
//! operator and the interpreter's aggregation. The API reaches PostgreSQL and Redis, and the
//! console the API, by their Services' DNS names (the one stand-in: dnsmasq for CoreDNS)
//! through the real kube-proxy. One test, in phases, as each starts from what the one before
//! left.

use host_harness::control_plane::{
    KARMADA, eventually_within, exclusive, get, kubeconfigs, kubectl, kubectl_ok,
};
use host_harness::{Redis, push_checkout, repo};
use native_db::testing::TestDb;
use serde_json::Value;
use spinkube_nodes::{Nodes, service_url};
use spinkube_standin::put_back::PutBack;
use std::process::Command;
use std::time::Duration;

const MEMBER: &str = "staging";
const NAMESPACE: &str = "automatizacion-staging";
const BACKEND: &str = "automatizacion-backend";
const FRONTEND: &str = "automatizacion-frontend";
/// From nothing to ready pods takes ~15 s here; a busy machine may take several times that.
const WAIT: Duration = Duration::from_secs(180);

fn http_get(url: &str) -> Result<(u16, String), String> {
    let out = Command::new("curl")
        .args(["-s", "-m", "5", "-w", "\n%{http_code}", url])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').ok_or("no answer")?;
    match code.parse() {
        Ok(code) if code > 0 => Ok((code, body.to_owned())),
        _ => Err(format!("{url}: no answer")),
    }
}

/// The member's Deployment NAME once one of its pods is ready (staging runs one replica).
fn ready_deployment(name: &str) -> Value {
    eventually_within(WAIT, &format!("a ready pod of {name}"), || {
        let deployment = get(MEMBER, NAMESPACE, &format!("deployment/{name}"))?;
        match deployment["status"]["readyReplicas"].as_i64() {
            Some(1) => Ok(deployment),
            other => Err(format!("readyReplicas {other:?}: {}", deployment["status"])),
        }
    })
}

/// The member's pods of SpinApp NAME.
fn pods_of(name: &str) -> Result<Vec<Value>, String> {
    let selector = format!("core.spinkube.dev/app-name={name}");
    let out = kubectl(
        MEMBER,
        &[
            "-n", NAMESPACE, "get", "pods", "-l", &selector, "-o", "json",
        ],
        None,
    )?;
    let pods: Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    Ok(pods["items"].as_array().cloned().unwrap_or_default())
}

/// GET PATH from the member's Service NAME, by its ClusterIP: a 200's body.
fn through_service(name: &str, path: &str) -> Result<String, String> {
    let service = service_url(MEMBER, NAMESPACE, name)?;
    match http_get(&format!("{service}{path}"))? {
        (200, body) => Ok(body),
        (code, body) => Err(format!("{code}: {body}")),
    }
}

/// Staging's override naming the suite's registry, on Karmada.
fn staging_pulls_from_the_suite_registry() {
    let registry = std::env::var("TEST_REGISTRY").unwrap();
    let overrides = std::fs::read_to_string(repo().join("karmada/overrides/staging.yaml"))
        .unwrap()
        .replace(
            "value: registry.staging.internal:5000",
            &format!("value: {registry}"),
        );
    kubectl_ok(KARMADA, &["apply", "-f", "-"], Some(&overrides));
}

#[test]
fn the_staging_workload_runs_as_pods_on_a_real_spinkube_node() {
    let _one_at_a_time = exclusive();
    let registry =
        std::env::var("TEST_REGISTRY").expect("TEST_REGISTRY (scripts/with-registry.sh)");
    let image = push_checkout(&registry, "node-check");
    let db = TestDb::postgres();
    let redis = Redis::start();
    // Dropped after the nodes, which leave the member as they found it.
    let _put_back = PutBack::take(&kubeconfigs());
    let nodes = Nodes::up(&[MEMBER]);

    // The operator's admission webhook answers for the member, as on SpinKube, and the
    // repository's staging workload passes it (a server-side dry run).
    let refused = kubectl(
        MEMBER,
        &["apply", "-f", "-"],
        Some(
            "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: refused, namespace: default}\nspec: {image: x/y:1, executor: no-such-executor, replicas: 1}\n",
        ),
    )
    .expect_err("a SpinApp naming a missing executor is refused");
    assert!(
        refused.contains("executor does not exist in namespace"),
        "{refused}"
    );
    let workload = repo().join("karmada/workloads/staging");
    let admitted = kubectl(
        MEMBER,
        &[
            "apply",
            "--dry-run=server",
            "-k",
            workload.to_str().unwrap(),
        ],
        None,
    );
    assert!(admitted.is_ok(), "{admitted:?}");

    nodes.read_from_outside(NAMESPACE, db.db_url().unwrap(), &redis.url);
    staging_pulls_from_the_suite_registry();
    let patch = serde_json::json!({"spec": {"image": image}}).to_string();
    for app in [BACKEND, FRONTEND] {
        let args = [
            "-n",
            NAMESPACE,
            "patch",
            "spinapp",
            app,
            "--type=merge",
            "-p",
        ];
        kubectl_ok(KARMADA, &[&args[..], &[&patch]].concat(), None);
    }

    // Pods on the member's node, ready by their probes, through the Deployment's status.
    let backend = ready_deployment(BACKEND);
    ready_deployment(FRONTEND);
    assert_eq!(
        backend["spec"]["template"]["spec"]["runtimeClassName"].as_str(),
        Some("wasmtime-spin-v2"),
        "the operator's Deployment runs on the executor's RuntimeClass"
    );
    let pods = pods_of(BACKEND).unwrap();
    assert!(!pods.is_empty());
    for pod in &pods {
        assert_eq!(pod["spec"]["nodeName"].as_str(), Some("staging-node"));
    }

    // The node is real: containerd created the pods' containers with the Spin shim.
    let containers = nodes.ctr(MEMBER, &["-n", "k8s.io", "containers", "ls"]);
    let digest = image.rsplit_once('@').unwrap().1;
    let ours: Vec<&str> = containers
        .lines()
        .filter(|line| line.contains(digest))
        .collect();
    assert!(!ours.is_empty(), "no container of {image}:\n{containers}");
    for line in ours {
        assert!(line.trim_end().ends_with("io.containerd.spin.v2"), "{line}");
    }

    // The operator's SpinApp status on the member, and Karmada's aggregation of it.
    eventually_within(WAIT, "the backend's SpinApp status in Karmada", || {
        let template = get(KARMADA, NAMESPACE, &format!("spinapp/{BACKEND}"))?;
        match template["status"]["readyReplicas"].as_i64() {
            Some(1) => Ok(()),
            other => Err(format!("readyReplicas {other:?}: {}", template["status"])),
        }
    });

    // The API through its Service (the real kube-proxy), ready on PostgreSQL with staging's
    // override; the console through its own, reaching the API by the Service's DNS name.
    let ready = eventually_within(WAIT, "the API ready through its Service", || {
        through_service(BACKEND, "/api/ready")
    });
    assert!(ready.contains("\"ready\""), "{ready}");
    let info: Value =
        serde_json::from_str(&through_service(BACKEND, "/api/info").unwrap()).unwrap();
    assert_eq!(info["cluster_name"], MEMBER);
    let page = eventually_within(WAIT, "the console through its Service", || {
        through_service(FRONTEND, "/")
    });
    let served_by = format!(
        "Served by <strong>{MEMBER}</strong> (eu-central-1) · backend {}",
        info["version"].as_str().unwrap()
    );
    assert!(page.contains(&served_by), "{page}");

    // What a shared set's next test starts from: new pods behind the same Services. A
    // ClusterIP that changed would leave the DNS answers pods were given pointing nowhere.
    let addresses = || [BACKEND, FRONTEND].map(|s| service_url(MEMBER, NAMESPACE, s).unwrap());
    let before = addresses();
    let old_pods = pods_of(BACKEND).unwrap();
    nodes.clear();
    eventually_within(WAIT, "new pods of the API, ready", || {
        let pods = pods_of(BACKEND)?;
        let new = |pod: &&Value| {
            !old_pods
                .iter()
                .any(|old| old["metadata"]["uid"] == pod["metadata"]["uid"])
        };
        match pods.iter().filter(new).count() {
            0 => Err("none yet".into()),
            _ => through_service(BACKEND, "/api/ready").map(drop),
        }
    });
    assert_eq!(
        addresses(),
        before,
        "a clear keeps the Services' ClusterIPs"
    );

    // Deleting a template through Karmada takes its Deployment and pods off the node.
    kubectl_ok(
        KARMADA,
        &["-n", NAMESPACE, "delete", "spinapp", FRONTEND],
        None,
    );
    eventually_within(
        WAIT,
        "the console's pods gone from the node",
        || match pods_of(FRONTEND)?.len() {
            0 => Ok(()),
            left => Err(format!("{left} pods left")),
        },
    );
    assert!(get(MEMBER, NAMESPACE, &format!("deployment/{FRONTEND}")).is_err());
}
