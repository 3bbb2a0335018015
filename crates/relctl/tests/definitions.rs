//! The Kestra flow and the Rundeck jobs and ACL, checked where neither Kestra nor Rundeck can
//! run: against the reference data of Kestra 2.0 and Rundeck 6.1 (`../shared/ref`, strict keys,
//! required keys, enums, nothing removed in Kestra 2), every expression naming something that
//! exists, every secret and key-storage path documented, and every `relctl` call parsing
//! against relctl's real argument definitions (a renamed flag fails here).

use clap::{CommandFactory, Parser};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn reference(path: &str) -> Value {
    serde_json::from_str(&read(&format!("../shared/ref/{path}"))).unwrap()
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const FLOW: &str = "kestra/flows/automatizacion.release.yml";
const JOBS: [&str; 2] = [
    "rundeck/jobs/approve-release.yaml",
    "rundeck/jobs/rollback-production.yaml",
];
const ACL: &str = "rundeck/acl/automatizacion-releases.aclpolicy";

// ---------------------------------------------------------------------------------------------
// Kestra
// ---------------------------------------------------------------------------------------------

struct KestraCheck {
    reference: Value,
    problems: Vec<String>,
}

impl KestraCheck {
    /// Keys of OBJECT against PROPERTIES (the reference's map of name → field).
    fn keys(&mut self, object: &Value, properties: &Value, path: &str) {
        let Some(map) = object.as_object() else {
            self.problems.push(format!("{path}: not a mapping"));
            return;
        };
        for (name, field) in properties.as_object().unwrap() {
            if field["required"] == true && !map.contains_key(name) {
                self.problems.push(format!("{path}.{name}: required"));
            }
        }
        for (key, value) in map {
            let here = format!("{path}.{key}");
            let Some(field) = properties.get(key) else {
                self.problems.push(format!("{here}: unknown to Kestra 2.0"));
                continue;
            };
            let dynamic = value.as_str().is_some_and(|s| s.contains("{{"));
            if field["type"] == "enum" && !dynamic {
                let allowed = field["values"].as_array().unwrap();
                if !allowed.contains(value) {
                    self.problems
                        .push(format!("{here}: {value} is not one of {allowed:?}"));
                }
            }
            if field["type"] == "list" && field["items"]["type"] == "task" {
                for (i, task) in value.as_array().into_iter().flatten().enumerate() {
                    self.task(task, &format!("{here}[{i}]"));
                }
            }
            if key == "taskRunner" {
                self.typed(value, &here);
            }
        }
    }

    fn typed(&mut self, object: &Value, path: &str) -> bool {
        let Some(kind) = object["type"].as_str() else {
            self.problems.push(format!("{path}: no type"));
            return false;
        };
        let properties = self.reference["types"][kind]["properties"].clone();
        if properties.is_null() {
            self.problems
                .push(format!("{path}: type {kind} is unknown to the reference"));
            return false;
        }
        self.keys(object, &properties, &format!("{path}({kind})"));
        true
    }

    fn task(&mut self, task: &Value, path: &str) {
        self.typed(task, path);
    }

    fn flow(&mut self, flow: &Value) {
        let properties = self.reference["flow"]["properties"].clone();
        self.keys(flow, &properties, "flow");
        for (i, input) in flow["inputs"].as_array().into_iter().flatten().enumerate() {
            let kind = input["type"].as_str().unwrap_or("");
            let fields = self.reference["inputs"]["byType"][kind].clone();
            if fields.is_null() {
                self.problems
                    .push(format!("inputs[{i}]: input type {kind} is unknown"));
            } else {
                self.keys(input, &fields, &format!("inputs[{i}]"));
            }
        }
        for (i, trigger) in flow["triggers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            self.typed(trigger, &format!("triggers[{i}]"));
        }
    }
}

/// Every task of the flow in document order (nested tasks after their parent).
fn tasks_in_order(list: &Value, out: &mut Vec<Value>) {
    for task in list.as_array().into_iter().flatten() {
        out.push(task.clone());
        for nested in ["tasks", "then", "else", "errors", "finally"] {
            tasks_in_order(&task[nested], out);
        }
    }
}

/// The `{{ … }}` expressions of a text.
fn expressions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push(rest[start + 2..start + end].trim().to_owned());
        rest = &rest[start + end + 2..];
    }
    out
}

