//! Whether a member's Deployment has rolled out, judged as `kubectl rollout status` judges it.
//!
//! The spin-operator's SpinApp status counts ready pods whatever they run: during a rollout
//! the previous release's pods keep it ready, and it carries no `observedGeneration`. The
//! Deployment the operator makes from the SpinApp is the one record that says whether the
//! pods now ready are the new ones.

use ledger::types::Digest;
use serde_json::Value;

/// `Ok(available/desired)` once DEPLOYMENT runs DIGEST (when given) on every replica it wants,
/// with no old pod left; else what it is waiting for.
pub fn judge(deployment: &Value, digest: Option<&Digest>) -> Result<String, String> {
    if let Some(digest) = digest {
        let containers = deployment["spec"]["template"]["spec"]["containers"].as_array();
        for container in containers.into_iter().flatten() {
            let image = container["image"].as_str().unwrap_or("");
            if !image.ends_with(&format!("@{digest}")) {
                return Err(format!(
                    "the operator has not moved it to {digest} yet ({image})"
                ));
            }
        }
    }
    let (spec, status) = (&deployment["spec"], &deployment["status"]);
    let count = |value: &Value| value.as_i64().unwrap_or(0);
    let generation = count(&deployment["metadata"]["generation"]);
    if count(&status["observedGeneration"]) < generation {
        return Err("its controller has not seen the change yet".into());
    }
    let stalled = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded");
    if let Some(condition) = stalled {
        let message = condition["message"].as_str().unwrap_or("");
        return Err(format!("it exceeded its progress deadline ({message})"));
    }
    let desired = spec["replicas"].as_i64().unwrap_or(1);
    let updated = count(&status["updatedReplicas"]);
    let available = count(&status["availableReplicas"]);
    let old = count(&status["replicas"]) - updated;
    if updated < desired {
        Err(format!("{updated} of {desired} new replicas made"))
    } else if old > 0 {
        Err(format!("{old} old replicas still running"))
    } else if available < updated {
        Err(format!("{available} of {updated} new replicas available"))
    } else {
        Ok(format!("{available}/{desired}"))
    }
}

/// Why PODS are not running, as their containers' waiting reasons say (`ImagePullBackOff`),
/// each once; empty when none waits.
pub fn waiting_reasons(pods: &Value) -> Vec<String> {
    let mut reasons: Vec<String> = Vec::new();
    for pod in pods["items"].as_array().into_iter().flatten() {
        let containers = pod["status"]["containerStatuses"].as_array();
        for container in containers.into_iter().flatten() {
            if let Some(reason) = container["state"]["waiting"]["reason"].as_str()
                && !reasons.iter().any(|r| r == reason)
            {
                reasons.push(reason.to_owned());
            }
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NEW: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

    fn deployment(image: &str, generation: i64, status: Value) -> Value {
        json!({
            "metadata": {"generation": generation},
            "spec": {"replicas": 4, "template": {"spec": {"containers": [{"image": image}]}}},
            "status": status,
        })
    }

    fn new_digest() -> Digest {
        Digest::parse(NEW).unwrap()
    }

    fn complete() -> Value {
        json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 4,
               "availableReplicas": 4, "readyReplicas": 4})
    }

    #[test]
    fn a_complete_rollout_of_the_digest_is_ready() {
        let d = deployment(&format!("reg/app@{NEW}"), 2, complete());
        assert_eq!(judge(&d, Some(&new_digest())), Ok("4/4".into()));
        assert_eq!(judge(&d, None), Ok("4/4".into()));
    }

    #[test]
    fn the_previous_digest_is_not_the_new_release_however_ready() {
        let old = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
        let d = deployment(&format!("reg/app@{old}"), 2, complete());
        let why = judge(&d, Some(&new_digest())).unwrap_err();
        assert!(why.contains("not moved it"), "{why}");
    }

    #[test]
    fn an_unobserved_change_is_not_ready() {
        let d = deployment(&format!("reg/app@{NEW}"), 3, complete());
        assert!(judge(&d, None).unwrap_err().contains("not seen"));
    }

    #[test]
    fn old_pods_still_ready_are_not_the_rollout() {
        // What the SpinApp status reports as 4 ready: three old pods and one new.
        let status = json!({"observedGeneration": 2, "replicas": 5, "updatedReplicas": 2,
                            "availableReplicas": 3, "readyReplicas": 4});
        let d = deployment(&format!("reg/app@{NEW}"), 2, status);
        assert_eq!(judge(&d, None), Err("2 of 4 new replicas made".into()));
        let status = json!({"observedGeneration": 2, "replicas": 5, "updatedReplicas": 4,
                            "availableReplicas": 4});
        let d = deployment(&format!("reg/app@{NEW}"), 2, status);
        assert_eq!(judge(&d, None), Err("1 old replicas still running".into()));
        let status = json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 4,
                            "availableReplicas": 3});
        let d = deployment(&format!("reg/app@{NEW}"), 2, status);
        assert_eq!(judge(&d, None), Err("3 of 4 new replicas available".into()));
    }

    #[test]
    fn a_stalled_rollout_says_so() {
        let mut status = complete();
        status["updatedReplicas"] = 1.into();
        status["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet has timed out"}]);
        let d = deployment(&format!("reg/app@{NEW}"), 2, status);
        assert!(judge(&d, None).unwrap_err().contains("progress deadline"));
    }

    #[test]
    fn waiting_reasons_are_listed_once() {
        let waiting = |reason: &str| {
            json!({"status": {"containerStatuses": [
            {"state": {"waiting": {"reason": reason}}}]}})
        };
        let running = json!({"status": {"containerStatuses": [{"state": {"running": {}}}]}});
        let pods = json!({"items": [waiting("ImagePullBackOff"), running,
                                    waiting("ImagePullBackOff"), waiting("ErrImagePull")]});
        assert_eq!(waiting_reasons(&pods), ["ImagePullBackOff", "ErrImagePull"]);
        assert!(waiting_reasons(&json!({"items": []})).is_empty());
    }
}
