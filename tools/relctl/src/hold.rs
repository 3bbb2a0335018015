//! The stages of a staged rollout, as Karmada sees them: the OverridePolicy
//! `automatizacion-stages`, one plaintext rule per cluster whose `/spec/image` differs from the
//! template's (Karmada's imageOverrider edits registry, repository and tag, and has no digest
//! part).
//!
//! While a rollout is staged, the template keeps the previous release's image, so a cluster the
//! policy does not name cannot run the new one, whatever Karmada has or has not seen yet: the
//! policy moves the clusters whose stage has come to the new image (and keeps any cluster that
//! runs another release on its own). Only once every stage passed does the template take the
//! new image, and the policy goes. Nothing else is overridden: the replicas Karmada divides
//! stay as they are, so the division holds at every stage. (The release's other manifests
//! reach every cluster with the template at the first stage, on the image each runs.)
//!
//! Karmada records each applied policy in a Work's `policy.karmada.io/applied-overrides`, but
//! after a policy is deleted while the manifest stays the same that record can stay behind, so
//! nothing here waits on it: readiness checks what each cluster's Work carries instead.

use crate::karmada::Karmada;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const POLICY: &str = "automatizacion-stages";

/// Clusters by name, each with the image it runs instead of the template's.
pub type Images = BTreeMap<String, String>;

/// The OverridePolicy giving IMAGES in NAMESPACE.
pub fn policy(namespace: &str, images: &Images) -> Value {
    let rules: Vec<Value> = images
        .iter()
        .map(|(cluster, image)| {
            json!({
                "targetCluster": {"clusterNames": [cluster]},
                "overriders": {"plaintext": [
                    {"path": "/spec/image", "operator": "replace", "value": image}
                ]},
            })
        })
        .collect();
    json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "OverridePolicy",
        "metadata": {
            "name": POLICY,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "relctl"},
        },
        "spec": {
            "resourceSelectors": [
                {"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp"}
            ],
            "overrideRules": rules,
        },
    })
}

/// Puts IMAGES in place in NAMESPACE; with none, removes the policy (an OverridePolicy with no
/// rules would apply its empty top-level overriders to every cluster).
pub fn set(karmada: &Karmada, namespace: &str, images: &Images) -> Result<(), String> {
    if images.is_empty() {
        let kind = "overridepolicies.policy.karmada.io";
        let args = [
            "-n",
            namespace,
            "delete",
            kind,
            POLICY,
            "--ignore-not-found",
        ];
        return karmada.send(&args, "");
    }
    karmada.send(
        &["apply", "-f", "-"],
        &policy(namespace, images).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str =
        "reg/app@sha256:4444444444444444444444444444444444444444444444444444444444444444";

    #[test]
    fn one_rule_a_cluster_replacing_only_the_image() {
        let images: Images = [("prod-west".to_owned(), NEW.to_owned())].into();
        let policy = policy("automatizacion", &images);
        assert_eq!(policy["metadata"]["name"], POLICY);
        let rules = policy["spec"]["overrideRules"].as_array().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0]["targetCluster"]["clusterNames"],
            json!(["prod-west"])
        );
        assert_eq!(
            rules[0]["overriders"],
            json!({"plaintext": [{"path": "/spec/image", "operator": "replace", "value": NEW}]})
        );
    }
}