/// The names after PREFIX (`inputs.`, `vars.`, `outputs.`) in an expression.
fn names_after<'a>(expression: &'a str, prefix: &str) -> Vec<&'a str> {
    expression
        .match_indices(prefix)
        .filter(|(at, _)| {
            let before = if *at == 0 {
                b' '
            } else {
                expression.as_bytes()[at - 1]
            };
            !(before.is_ascii_alphanumeric() || before == b'.')
        })
        .map(|(at, _)| {
            let tail = &expression[at + prefix.len()..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            &tail[..end]
        })
        .collect()
}

fn secrets_in(text: &str) -> BTreeSet<String> {
    text.match_indices("secret('")
        .map(|(at, _)| {
            let tail = &text[at + 8..];
            tail[..tail.find('\'').unwrap()].to_owned()
        })
        .collect()
}

fn all_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| all_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| all_strings(v, out)),
        _ => {}
    }
}

#[test]
fn the_flow_fits_kestra_2() {
    let flow = yaml(FLOW);
    let mut check = KestraCheck {
        reference: reference("kestra/tasks.json"),
        problems: Vec::new(),
    };
    check.flow(&flow);
    for (i, task) in flow["tasks"].as_array().unwrap().iter().enumerate() {
        check.task(task, &format!("tasks[{i}]"));
    }
    for (i, task) in flow["errors"].as_array().into_iter().flatten().enumerate() {
        check.task(task, &format!("errors[{i}]"));
    }
    assert_eq!(check.problems, Vec::<String>::new());
    assert_eq!(flow["id"], "release");
    assert_eq!(flow["namespace"], "automatizacion");

    // Nothing Kestra 2 removed.
    let text = read(FLOW);
    for removed in [
        "pluginDefaults",
        "taskDefaults",
        "ForEach",
        "EachSequential",
        "EachParallel",
        "json(",
        "conditions:",
    ] {
        assert!(
            !text.contains(removed),
            "the flow uses {removed}, removed in Kestra 2"
        );
    }
    // The same checks refuse what Kestra would.
    let mut broken = flow.clone();
    broken["tasks"][0]["tasks"][1]["commandz"] = "x".into();
    broken["tasks"][0]["tasks"][8]["behavior"] = "WAIT".into();
    let mut check = KestraCheck {
        reference: reference("kestra/tasks.json"),
        problems: Vec::new(),
    };
    check.task(&broken["tasks"][0], "tasks[0]");
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains("commandz: unknown")),
        "{:?}",
        check.problems
    );
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains("behavior: \"WAIT\"")),
        "{:?}",
        check.problems
    );
}

