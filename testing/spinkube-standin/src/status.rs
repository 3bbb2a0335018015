//! Every SpinApp status this project writes where no operator runs, in the shape spin-operator
//! v0.6.1 copies from its Deployment (`readyReplicas`, `activeScheduler`, `Available`): the
//! **status-only mode**, where nothing runs and every SpinApp on a member is reported ready (or,
//! for a member a test has taken down, none ready), and a test's own. Karmada's interpreter
//! judges health from these, so they are written in one place.

use crate::kube::{kubectl, kubectl_json};
use serde_json::{Value, json};
use std::path::Path;

/// One condition. Its time is fixed: a status that says the same thing is the same status.
pub fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason,
           "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

/// READY replicas ready, and `Available` as long as some are: what the operator reports.
pub fn replicas(ready: i64, message: &str) -> Value {
    let available = if ready > 0 {
        condition("Available", true, "MinimumReplicasAvailable", message)
    } else {
        condition("Available", false, "MinimumReplicasUnavailable", message)
    };
    json!({"readyReplicas": ready, "activeScheduler": "containerd-shim-spin",
           "conditions": [available]})
}

/// Merges STATUS into the status of SpinApp NAMESPACE/NAME on the member of KUBECONFIG.
pub fn write(kubeconfig: &Path, namespace: &str, name: &str, status: &Value) -> Result<(), String> {
    let patch = json!({ "status": status }).to_string();
    let args = [
        "-n",
        namespace,
        "patch",
        "spinapp",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ];
    kubectl(kubeconfig, &args).map(drop)
}

/// The status-only mode, one pass on one member: **nothing runs**. Every SpinApp is reported
/// with all its replicas ready, or none when DOWN; a status that already says so is left alone.
pub fn report_without_running(kubeconfig: &Path, down: bool) -> Result<(), String> {
    let apps = kubectl_json(kubeconfig, &["get", "spinapps", "--all-namespaces"])?;
    for app in apps["items"].as_array().into_iter().flatten() {
        let desired = app["spec"]["replicas"].as_i64().unwrap_or(1);
        let ready = if down { 0 } else { desired };
        let available = if down { "False" } else { "True" };
        let status = &app["status"];
        let says_so = status["readyReplicas"].as_i64().unwrap_or(0) == ready
            && status["conditions"].as_array().is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Available" && c["status"] == available)
            });
        if says_so {
            continue;
        }
        let message = format!("status only, nothing runs: {ready}/{desired} reported ready");
        let metadata = &app["metadata"];
        write(
            kubeconfig,
            metadata["namespace"].as_str().unwrap_or_default(),
            metadata["name"].as_str().unwrap_or_default(),
            &replicas(ready, &message),
        )?;
    }
    Ok(())
}
