//! The app as SpinKube runs it, with no imitation in the chain: Karmada places two SpinApps of
//! this checkout's artifact on staging, the real spin-operator (webhooks on) makes their
//! Deployments and Services, a real kubelet and containerd run them as pods through
//! containerd-shim-spin, their readiness probes make them ready, and the SpinApp's status
//! reaches Karmada through the operator and the interpreter's aggregation. The console reaches
//! the API by its Service's DNS name (the one stand-in: dnsmasq for CoreDNS) through the real
//! kube-proxy. One test, in phases, as each phase starts from what the one before left.

use host_harness::control_plane::{
    KARMADA, eventually_within, exclusive, get, kubeconfigs, kubectl, kubectl_ok,
};
use host_harness::push_checkout;
use serde_json::Value;
use spinkube_nodes::Nodes;
use spinkube_standin::put_back::PutBack;
use std::process::Command;
use std::time::Duration;

const MEMBER: &str = "staging";
const NAMESPACE: &str = "node-check";
const API: &str = "ledger-api";
const CONSOLE: &str = "console";
/// From nothing to ready pods takes ~15 s here; a busy machine may take several times that.
const WAIT: Duration = Duration::from_secs(180);

/// Karmada's objects for the check: a namespace of its own, placed on staging only, with the
/// project's executor (k8s/base) and two SpinApps of IMAGE, as k8s/base declares them in
/// shape: the API with its probes, the console pointed at the API's Service.
fn workload(image: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {{name: node-check, namespace: {NAMESPACE}}}
spec:
  propagateDeps: true
  resourceSelectors:
    - {{apiVersion: core.spinkube.dev/v1alpha1, kind: SpinApp}}
    - {{apiVersion: core.spinkube.dev/v1alpha1, kind: SpinAppExecutor}}
  placement:
    clusterAffinity: {{clusterNames: [{MEMBER}]}}
---
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata: {{name: {API}, namespace: {NAMESPACE}}}
spec:
  image: {image}
  executor: containerd-shim-spin
  replicas: 2
  components: [backend]
  checks:
    readiness: {{httpGet: {{path: /api/ready, httpHeaders: []}}, periodSeconds: 2}}
    liveness: {{httpGet: {{path: /api/health, httpHeaders: []}}}}
  variables:
    - {{name: cluster_name, value: {MEMBER}}}
    - {{name: region, value: eu-central-1}}
---
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata: {{name: {CONSOLE}, namespace: {NAMESPACE}}}
spec:
  image: {image}
  executor: containerd-shim-spin
  replicas: 1
  components: [frontend]
  checks:
    readiness: {{httpGet: {{path: /healthz, httpHeaders: []}}, periodSeconds: 2}}
  variables:
    - {{name: backend_url, value: "http://{API}.{NAMESPACE}.svc.cluster.local"}}
"#
    )
}

/// Puts back what the test changed on the shared control plane, after the nodes are gone (it is
/// dropped after them): the check's namespace, the Deployments and Services the operator made
/// for the project's staging SpinApps, and every SpinApp status (`PutBack`).
struct Cleanup {
    _put_back: PutBack,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = kubectl(
            KARMADA,
            &["delete", "namespace", NAMESPACE, "--ignore-not-found"],
            None,
        );
        for namespace in ["automatizacion-staging", NAMESPACE] {
            let _ = kubectl(
                MEMBER,
                &["-n", namespace, "delete", "deployments,services", "--all"],
                None,
            );
        }
    }
}

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

