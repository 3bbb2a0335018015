//! Core Kubernetes kinds, checked by a round trip through the `k8s-openapi` types: decoding
//! catches wrong types, and comparing the re-encoded object with the original finds the fields
//! the types dropped, which the API server would refuse as unknown.

use k8s_openapi::api::{apps, autoscaling, batch, core, networking, node, policy};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

type Problems = Vec<(String, String)>;

/// `None` when the kind is not one this checker knows.
pub fn check(api_version: &str, kind: &str, value: &Value) -> Option<Problems> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => round_trip::<core::v1::Namespace>(value),
        ("v1", "ConfigMap") => round_trip::<core::v1::ConfigMap>(value),
        ("v1", "Secret") => round_trip::<core::v1::Secret>(value),
        ("v1", "Service") => round_trip::<core::v1::Service>(value),
        ("v1", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(value),
        ("v1", "PersistentVolumeClaim") => round_trip::<core::v1::PersistentVolumeClaim>(value),
        ("apps/v1", "Deployment") => round_trip::<apps::v1::Deployment>(value),
        ("apps/v1", "StatefulSet") => round_trip::<apps::v1::StatefulSet>(value),
        ("batch/v1", "CronJob") => round_trip::<batch::v1::CronJob>(value),
        ("networking.k8s.io/v1", "Ingress") => round_trip::<networking::v1::Ingress>(value),
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            round_trip::<networking::v1::NetworkPolicy>(value)
        }
        ("policy/v1", "PodDisruptionBudget") => {
            round_trip::<policy::v1::PodDisruptionBudget>(value)
        }
        ("node.k8s.io/v1", "RuntimeClass") => round_trip::<node::v1::RuntimeClass>(value),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            round_trip::<autoscaling::v2::HorizontalPodAutoscaler>(value)
        }
        _ => return None,
    })
}

fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Problems {
    let typed: T = match serde_path_to_error::deserialize(value.clone()) {
        Ok(typed) => typed,
        Err(e) => return vec![(e.path().to_string(), e.inner().to_string())],
    };
    let back = serde_json::to_value(&typed).unwrap_or(Value::Null);
    let mut problems = Vec::new();
    dropped(value, &back, "", &mut problems);
    problems
}

/// Reports every field of `original` that is missing from `back`.
fn dropped(original: &Value, back: &Value, path: &str, out: &mut Problems) {
    match (original, back) {
        (Value::Object(fields), Value::Object(kept)) => {
            for (key, value) in fields {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match kept.get(key) {
                    Some(kept) => dropped(value, kept, &child, out),
                    None if value.is_null() => {}
                    None => out.push((child, "unknown field".into())),
                }
            }
        }
        (Value::Array(items), Value::Array(kept)) => {
            for (i, (item, kept)) in items.iter().zip(kept).enumerate() {
                dropped(item, kept, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_and_wrong_types_are_found() {
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"selector": {"a": "b"}, "ports": [{"port": 80, "targetPrt": 8080}]}});
        assert_eq!(
            check("v1", "Service", &service).unwrap(),
            vec![(
                "spec.ports[0].targetPrt".to_owned(),
                "unknown field".to_owned()
            )]
        );
        let wrong = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": "eighty"}]}});
        let problems = check("v1", "Service", &wrong).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].0.starts_with("spec.ports[0].port"),
            "{problems:?}"
        );
        assert!(check("v1", "Pod", &json!({})).is_none());
    }
}
