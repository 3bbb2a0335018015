//! The Kestra flow and the Rundeck jobs and ACL, checked where neither Kestra nor Rundeck can
//! run: saved and executed by stand-ins derived from Kestra 2.0's and Rundeck 6.1's reference
//! data (`testing/pipeline-standins`), their expressions naming what exists, their secrets and
//! key-storage paths documented, and every `relctl` call parsing against relctl's real
//! argument definitions (a renamed flag fails here).

mod kestra;
mod observe_flow;
mod relctl_calls;
mod rundeck;

use host_harness::repo;
use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const FLOW: &str = "kestra/flows/automatizacion.release.yml";
const OBSERVE_FLOW: &str = "kestra/flows/automatizacion.observe.yml";
const JOBS: [&str; 2] = [
    "rundeck/jobs/approve-release.yaml",
    "rundeck/jobs/rollback-production.yaml",
];
const ACL: &str = "rundeck/acl/automatizacion-releases.aclpolicy";

/// Every task of LIST in document order (nested tasks after their parent).
fn tasks_in_order(list: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for task in list.as_array().into_iter().flatten() {
        out.push(task.clone());
        for nested in ["tasks", "then", "else", "errors", "finally"] {
            out.extend(tasks_in_order(&task[nested]));
        }
    }
    out
}

/// The `id` of each entry of LIST.
fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_str().unwrap())
        .collect()
}

/// Every string in a YAML/JSON value.
fn all_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| all_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| all_strings(v, out)),
        _ => {}
    }
}