/// The member's Deployment NAME once READY of its pods are ready.
fn ready_deployment(name: &str, ready: i64) -> Value {
    eventually_within(WAIT, &format!("{ready} ready pods of {name}"), || {
        let deployment = get(MEMBER, NAMESPACE, &format!("deployment/{name}"))?;
        match deployment["status"]["readyReplicas"].as_i64() {
            Some(n) if n == ready => Ok(deployment),
            other => Err(format!("readyReplicas {other:?}")),
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

fn cluster_ip(name: &str) -> String {
    let service = get(MEMBER, NAMESPACE, &format!("service/{name}")).unwrap();
    service["spec"]["clusterIP"].as_str().unwrap().to_owned()
}

#[test]
fn spinapps_placed_by_karmada_run_as_pods_on_a_real_spinkube_node() {
    let _one_at_a_time = exclusive();
    let registry =
        std::env::var("TEST_REGISTRY").expect("TEST_REGISTRY (scripts/with-registry.sh)");
    let image = push_checkout(&registry, "node-check");
    let _cleanup = Cleanup {
        _put_back: PutBack::take(&kubeconfigs()),
    };
    let nodes = Nodes::up(&[MEMBER]);

    // The operator's admission webhook answers for the member, as on SpinKube.
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

    // The project's own staging workload passes those webhooks (a server-side dry run).
    let staging = host_harness::repo().join("karmada/workloads/staging");
    let admitted = kubectl(
        MEMBER,
        &["apply", "--dry-run=server", "-k", staging.to_str().unwrap()],
        None,
    );
    assert!(admitted.is_ok(), "{admitted:?}");

    kubectl_ok(KARMADA, &["apply", "-f", "-"], Some(&workload(&image)));
    let executor = std::fs::read_to_string(host_harness::repo().join("k8s/base/executor.yaml"))
        .expect("k8s/base/executor.yaml");
    kubectl_ok(
        KARMADA,
        &["-n", NAMESPACE, "apply", "-f", "-"],
        Some(&executor),
    );

    // Pods on the member's node, ready by their probes, through the Deployment's status.
    let api = ready_deployment(API, 2);
    ready_deployment(CONSOLE, 1);
    assert_eq!(
        api["spec"]["template"]["spec"]["runtimeClassName"].as_str(),
        Some("wasmtime-spin-v2"),
        "the operator's Deployment runs on the executor's RuntimeClass"
    );
    let pods = pods_of(API).unwrap();
    assert!(!pods.is_empty());
    for pod in &pods {
        assert_eq!(pod["spec"]["nodeName"].as_str(), Some("staging-node"));
    }

    // The node is real: containerd created the pods' containers with the Spin shim.
    let containers = nodes.ctr(MEMBER, &["-n", "k8s.io", "containers", "ls"]);
    let ours: Vec<&str> = containers
        .lines()
        .filter(|line| line.contains(&image))
        .collect();
    assert!(!ours.is_empty(), "no container of {image}:\n{containers}");
    for line in ours {
        assert!(line.trim_end().ends_with("io.containerd.spin.v2"), "{line}");
    }

    // The operator's SpinApp status on the member, and Karmada's aggregation of it.
    eventually_within(WAIT, "the API's SpinApp status in Karmada", || {
        let template = get(KARMADA, NAMESPACE, &format!("spinapp/{API}"))?;
        match template["status"]["readyReplicas"].as_i64() {
            Some(2) => Ok(()),
            other => Err(format!("readyReplicas {other:?}: {}", template["status"])),
        }
    });

    // The API through its Service (the real kube-proxy), and the console through its own,
    // reaching the API by the Service's DNS name.
    let info = eventually_within(WAIT, "the API through its ClusterIP", || {
        let (code, body) = http_get(&format!("http://{}/api/info", cluster_ip(API)))?;
        if code == 200 {
            serde_json::from_str::<Value>(&body).map_err(|e| e.to_string())
        } else {
            Err(format!("{code}: {body}"))
        }
    });
    assert_eq!(info["name"], "automatizacion");
    assert_eq!(info["cluster_name"], MEMBER);
    let page = eventually_within(
        WAIT,
        "the console through its ClusterIP",
        || match http_get(&format!("http://{}/", cluster_ip(CONSOLE)))? {
            (200, body) => Ok(body),
            (code, body) => Err(format!("{code}: {body}")),
        },
    );
    let served_by = format!(
        "Served by <strong>{MEMBER}</strong> (eu-central-1) · backend {}",
        info["version"].as_str().unwrap()
    );
    assert!(page.contains(&served_by), "{page}");

    // Deleting a template through Karmada takes its Deployment and pods off the node.
    kubectl_ok(
        KARMADA,
        &["-n", NAMESPACE, "delete", "spinapp", CONSOLE],
        None,
    );
    eventually_within(
        WAIT,
        "the console's pods gone from the node",
        || match pods_of(CONSOLE)?.len() {
            0 => Ok(()),
            left => Err(format!("{left} pods left")),
        },
    );
    assert!(get(MEMBER, NAMESPACE, &format!("deployment/{CONSOLE}")).is_err());
}