#[test]
fn every_expression_in_the_flow_names_something_declared_before_it() {
    let flow = yaml(FLOW);
    let inputs: BTreeSet<&str> = flow["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let vars: BTreeSet<&str> = flow["variables"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut ordered = Vec::new();
    tasks_in_order(&flow["tasks"], &mut ordered);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut checked = 0;
    for task in ordered.iter().chain(flow["errors"].as_array().unwrap()) {
        let id = task["id"].as_str().unwrap().to_owned();
        let mut texts = Vec::new();
        // A task's own expressions (its nested tasks are checked on their own).
        let mut own = task.clone();
        for nested in ["tasks", "then", "else", "errors", "finally"] {
            own.as_object_mut().unwrap().remove(nested);
        }
        all_strings(&own, &mut texts);
        for expression in texts.iter().flat_map(|t| expressions(t)) {
            checked += 1;
            for name in names_after(&expression, "inputs.") {
                assert!(
                    inputs.contains(name),
                    "{id}: {{{{ {expression} }}}} names no declared input"
                );
            }
            for name in names_after(&expression, "vars.") {
                assert!(
                    vars.contains(name),
                    "{id}: {{{{ {expression} }}}} names no variable"
                );
            }
            for name in names_after(&expression, "outputs.") {
                assert!(
                    seen.contains(name),
                    "{id}: {{{{ {expression} }}}} names no earlier task"
                );
            }
        }
        seen.insert(id);
    }
    assert!(checked > 30, "only {checked} expressions found");
    // The webhook's inputs name declared inputs too.
    for key in flow["triggers"][0]["inputs"].as_object().unwrap().keys() {
        assert!(
            inputs.contains(key.as_str()),
            "the trigger sets an undeclared input {key}"
        );
    }
}

#[test]
fn every_secret_and_key_storage_path_is_documented() {
    let kestra_readme = read("kestra/README.md");
    for secret in secrets_in(&read(FLOW)) {
        assert!(
            kestra_readme.contains(&format!("`{secret}`")),
            "kestra/README.md does not list the secret {secret}"
        );
    }
    let rundeck_readme = read("rundeck/README.md");
    for job in JOBS {
        for option in yaml(job)[0]["options"].as_array().unwrap() {
            if let Some(path) = option["storagePath"].as_str() {
                assert!(
                    rundeck_readme.contains(&format!("`{path}`")),
                    "rundeck/README.md does not list {path}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// relctl calls
// ---------------------------------------------------------------------------------------------

/// The `relctl …` calls of a shell script, as argument lists: `{{ … }}` and `$VAR` stand for
/// one value each; `$(`, `)`, redirections and what follows a `|` or `;` are not arguments.
fn relctl_calls(script: &str) -> Vec<Vec<String>> {
    let mut calls = Vec::new();
    for line in script.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("relctl ") {
            let call = &rest[at + 7..];
            let end = call.find([')', '|', ';']).unwrap_or(call.len());
            let mut args = vec!["relctl".to_owned()];
            args.extend(
                words(&call[..end])
                    .into_iter()
                    .filter(|w| !w.starts_with('<') && !w.starts_with('>')),
            );
            calls.push(args);
            rest = &call[end..];
        }
    }
    calls
}

/// Shell words with double and single quotes removed, expressions replaced by `x`.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in text.chars() {
        match (quote, c) {
            (None, ' ') => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out.into_iter().map(|w| placeholder(&w)).collect()
}

fn placeholder(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map(|e| start + e + 2)
            .unwrap_or(rest.len());
        out.push('x');
        rest = &rest[end..];
    }
    out.push_str(rest);
    if out.starts_with('$') {
        "x".into()
    } else {
        out
    }
}

/// Parses a call as relctl would, with the flags that ENV (the step's environment) supplies
/// through clap's `env` attributes added, as the real process would see them.
fn parse(call: &[String], env: &BTreeSet<String>) -> Result<relctl::Cli, String> {
    let mut args = call.to_vec();
    let command = relctl::Cli::command();
    let sub = args.get(1).and_then(|name| command.find_subcommand(name));
    let env_args = command
        .get_arguments()
        .chain(sub.into_iter().flat_map(|s| s.get_arguments()));
    for arg in env_args {
        let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let flag = format!("--{long}");
        if env.contains(var.to_str().unwrap()) && !args.contains(&flag) {
            args.push(flag);
            args.push("x".into());
        }
    }
    relctl::Cli::try_parse_from(&args).map_err(|e| format!("{}: {e}", call.join(" ")))
}

#[test]
fn every_relctl_call_in_the_flow_and_the_jobs_parses() {
    let flow = yaml(FLOW);
    let mut ordered = Vec::new();
    tasks_in_order(&flow["tasks"], &mut ordered);
    let mut calls = 0;
    for task in &ordered {
        let env: BTreeSet<String> = task["env"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        for command in task["commands"].as_array().into_iter().flatten() {
            // A variable stands for its value in the flow (a number for --timeout, …).
            let mut command = command.as_str().unwrap().to_owned();
            for (name, value) in flow["variables"].as_object().unwrap() {
                let value = value
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string());
                command = command.replace(&format!("{{{{ vars.{name} }}}}"), &value);
            }
            for call in relctl_calls(&command) {
                parse(&call, &env).unwrap();
                calls += 1;
            }
        }
    }
    for job in JOBS {
        let job = yaml(job);
        let mut script = job[0]["sequence"]["commands"][0]["script"]
            .as_str()
            .unwrap()
            .to_owned();
        // An option with enforced values stands for its first value.
        for option in job[0]["options"].as_array().unwrap() {
            if let Some(first) = option["values"][0].as_str() {
                let variable = format!(
                    "$RD_OPTION_{}",
                    option["name"].as_str().unwrap().to_uppercase()
                );
                script = script.replace(&variable, first);
            }
        }
        // The scripts export LEDGER_URL, SPIN_VARIABLE_AUTH_HMAC_KEY and LEDGER_TOKEN first.
        let env = ["LEDGER_URL", "LEDGER_TOKEN"]
            .map(String::from)
            .into_iter()
            .collect();
        for call in relctl_calls(&script) {
            parse(&call, &env).unwrap();
            calls += 1;
        }
    }
    assert!(calls >= 11, "only {calls} relctl calls found");
    // A renamed flag fails.
    let renamed =
        relctl_calls("relctl deploy --environment staging --version 1.0.0 --sha x --kubeconfig k");
    assert!(parse(&renamed[0], &BTreeSet::new()).is_err());
}

// ---------------------------------------------------------------------------------------------
// Rundeck
// ---------------------------------------------------------------------------------------------

fn rundeck_keys(object: &Value, properties: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(map) = object.as_object() else {
        problems.push(format!("{path}: not a mapping"));
        return;
    };
    for (name, field) in properties.as_object().unwrap() {
        if field["required"] == true && !map.contains_key(name) {
            problems.push(format!("{path}.{name}: required"));
        }
    }
    for (key, value) in map {
        match properties.get(key) {
            None => problems.push(format!("{path}.{key}: unknown to Rundeck 6.1 job YAML")),
            Some(field) if field["type"] == "enum" => {
                if !field["values"].as_array().unwrap().contains(value) {
                    problems.push(format!("{path}.{key}: {value} is not allowed"));
                }
            }
            Some(field) if field["type"] == "boolean" && !value.is_boolean() => {
                problems.push(format!("{path}.{key}: {value} is not a boolean"));
            }
            Some(_) => {}
        }
    }
}

fn job_problems(job: &Value) -> Vec<String> {
    let format = reference("rundeck/job-format.json");
    let mut problems = Vec::new();
    rundeck_keys(job, &format["job"]["properties"], "job", &mut problems);
    rundeck_keys(
        &job["sequence"],
        &format["sequence"]["properties"],
        "sequence",
        &mut problems,
    );
    for (i, option) in job["options"].as_array().into_iter().flatten().enumerate() {
        rundeck_keys(
            option,
            &format["option"]["properties"],
            &format!("options[{i}]"),
            &mut problems,
        );
    }
    for (i, step) in job["sequence"]["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = ["script", "exec", "scriptfile", "scripturl", "jobref"]
            .into_iter()
            .find(|k| step.get(*k).is_some())
            .unwrap_or("type");
        let properties = &format["step"]["kinds"][kind]["properties"];
        rundeck_keys(
            step,
            properties,
            &format!("commands[{i}]({kind})"),
            &mut problems,
        );
    }
    problems
}

#[test]
fn the_jobs_fit_rundeck_6_1_and_use_only_their_options() {
    for path in JOBS {
        let document = yaml(path);
        let jobs = document.as_array().expect("a job file is a list of jobs");
        assert_eq!(jobs.len(), 1, "{path}");
        let job = &jobs[0];
        assert_eq!(job_problems(job), Vec::<String>::new(), "{path}");
        let options: BTreeSet<String> = job["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_uppercase())
            .collect();
        let script = job["sequence"]["commands"][0]["script"].as_str().unwrap();
        for (at, _) in script.match_indices("$RD_OPTION_") {
            let name: String = script[at + 11..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                options.contains(&name),
                "{path}: the script reads option {name}, which the job does not declare"
            );
        }
        // The ledger hears the person who runs the job.
        assert!(script.contains("--sub \"$RD_JOB_USERNAME\""), "{path}");
        // Secrets come from key storage and never show in logs or forms.
        for option in job["options"].as_array().unwrap() {
            if option["storagePath"].is_string() {
                assert_eq!(option["secure"], true, "{path}: {}", option["name"]);
            }
        }
    }
    let approve = &yaml(JOBS[0])[0];
    let decision = approve["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "decision")
        .unwrap();
    assert_eq!(decision["enforced"], true);
    assert_eq!(decision["values"], serde_json::json!(["approve", "reject"]));
    for required in ["version", "decision", "comment", "kestra_execution"] {
        let option = approve["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == required)
            .unwrap();
        assert_eq!(option["required"], true, "{required}");
    }
    // Resuming Kestra comes after the ledger accepted the decision (set -e stops before it).
    let script = approve["sequence"]["commands"][0]["script"]
        .as_str()
        .unwrap();
    assert!(script.starts_with("set -eu"));
    assert!(script.find("relctl decide").unwrap() < script.find("relctl resume-kestra").unwrap());
    // The same check refuses what Rundeck would.
    let mut broken = approve.clone();
    broken["loglevel"] = "LOUD".into();
    broken["options"][0]["requird"] = true.into();
    let problems = job_problems(&broken);
    assert!(
        problems.iter().any(|p| p.contains("loglevel"))
            && problems.iter().any(|p| p.contains("requird")),
        "{problems:?}"
    );
}

#[test]
fn the_acl_lets_approvers_run_approve_release_only_and_admins_both() {
    let format = reference("rundeck/aclpolicy-format.json");
    let allowed_keys: Vec<&str> = format["policy"]["allowedKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let text = read(ACL);
    let policies: Vec<Value> = text
        .split("\n---\n")
        .map(|doc| serde_yaml::from_str(doc).unwrap())
        .collect();
    let mut grants: BTreeSet<(String, String)> = BTreeSet::new();
    for policy in &policies {
        for key in policy.as_object().unwrap().keys() {
            assert!(
                allowed_keys.contains(&key.as_str()),
                "unknown policy key {key}"
            );
        }
        assert!(
            policy["description"].is_string()
                && policy["for"].is_object()
                && policy["by"].is_object()
        );
        let context = if policy["context"]["project"].is_string() {
            "project"
        } else {
            "application"
        };
        assert!(context == "project" || policy["context"]["application"] == "rundeck");
        let types = &format["forTypes"][context]["types"];
        let groups: Vec<String> = match &policy["by"]["group"] {
            Value::String(g) => vec![g.clone()],
            Value::Array(g) => g.iter().map(|g| g.as_str().unwrap().to_owned()).collect(),
            _ => panic!("policies here are by group"),
        };
        for (kind, rules) in policy["for"].as_object().unwrap() {
            let actions = &types[kind]["actions"];
            for rule in rules.as_array().unwrap() {
                for key in rule.as_object().unwrap().keys() {
                    assert!(
                        format["typeRule"]["properties"].get(key).is_some(),
                        "unknown rule key {key}"
                    );
                }
                let allow: Vec<&str> = rule["allow"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                if let Some(actions) = actions.as_array() {
                    for action in &allow {
                        assert!(
                            actions.iter().any(|a| a == action),
                            "{kind} has no action {action}"
                        );
                    }
                }
                assert!(rule.get("deny").is_none());
                if kind == "job" && allow.contains(&"run") {
                    for group in &groups {
                        grants.insert((
                            group.clone(),
                            rule["equals"]["name"].as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("release-admins", "approve-release"),
        ("release-admins", "rollback-production"),
        ("release-approvers", "approve-release"),
    ]
    .into_iter()
    .map(|(g, j)| (g.to_owned(), j.to_owned()))
    .collect();
    assert_eq!(grants, expected);
}
