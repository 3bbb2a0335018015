//! What a Kestra 2.0 server checks when a flow is saved (`POST /api/v1/main/flows`), derived
//! from `testing/reference/kestra`: strict parsing (unknown keys, a key given twice), every task,
//! trigger and input against its type's properties (required keys, enums), the task kinds a
//! WorkingDirectory may hold, unique ids across every nested task, the id patterns, input
//! validators that compile, defaults on required inputs only, dashed names reached by dot,
//! system labels and label keys, webhook keys and content types, Schedule crons, time zones
//! and inputs (`schedule`), and what 2.0 removed.
//!
//! A refusal carries Kestra's own message (`Invalid entity: <path>: <message>`), so a test can
//! match it as it would match the real server's 422.

use super::{pebble, schedule};
use crate::reference;
use serde_json::Value;
use std::collections::BTreeMap;

/// The server's answer to saving a flow: the flow as JSON, or the 422's violations.
pub fn save(yaml: &str) -> Result<Value, Vec<String>> {
    let parsed: serde_yaml::Value = serde_yaml::from_str(yaml)
        .map_err(|e| vec![format!("Invalid entity: YAML parsing error: {e}")])?;
    let flow = serde_json::to_value(parsed)
        .map_err(|e| vec![format!("Invalid entity: YAML parsing error: {e}")])?;
    let mut check = Check::new();
    check.flow(&flow);
    if check.violations.is_empty() {
        Ok(flow)
    } else {
        Err(check
            .violations
            .into_iter()
            .map(|v| format!("Invalid entity: {v}"))
            .collect())
    }
}

struct Check {
    tasks: Value,
    semantics: Value,
    violations: Vec<String>,
    /// Every task id (tasks, errors, finally, afterExecution and all nested), for the
    /// duplicate check.
    task_ids: Vec<String>,
}

/// The class a `type` names: itself, or what a plugin alias stands for.
fn resolve_alias(semantics: &Value, kind: &str) -> String {
    for plugin in semantics["plugins"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, p)| p)
    {
        let aliases = plugin["aliases"].as_array().into_iter().flatten();
        if aliases.filter_map(Value::as_str).any(|a| a == kind)
            && let Some(current) = plugin["current2x"].as_str()
        {
            return current.to_owned();
        }
    }
    kind.to_owned()
}

impl Check {
    fn new() -> Self {
        Check {
            tasks: reference::kestra_tasks(),
            semantics: reference::kestra_semantics(),
            violations: Vec::new(),
            task_ids: Vec::new(),
        }
    }

    fn message(&self, rule: &str) -> String {
        reference::kestra_message(&self.semantics, rule)
    }

    fn id_matches(&mut self, rule: &str, id: &Value, path: &str) {
        let regex = reference::kestra_regex(&self.semantics, rule);
        let Some(id) = id.as_str() else {
            self.violations.push(format!("{path}.id: must not be null"));
            return;
        };
        if !whole_match(&regex, id) {
            self.violations
                .push(format!("{path}.id: must match \"{regex}\" ({id:?})"));
        }
    }

    /// The properties of a type, for a task, trigger or task runner. The 2.0 plugin names that
    /// tasks.json does not list take the properties of the class they replaced
    /// (semantics.json: "same top-level keys as the old task").
    fn properties_of(&self, kind: &str) -> Option<Value> {
        if let Some(props) = self.tasks["types"][kind]["properties"].as_object() {
            return Some(Value::Object(props.clone()));
        }
        let (old, extra): (&str, &[&str]) = match kind {
            "io.kestra.plugin.slack.notifications.SlackIncomingWebhook" => (
                "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
                &[],
            ),
            "io.kestra.plugin.email.MailSend" => (
                "io.kestra.plugin.notifications.mail.MailSend",
                &["accessToken"],
            ),
            _ => return None,
        };
        let mut props = self.tasks["types"][old]["properties"].as_object()?.clone();
        for name in extra {
            props.insert(
                (*name).into(),
                serde_json::json!({"type": "string", "dynamic": true}),
            );
        }
        Some(Value::Object(props))
    }

    fn kind_of(&self, kind: &str) -> Option<String> {
        self.semantics["taskKinds"]["types"][kind]["kind"]
            .as_str()
            .map(str::to_owned)
    }

