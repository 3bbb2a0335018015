//! The Deployment spin-operator makes of each SpinApp (same name and namespace, owned by the
//! SpinApp, pods labelled `core.spinkube.dev/app-name`), with the status the deployment
//! controller would give it from what the stand-in's processes do. It is what says that a
//! change has been *taken*: a SpinApp's status has no `observedGeneration`, and while the new
//! process starts the old one still serves, so `Available` alone stays true through a change.
//! A Deployment's `observedGeneration`, `updatedReplicas` and the image of its pod template do
//! not, and relctl reads them through Karmada's cluster proxy, as on SpinKube.
//!
//! No deployment controller runs on the stand-in's members, so nothing else writes these.

use crate::desired::Desired;
use crate::kube::{kubectl, kubectl_with_input};
use serde_json::{Value, json};
use std::path::Path;

/// What the stand-in last applied of one Deployment, and the status it last wrote.
#[derive(Debug)]
pub struct Deployed {
    image: String,
    replicas: i64,
    generation: i64,
    status: Option<Value>,
}

/// How the SpinApp's processes stand, for the Deployment's replica counts.
pub struct Running {
    /// A process of the current spec passes its readiness check.
    pub new_ready: bool,
    /// A process of an earlier spec still serves.
    pub old_ready: bool,
    /// The Deployment's conditions: the ones the SpinApp's status copies.
    pub conditions: Value,
}

/// Applies APP's Deployment when DESIRED changed it (or it was never applied), then writes its
/// status when RUNNING changed that; returns what is now applied.
pub fn sync(
    kubeconfig: &Path,
    app: &Value,
    desired: &Desired,
    running: &Running,
    applied: Option<Deployed>,
) -> Result<Deployed, String> {
    let mut deployed = match applied {
        Some(d) if d.image == desired.image && d.replicas == desired.replicas => d,
        _ => apply(kubeconfig, app, desired)?,
    };
    let status = status(deployed.generation, desired.replicas, running);
    if deployed.status.as_ref() != Some(&status) {
        let metadata = &app["metadata"];
        let patch = json!({ "status": status }).to_string();
        kubectl(
            kubeconfig,
            &[
                "-n",
                metadata["namespace"].as_str().unwrap_or_default(),
                "patch",
                "deployment",
                metadata["name"].as_str().unwrap_or_default(),
                "--subresource=status",
                "--type=merge",
                "-p",
                &patch,
            ],
        )?;
        deployed.status = Some(status);
    }
    Ok(deployed)
}

/// Deletes the Deployment of NAMESPACE/NAME: the stand-in's processes are gone with it.
pub fn delete(kubeconfig: &Path, namespace: &str, name: &str) -> Result<(), String> {
    let args = [
        "-n",
        namespace,
        "delete",
        "deployment",
        name,
        "--ignore-not-found",
        "--wait=false",
    ];
    kubectl(kubeconfig, &args).map(drop)
}

fn apply(kubeconfig: &Path, app: &Value, desired: &Desired) -> Result<Deployed, String> {
    let manifest = manifest(app, desired).to_string();
    let args = [
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=spinkube-standin",
        "-o",
        "json",
        "-f",
        "-",
    ];
    let applied = kubectl_with_input(kubeconfig, &args, Some(&manifest))?;
    let applied: Value =
        serde_json::from_str(&applied).map_err(|e| format!("kubectl's JSON: {e}"))?;
    Ok(Deployed {
        image: desired.image.clone(),
        replicas: desired.replicas,
        generation: applied["metadata"]["generation"].as_i64().unwrap_or(1),
        status: None,
    })
}

fn manifest(app: &Value, desired: &Desired) -> Value {
    let metadata = &app["metadata"];
    let name = metadata["name"].as_str().unwrap_or_default();
    let labels = json!({ "core.spinkube.dev/app-name": name });
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": metadata["namespace"],
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "core.spinkube.dev/v1alpha1",
                "kind": "SpinApp",
                "name": name,
                "uid": metadata["uid"],
                "controller": true,
            }],
        },
        "spec": {
            "replicas": desired.replicas,
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "runtimeClassName": "wasmtime-spin-v2",
                    "containers": [{ "name": name, "image": desired.image }],
                },
            },
        },
    })
}

/// The deployment controller's status for REPLICAS wanted at GENERATION, one process standing
/// for every replica: all new and available once a process of this spec is ready; the old
/// ones still running beside the new while only an earlier spec's serves; else none available.
fn status(generation: i64, replicas: i64, running: &Running) -> Value {
    let (total, updated, available) = if running.new_ready {
        (replicas, replicas, replicas)
    } else if running.old_ready {
        (2 * replicas, replicas, replicas)
    } else {
        (replicas, replicas, 0)
    };
    json!({
        "observedGeneration": generation,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": running.conditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(new_ready: bool, old_ready: bool) -> Running {
        Running {
            new_ready,
            old_ready,
            conditions: json!([]),
        }
    }

    #[test]
    fn a_change_is_rolled_out_only_once_its_own_process_serves() {
        // relctl's rollout::judge reads these: old replicas while only the old process
        // serves, none available before any serves, all new and available after.
        let old = status(3, 2, &running(false, true));
        assert_eq!(old["replicas"], 4);
        assert_eq!(old["updatedReplicas"], 2);
        assert_eq!(old["observedGeneration"], 3);
        let none = status(3, 2, &running(false, false));
        assert_eq!(none["availableReplicas"], 0);
        let done = status(3, 2, &running(true, true));
        assert_eq!(
            (&done["replicas"], &done["availableReplicas"]),
            (&json!(2), &json!(2))
        );
    }

    #[test]
    fn the_pod_template_names_the_image_and_the_owner() {
        let app = json!({"metadata": {"name": "web", "namespace": "apps", "uid": "u-1"}});
        let desired = Desired {
            image: "registry/app@sha256:ab".into(),
            components: Vec::new(),
            env: Default::default(),
            runtime_config: None,
            readiness_path: None,
            replicas: 3,
        };
        let deployment = manifest(&app, &desired);
        let template = &deployment["spec"]["template"];
        assert_eq!(
            template["spec"]["containers"][0]["image"],
            "registry/app@sha256:ab"
        );
        assert_eq!(
            deployment["spec"]["selector"]["matchLabels"],
            template["metadata"]["labels"]
        );
        assert_eq!(deployment["metadata"]["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(deployment["spec"]["replicas"], 3);
    }
}
