//! The reference data the stand-ins are derived from: what Kestra 2.0 and Rundeck 6.1 accept
//! and refuse, read from their sources (`testing/reference`, see its README). Never our own files:
//! a stand-in built from the flow it tests would accept whatever the flow does.

use serde_json::Value;
use std::path::PathBuf;

/// `testing/reference` in the checkout.
pub fn dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../reference")
}

pub fn load(path: &str) -> Value {
    let file = dir().join(path);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("the reference data {} cannot be read: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Kestra 2.0's task types and their properties (`kestra/tasks.json`).
pub fn kestra_tasks() -> Value {
    load("kestra/tasks.json")
}

/// What a Kestra 2.0 server does beyond keys (`kestra/semantics.json`).
pub fn kestra_semantics() -> Value {
    load("kestra/semantics.json")
}

/// Rundeck 6.1's job YAML (`rundeck/job-format.json`).
pub fn rundeck_jobs() -> Value {
    load("rundeck/job-format.json")
}

/// Rundeck 6.1's ACL policy documents (`rundeck/aclpolicy-format.json`).
pub fn rundeck_acl() -> Value {
    load("rundeck/aclpolicy-format.json")
}

/// What Kestra 2.0 does when it runs a flow: the Docker task runner, resumes, concurrency,
/// webhooks (`kestra/runtime.json`). Read once: the API double consults it on every request.
pub fn kestra_runtime() -> &'static Value {
    static RUNTIME: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| load("kestra/runtime.json"))
}

/// What Rundeck 6.1 and `rd` do when a job runs or a project is loaded: key storage, secure
/// options, the ACL at run time, concurrent runs (`rundeck/runtime.json`).
pub fn rundeck_runtime() -> &'static Value {
    static RUNTIME: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| load("rundeck/runtime.json"))
}

/// The message at POINTER (a JSON pointer) in a runtime reference, each `<placeholder>` of
/// FILL replaced by its value: the real server's words, not ours.
pub fn message(runtime: &Value, pointer: &str, fill: &[(&str, &str)]) -> String {
    let mut text = runtime
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the runtime reference has no message at {pointer}"))
        .to_owned();
    for (placeholder, value) in fill {
        text = text.replace(placeholder, value);
    }
    text
}

/// The message of a Kestra validation rule, by its id in `semantics.json`.
pub fn kestra_message(semantics: &Value, rule: &str) -> String {
    semantics["validators"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == rule)
        .and_then(|r| r["message"].as_str())
        .unwrap_or_else(|| panic!("semantics.json has no rule {rule}"))
        .to_owned()
}

/// The regex of a Kestra validation rule.
pub fn kestra_regex(semantics: &Value, rule: &str) -> String {
    semantics["validators"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == rule)
        .and_then(|r| r["regex"].as_str())
        .unwrap_or_else(|| panic!("semantics.json has no regex for {rule}"))
        .to_owned()
}