    fn flow(&mut self, flow: &Value) {
        let properties = self.tasks["flow"]["properties"].clone();
        self.keys(flow, &properties, "flow");
        self.id_matches("flowIdPattern", &flow["id"], "flow");
        if let Some(namespace) = flow["namespace"].as_str() {
            let regex = reference::kestra_regex(&self.semantics, "namespacePattern");
            if !whole_match(&regex, namespace) {
                self.violations
                    .push(format!("flow.namespace: must match \"{regex}\""));
            }
        }
        if flow["tasks"].as_array().is_none_or(Vec::is_empty) {
            self.violations.push("tasks: must not be empty".into());
        }
        self.inputs(flow);
        self.triggers(flow);
        // The key check above walked every task: tasks, errors, finally, afterExecution and
        // whatever they nest.
        self.unique("uniqueTaskIds", &self.task_ids.clone());
        self.labels(&flow["labels"], "flow.labels");
        self.references(flow);
        let text = flow.to_string();
        if text.contains("json(") {
            self.violations
                .push("the json() function was removed in Kestra 2.0 (use fromJson())".into());
        }
    }

    fn unique(&mut self, rule: &str, ids: &[String]) {
        let mut seen = BTreeMap::new();
        for id in ids {
            *seen.entry(id.clone()).or_insert(0) += 1;
        }
        let twice: Vec<String> = seen
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(id, _)| id)
            .collect();
        if !twice.is_empty() {
            let message = self
                .message(rule)
                .replace("<id1>, <id2>", &twice.join(", "))
                .replace("<ids>", &twice.join(", "));
            self.violations
                .push(format!("flow: Invalid Flow: {message}"));
        }
    }

    fn inputs(&mut self, flow: &Value) {
        let mut ids = Vec::new();
        for (i, input) in flow["inputs"].as_array().into_iter().flatten().enumerate() {
            let path = format!("inputs[{i}]");
            let kind = input["type"].as_str().unwrap_or("");
            let fields = self.tasks["inputs"]["byType"][kind].clone();
            if fields.is_null() {
                self.violations
                    .push(format!("{path}.type: unknown input type {kind:?}"));
                continue;
            }
            self.keys(input, &fields, &path);
            self.id_matches("inputIdPattern", &input["id"], &path);
            ids.push(input["id"].as_str().unwrap_or("").to_owned());
            if input.get("defaults").is_some() && input["required"] == false {
                let message = self.message("inputDefaultRequired");
                self.violations.push(format!("{path}: {message}"));
            }
            if input.get("defaults").is_some() && input.get("prefill").is_some() {
                let message = self.message("inputDefaultAndPrefill");
                self.violations.push(format!("{path}: {message}"));
            }
            if let Some(validator) = input["validator"].as_str()
                && regex_lite::Regex::new(validator).is_err()
            {
                self.violations
                    .push(format!("{path}.validator: invalid pattern [{validator}]"));
            }
        }
        self.unique("uniqueInputIds", &ids);
    }

    fn triggers(&mut self, flow: &Value) {
        let mut ids = Vec::new();
        for (i, trigger) in flow["triggers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = format!("triggers[{i}]");
            let kind = trigger["type"].as_str().unwrap_or("");
            if self.kind_of(kind).as_deref() != Some("trigger") {
                self.violations
                    .push(format!("{path}: Invalid type: {kind} is not a trigger"));
                continue;
            }
            if self.typed(trigger, &path) {
                self.id_matches("triggerIdPattern", &trigger["id"], &path);
            }
            ids.push(trigger["id"].as_str().unwrap_or("").to_owned());
            self.labels(&trigger["labels"], &format!("{path}.labels"));
            if kind == "io.kestra.plugin.core.trigger.Schedule" {
                let problems = schedule::problems(&self.semantics, trigger, &flow["inputs"], &path);
                self.violations.extend(problems);
            }
            if kind == "io.kestra.plugin.core.trigger.Webhook" {
                let key = trigger["key"].as_str().unwrap_or("");
                if !key.contains("{{") && key.chars().count() > 256 {
                    self.violations
                        .push(format!("{path}.key: size must be between 0 and 256"));
                }
                if let Some(content) = trigger["responseContentType"].as_str()
                    && !["application/json", "text/plain"].contains(&content)
                {
                    let message = self.message("webhookResponseContentType");
                    self.violations.push(format!("{path}: {message}"));
                }
            }
        }
        self.unique("uniqueTriggerIds", &ids);
    }

    /// Checks a task and everything nested in it.
    fn task(&mut self, task: &Value, path: &str) {
        let kind = task["type"].as_str().unwrap_or("").to_owned();
        let id = task["id"].as_str().unwrap_or("").to_owned();
        self.task_ids.push(id.clone());
        if let Some("trigger" | "taskRunner") = self.kind_of(&kind).as_deref() {
            self.violations
                .push(format!("{path}: Invalid type: {kind} is not a task"));
            return;
        }
        if !self.typed(task, path) {
            return;
        }
        self.id_matches("taskIdPattern", &task["id"], path);
        if kind == "io.kestra.plugin.core.flow.WorkingDirectory" {
            self.working_directory(task, &id);
        }
        if matches!(
            kind.rsplit('.').next(),
            Some("Sequential" | "Parallel" | "AllowFailure" | "Loop" | "LoopUntil")
        ) && task["tasks"].as_array().is_none_or(Vec::is_empty)
        {
            let message = self.message("branchTasksNotEmpty");
            self.violations.push(format!("{id}: {message}"));
        }
    }

    /// `workingDirectoryRunnableChildren`, `workingDirectoryNotEmpty` and
    /// `workingDirectoryNoChildWorkerSelector`.
    fn working_directory(&mut self, task: &Value, id: &str) {
        let children = task["tasks"].as_array().cloned().unwrap_or_default();
        if children.is_empty() {
            let message = self.message("workingDirectoryNotEmpty");
            self.violations.push(format!("{id}: {message}"));
        }
        let runnable = children.iter().all(|child| {
            let kind = resolve_alias(&self.semantics, child["type"].as_str().unwrap_or(""));
            self.kind_of(&kind).as_deref() == Some("RunnableTask")
        });
        if !runnable {
            let message = self.message("workingDirectoryRunnableChildren");
            self.violations.push(format!("{id}: {message}"));
        }
        if children
            .iter()
            .any(|child| child.get("workerSelector").is_some())
        {
            let message = self.message("workingDirectoryNoChildWorkerSelector");
            self.violations.push(format!("{id}: {message}"));
        }
    }

    /// Checks an object with a `type` against that type's properties; false when the type
    /// itself is refused.
    fn typed(&mut self, object: &Value, path: &str) -> bool {
        let Some(kind) = object["type"].as_str() else {
            self.violations
                .push(format!("{path}.type: must not be null"));
            return false;
        };
        let type_regex = reference::kestra_regex(&self.semantics, "typePattern");
        let resolved = resolve_alias(&self.semantics, kind);
        let properties = self
            .properties_of(&resolved)
            .or_else(|| self.properties_of(kind));
        match properties {
            Some(properties) if whole_match(&type_regex, kind) => {
                self.keys(object, &properties, &format!("{path}({kind})"));
                true
            }
            _ => {
                self.violations
                    .push(format!("{path}: Invalid type: {kind}"));
                false
            }
        }
    }

    /// Keys of OBJECT against PROPERTIES: unknown keys (strict parsing), required keys, enum
    /// values (a Pebble value is not checked, as Kestra renders it later), nested tasks.
    fn keys(&mut self, object: &Value, properties: &Value, path: &str) {
        let Some(map) = object.as_object() else {
            self.violations.push(format!("{path}: not a mapping"));
            return;
        };
        for (name, field) in properties.as_object().into_iter().flatten() {
            if field["required"] == true && !map.contains_key(name) {
                self.violations
                    .push(format!("{path}.{name}: must not be null"));
            }
        }
        for (key, value) in map {
            let here = format!("{path}.{key}");
            // A field 2.0 GA removed (`removedIn2GA`: flow-level `pluginDefaults`) fails to
            // parse, though the source read still declares it.
            let Some(field) = properties.get(key).filter(|f| f["removedIn2GA"] != true) else {
                self.violations.push(format!(
                    "Unrecognized field \"{key}\" ({path}), not marked as ignorable"
                ));
                continue;
            };
            let dynamic = value.as_str().is_some_and(|s| s.contains("{{"));
            if field["type"] == "enum" && !dynamic {
                let allowed = field["values"].as_array().cloned().unwrap_or_default();
                if !allowed.contains(value) {
                    self.violations
                        .push(format!("{here}: {value} is not one of {allowed:?}"));
                }
            }
            let nested_list = field["type"] == "list" && field["items"]["type"] == "task";
            if nested_list {
                for (i, task) in value.as_array().into_iter().flatten().enumerate() {
                    self.task(task, &format!("{here}[{i}]"));
                }
            } else if field["type"] == "task" {
                if value.is_array() {
                    self.violations
                        .push(format!("{here}: takes one task, not a list"));
                } else {
                    self.task(value, &here);
                }
            }
            self.nested_objects(field, value, &here);
            if key == "taskRunner" {
                let kind = value["type"].as_str().unwrap_or("");
                if self.kind_of(kind).as_deref() != Some("taskRunner") {
                    self.violations
                        .push(format!("{here}: Invalid type: {kind} is not a task runner"));
                } else {
                    self.typed(value, &here);
                }
            }
        }
    }

    /// An object property (or a list of them) checked against its class: strict parsing
    /// applies at every depth (`concurrency`, `retry`, `auth`, …). Inputs and task runners are
    /// checked by their own type elsewhere.
    fn nested_objects(&mut self, field: &Value, value: &Value, path: &str) {
        let (reference, items) = match (field["type"].as_str(), value) {
            (Some("object"), _) => (field["ref"].as_str(), vec![value.clone()]),
            (Some("list"), Value::Array(list)) if field["items"]["type"] == "object" => {
                (field["items"]["ref"].as_str(), list.clone())
            }
            _ => return,
        };
        let Some(reference) = reference else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let here = if items.len() > 1 || value.is_array() {
                format!("{path}[{i}]")
            } else {
                path.to_owned()
            };
            let properties = match reference {
                "io.kestra.core.models.flows.Input"
                | "io.kestra.core.models.tasks.runners.TaskRunner" => {
                    continue;
                }
                "io.kestra.core.models.tasks.retrys.AbstractRetry" => {
                    // A retry's variant is named by its `type`; its map is its properties.
                    let kind = item["type"].as_str().unwrap_or("");
                    let mut variant = self.tasks["retry"]["variants"][kind].clone();
                    if variant.is_null() {
                        self.violations
                            .push(format!("{here}.type: unknown retry type {kind:?}"));
                        continue;
                    }
                    variant["type"] = serde_json::json!({"type": "string", "required": true});
                    variant
                }
                other => self.tasks["definitions"][other]["properties"].clone(),
            };
            if properties.as_object().is_some_and(|p| !p.is_empty()) {
                self.keys(item, &properties, &here);
            }
        }
    }

    /// `labelKeyPattern` and `systemLabels`, for labels given as a map or a list.
    fn labels(&mut self, labels: &Value, path: &str) {
        let pairs: Vec<(String, String)> = match labels {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), pebble::to_text(v)))
                .collect(),
            Value::Array(list) => list
                .iter()
                .map(|l| (pebble::to_text(&l["key"]), pebble::to_text(&l["value"])))
                .collect(),
            _ => return,
        };
        for (key, value) in pairs {
            let lower_first = key.chars().next().is_some_and(char::is_lowercase);
            let rest_ok = key
                .chars()
                .all(|c| c.is_alphabetic() || c.is_ascii_digit() || "._-".contains(c));
            if !lower_first || !rest_ok || value.is_empty() {
                let message = self.message("labelKeyPattern");
                self.violations.push(format!("{path}: {message}"));
            }
            if key.starts_with("system.") && !(path == "flow.labels" && key == "system.readOnly") {
                self.violations.push(format!(
                    "{path}: System labels can only be set by Kestra itself, offending label: {key}={value}"
                ));
            }
        }
    }

    /// `dashedIdReferences`: `inputs.a-b` or `outputs.a-b.x` reads `a - b`.
    fn references(&mut self, flow: &Value) {
        let text = flow.to_string();
        for prefix in ["inputs.", "outputs."] {
            let dashed = text.match_indices(prefix).any(|(at, _)| {
                let name: String = text[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                name.contains('-')
            });
            if dashed {
                let kind = if prefix == "inputs." {
                    "input"
                } else {
                    "output"
                };
                self.violations.push(format!(
                    "flow: Invalid Flow: Invalid {kind} reference: use {kind}s[key-name] instead of {kind}s.key-name"
                ));
            }
        }
    }
}

/// Java's `Matcher.matches()`: the whole value must match.
pub fn whole_match(regex: &str, value: &str) -> bool {
    let anchored = format!(
        "^(?:{})$",
        regex.trim_start_matches('^').trim_end_matches('$')
    );
    regex_lite::Regex::new(&anchored).is_ok_and(|r| r.is_match(value))
}
