//! A stand-in for Rundeck 6.1 running one of our jobs as a named user, derived from
//! `testing/reference/rundeck/runtime.json`: the ACL policies decide whether the user may run the
//! job (`run`, and `read` or `view` to find it), on the server node (`read` and `run`), and read
//! each key-storage path it loads (Rundeck denies what no policy allows); options are checked
//! as Rundeck checks them (required, `regex` as a whole match, `enforced` values, no undeclared
//! option); a secure option loads only a `password` entry of key storage, byte for byte, and
//! anything else at its path reads as missing; a job without `multipleExecutions` refuses a
//! second run while one runs; project globals, options and the user reach the script as
//! Rundeck exports them (`RD_GLOBALS_*`, `RD_OPTION_*`, `RD_JOB_USERNAME`,
//! `RD_JOB_USER_NAME`), on the server node with a home of its own.
//!
//! Key storage is filled as people fill it, with `rd keys create` ([`rd`]: what rundeck-cli
//! 2.2.0 sends, a password file's first line only), from the commands rundeck/README.md gives.

pub mod rd;
pub mod remote_options;

use crate::kestra::save::whole_match;
use crate::reference;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The content type of a `password` entry: the only kind a secure option can load.
pub const PASSWORD: &str = "application/x-rundeck-data-password";

/// One key-storage entry as the server keeps it: the request's bytes and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub content: Vec<u8>,
    pub content_type: String,
}

#[derive(Clone)]
pub struct Rundeck {
    /// `project.globals.NAME` of the project `automatizacion`.
    pub globals: BTreeMap<String, String>,
    /// Key storage: `keys/…` path → entry.
    pub keys: BTreeMap<String, StoredKey>,
    /// The groups of each user.
    pub users: BTreeMap<String, Vec<String>>,
    /// The ACL policy documents.
    policies: Vec<Value>,
    /// PATH on the Rundeck server node, where relctl is.
    path: String,
    /// The jobs running now (by name), for `multipleExecutions: false`.
    running: Arc<Mutex<BTreeSet<String>>>,
}

/// How a job run ended, everything its script printed, and the e-mails Rundeck sent about it.
pub struct JobRun {
    pub succeeded: bool,
    pub output: String,
    pub notified: Vec<Notice>,
}

/// One e-mail notification: its trigger (`onstart`, `onsuccess`, `onfailure`) and its
/// recipients as Rundeck expanded them (`NotificationService`: `${globals.*}`, `${job.*}` and
/// `${option.*}`; an unresolved reference leaves the text as written, and the mail goes there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub trigger: String,
    pub recipients: String,
}

impl Rundeck {
    pub fn new(acl_file: &Path, path: String) -> Self {
        let text = std::fs::read_to_string(acl_file).unwrap();
        let policies = text
            .split("\n---\n")
            .map(|doc| serde_yaml::from_str(doc).unwrap())
            .collect();
        Rundeck {
            globals: BTreeMap::new(),
            keys: BTreeMap::new(),
            users: BTreeMap::new(),
            policies,
            path,
            running: Arc::default(),
        }
    }

    /// Whether a policy lets one of USER's groups do ACTION on a resource of KIND in CONTEXT
    /// (`project` or `application`) whose properties are PROPERTIES.
    fn allowed(
        &self,
        user: &str,
        context: &str,
        kind: &str,
        properties: &[(&str, &str)],
        action: &str,
    ) -> bool {
        let groups = self.users.get(user).cloned().unwrap_or_default();
        self.policies.iter().any(|policy| {
            let in_context = policy["context"].get(context).is_some();
            let by: Vec<String> = match &policy["by"]["group"] {
                Value::String(g) => vec![g.clone()],
                Value::Array(g) => g
                    .iter()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            in_context
                && groups.iter().any(|g| by.contains(g))
                && policy["for"][kind]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|rule| {
                        let allows = match &rule["allow"] {
                            Value::String(a) => a == action,
                            Value::Array(a) => a.iter().any(|a| a == action),
                            _ => false,
                        };
                        let equals =
                            rule["equals"]
                                .as_object()
                                .into_iter()
                                .flatten()
                                .all(|(k, v)| {
                                    properties
                                        .iter()
                                        .any(|(p, value)| p == k && v.as_str() == Some(*value))
                                });
                        let matches =
                            rule["match"]
                                .as_object()
                                .into_iter()
                                .flatten()
                                .all(|(k, v)| {
                                    properties.iter().any(|(p, value)| {
                                        p == k
                                            && v.as_str().is_some_and(|re| whole_match(re, value))
                                    })
                                });
                        allows && equals && matches
                    })
        })
    }

    /// Whether the ACL lets USER read the key-storage entry at PATH.
    pub fn may_read(&self, user: &str, path: &str) -> bool {
        let storage = [
            ("path", path),
            ("name", path.rsplit('/').next().unwrap_or("")),
        ];
        self.allowed(user, "application", "storage", &storage, "read")
    }

    /// Whether USER finds JOB: `rd run -j group/name` lists jobs first, and so does the run
    /// form, which show only those the user may read or view.
    fn find_job(&self, job: &Value, user: &str) -> Result<(), String> {
        let (group, name) = (
            job["group"].as_str().unwrap_or(""),
            job["name"].as_str().unwrap_or(""),
        );
        let job_properties = [("group", group), ("name", name)];
        if ["read", "view"]
            .iter()
            .any(|action| self.allowed(user, "project", "job", &job_properties, action))
        {
            Ok(())
        } else {
            Err(format!(
                "Could not find a unique job with name: {group}/{name} ({user} may not read it)"
            ))
        }
    }

    /// Runs the (only) job of JOB_FILE as USER with OPTIONS given on the run form.
    pub fn run(&self, job_file: &Path, user: &str, options: &[(&str, &str)]) -> JobRun {
        let refused = |why: String| JobRun {
            succeeded: false,
            output: why,
            notified: Vec::new(),
        };
        let document: Value =
            serde_yaml::from_str(&std::fs::read_to_string(job_file).unwrap()).unwrap();
        let job = &document[0];
        let (group, name) = (
            job["group"].as_str().unwrap_or(""),
            job["name"].as_str().unwrap_or(""),
        );
        let job_properties = [("group", group), ("name", name)];
        if let Err(why) = self.find_job(job, user) {
            return refused(why);
        }
        let (runtime, id) = (
            reference::rundeck_runtime(),
            job["uuid"].as_str().unwrap_or(""),
        );
        if !self.allowed(user, "project", "job", &job_properties, "run") {
            let message =
                reference::message(runtime, "/acl/runJobById/errors/0/message", &[("<id>", id)]);
            return refused(format!("{message} ({user})"));
        }
        // A job without node filters runs on the server node, which needs read and run.
        let server = [("rundeck_server", "true")];
        if !["read", "run"]
            .iter()
            .all(|action| self.allowed(user, "project", "node", &server, action))
        {
            let fill = [("<selector>", "rundeck_server")];
            let message = reference::message(runtime, "/acl/nodes/message", &fill);
            return refused(format!("{message} ({user} may not use the server node)"));
        }
        if job["multipleExecutions"] != true {
            let mut running = self.running.lock().unwrap();
            if !running.insert(name.to_owned()) {
                let fill = [("<job name>", name), ("<job uuid>", id)];
                let pointer = "/multipleExecutions/secondRun/message";
                return refused(reference::message(runtime, pointer, &fill));
            }
        }
        let finished = Finished {
            running: &self.running,
            name,
        };
        let declared = job["options"].as_array().cloned().unwrap_or_default();
        for (given, _) in options {
            if !declared.iter().any(|o| o["name"] == *given) {
                return refused(format!("Option '{given}' is not declared by {name}"));
            }
        }
        let said =
            |pointer: &str, fill: &[(&str, &str)]| reference::message(runtime, pointer, fill);
        let required = "/secureOptions/missingOrUnreadable/atRunRequest/messages";
        let mut env: Vec<(String, String)> = Vec::new();
        let mut plain_options = BTreeMap::new();
        for option in &declared {
            let option_name = option["name"].as_str().unwrap_or("");
            let secure = option["secure"] == true;
            let mut value = options
                .iter()
                .find(|(n, _)| *n == option_name)
                .map(|(_, v)| (*v).to_owned());
            // ignoreDefaultValuesForSecureOptions: a secure option with a literal default is
            // dropped, even a value given for it; only key storage can then fill it.
            if secure && option.get("value").is_some() {
                value = None;
            }
            if value.is_none()
                && let Some(path) = option["storagePath"].as_str()
            {
                // hasPassword: the entry must be readable by the user and of the password type;
                // anything else at the path is as good as nothing there.
                let password = self
                    .keys
                    .get(path)
                    .filter(|key| key.content_type == PASSWORD && self.may_read(user, path));
                match password {
                    Some(key) => value = Some(String::from_utf8_lossy(&key.content).into_owned()),
                    None if option["required"] == true => {
                        let fill = [("<name>", option_name), ("<path>", path)];
                        return refused(said(&format!("{required}/1"), &fill));
                    }
                    None => {}
                }
            }
            if !secure {
                value = value.or_else(|| option["value"].as_str().map(str::to_owned));
            }
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                if option["required"] == true {
                    return refused(said(&format!("{required}/0"), &[("<name>", option_name)]));
                }
                continue;
            };
            if let Some(regex) = option["regex"].as_str()
                && !whole_match(regex, &value)
            {
                return refused(format!(
                    "Option '{option_name}' doesn't match regular expression {regex}, value: {value}"
                ));
            }
            if option["enforced"] == true {
                let allowed = option["values"].as_array().into_iter().flatten();
                if !allowed.filter_map(Value::as_str).any(|v| v == value) {
                    return refused(format!(
                        "Option '{option_name}' value is not one of the allowed values"
                    ));
                }
            }
            // A secure option reaches a script only when exposed ("Secure"); "Secure Remote
            // Authentication" values stay in the private context, for node executors.
            if !secure {
                plain_options.insert(option_name.to_owned(), value.clone());
            }
            match (secure, option["valueExposed"] == true) {
                (false, _) => env.push((env_name("RD_OPTION_", option_name), value)),
                (true, true) => {
                    env.push((env_name("RD_OPTION_", option_name), value.clone()));
                    env.push((env_name("RD_SECUREOPTION_", option_name), value));
                }
                (true, false) => {}
            }
        }
        let step = &job["sequence"]["commands"][0];
        let interpreter = step["scriptInterpreter"].as_str().unwrap_or("/bin/sh");
        let home = std::env::temp_dir().join(format!(
            "rundeck-standin-home-{}-{user}",
            std::process::id()
        ));
        let _ = std::fs::create_dir_all(&home);
        let mut command = Command::new(interpreter);
        command
            .arg("-c")
            .arg(step["script"].as_str().unwrap_or(""))
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", &home)
            .env("RD_JOB_USERNAME", user)
            .env("RD_JOB_USER_NAME", user)
            .env("RD_JOB_NAME", name)
            .env("RD_JOB_GROUP", group)
            .envs(env);
        for (global, value) in &self.globals {
            command.env(env_name("RD_GLOBALS_", global), value);
        }
        let context = |scope: &str, key: &str| match scope {
            "globals" => self.globals.get(key).cloned(),
            "job" if key == "name" => Some(name.to_owned()),
            "job" if key == "group" => Some(group.to_owned()),
            "option" => plain_options.get(key).cloned(),
            _ => None,
        };
        let mut notified = self.notices(job, "onstart", &context);
        let out = command.output().unwrap();
        drop(finished);
        let ended = if out.status.success() {
            "onsuccess"
        } else {
            "onfailure"
        };
        notified.extend(self.notices(job, ended, &context));
        JobRun {
            succeeded: out.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            notified,
        }
    }

    /// The e-mails JOB's notifications send on TRIGGER, their `${scope.key}` references
    /// expanded from CONTEXT.
    fn notices(
        &self,
        job: &Value,
        trigger: &str,
        context: &dyn Fn(&str, &str) -> Option<String>,
    ) -> Vec<Notice> {
        let entries = match &job["notification"][trigger] {
            Value::Array(list) => list.clone(),
            Value::Null => Vec::new(),
            one => vec![one.clone()],
        };
        let reference = regex_lite::Regex::new(r"\$\{([a-z]+)\.([^}]+)\}").expect("a pattern");
        entries
            .iter()
            .filter_map(|entry| entry["email"]["recipients"].as_str())
            .map(|written| {
                let mut unresolved = false;
                let expanded = reference.replace_all(written, |caps: &regex_lite::Captures| {
                    context(&caps[1], &caps[2]).unwrap_or_else(|| {
                        unresolved = true;
                        String::new()
                    })
                });
                Notice {
                    trigger: trigger.to_owned(),
                    recipients: if unresolved {
                        written.to_owned()
                    } else {
                        expanded.into_owned()
                    },
                }
            })
            .collect()
    }
}

/// Marks a job that refuses a second run as done, however its run ends.
struct Finished<'a> {
    running: &'a Mutex<BTreeSet<String>>,
    name: &'a str,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.running.lock().unwrap().remove(self.name);
    }
}

/// What `rd jobs load` would refuse in a job: keys Rundeck 6.1's job YAML does not have,
/// missing required keys, values outside an enum, non-booleans where a boolean goes.
pub fn job_problems(job: &Value) -> Vec<String> {
    let format = reference::rundeck_jobs();
    let mut problems = Vec::new();
    keys(job, &format["job"]["properties"], "job", &mut problems);
    keys(
        &job["sequence"],
        &format["sequence"]["properties"],
        "sequence",
        &mut problems,
    );
    for (i, option) in job["options"].as_array().into_iter().flatten().enumerate() {
        let path = format!("options[{i}]");
        keys(
            option,
            &format["option"]["properties"],
            &path,
            &mut problems,
        );
        remote_url_problems(&option["configRemoteUrl"], &path, &mut problems);
    }
    notification_problems(&job["notification"], &format["notification"], &mut problems);
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
        keys(
            step,
            properties,
            &format!("commands[{i}]({kind})"),
            &mut problems,
        );
    }
    problems
}

/// `JobOptionConfigRemoteUrl.fromMap` (Rundeck 6.1.0): the fields it reads, and the two it
/// turns into enums with `valueOf`, which refuses any other name. (It skips other fields; so
/// much slack would hide a misspelt one, so this refuses them.)
fn remote_url_problems(config: &Value, path: &str, problems: &mut Vec<String>) {
    use remote_options::{API_TOKEN_REPORTERS, AUTHENTICATION_TYPES};
    let Some(map) = config.as_object() else {
        if !config.is_null() {
            problems.push(format!("{path}.configRemoteUrl: not a mapping"));
        }
        return;
    };
    for (key, value) in map {
        let allowed: &[&str] = match key.as_str() {
            "authenticationType" => &AUTHENTICATION_TYPES,
            "apiTokenReporter" => &API_TOKEN_REPORTERS,
            "username" | "passwordStoragePath" | "keyName" | "tokenStoragePath" | "jsonFilter" => {
                continue;
            }
            _ => {
                problems.push(format!(
                    "{path}.configRemoteUrl.{key}: not a field Rundeck reads"
                ));
                continue;
            }
        };
        if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
            problems.push(format!(
                "{path}.configRemoteUrl.{key}: {value} is none of {allowed:?}"
            ));
        }
    }
}

/// The job's `notification`, as `job-format.json` records it: its triggers, each a list of
/// entries (or one, in the older form) with the keys an entry has, an e-mail's recipients.
fn notification_problems(notification: &Value, format: &Value, problems: &mut Vec<String>) {
    let Some(triggers) = notification.as_object() else {
        if !notification.is_null() {
            problems.push("job.notification: not a mapping".into());
        }
        return;
    };
    let known = format["triggerKeys"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (trigger, entries) in triggers {
        let path = format!("job.notification.{trigger}");
        if !known.iter().any(|k| k == trigger) {
            problems.push(format!("{path}: not a trigger Rundeck 6.1 has"));
        }
        let entries = match entries {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        for (i, entry) in entries.iter().enumerate() {
            let path = format!("{path}[{i}]");
            keys(entry, &format["entry"]["properties"], &path, problems);
            if let Some(email) = entry.get("email") {
                let email_format = &format["entry"]["properties"]["email"]["properties"];
                keys(email, email_format, &format!("{path}.email"), problems);
            }
        }
    }
}

fn keys(object: &Value, properties: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(map) = object.as_object() else {
        problems.push(format!("{path}: not a mapping"));
        return;
    };
    for (name, field) in properties.as_object().into_iter().flatten() {
        if field["required"] == true && !map.contains_key(name) {
            problems.push(format!("{path}.{name}: required"));
        }
    }
    for (key, value) in map {
        match properties.get(key) {
            None => problems.push(format!("{path}.{key}: unknown to Rundeck 6.1 job YAML")),
            Some(field) if field["type"] == "enum" => {
                let allowed = field["values"].as_array().cloned().unwrap_or_default();
                if !allowed.contains(value) {
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

/// The environment variable Rundeck exports a context entry as (`DataContextUtils`
/// `generateEnvVarName`): PREFIX and the name upper-cased, anything but `[A-Za-z0-9_]` as `_`.
fn env_name(prefix: &str, name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c.to_ascii_uppercase(),
            _ => '_',
        })
        .collect();
    format!("{prefix}{name}")
}

/// What Rundeck 6.1 refuses in an `.aclpolicy` file: unknown top-level keys, a context that is
/// neither a project nor `application: rundeck`, rule keys and actions its resource types do
/// not have, a rule without `allow` or `deny`, and a policy that names nobody.
pub fn acl_problems(text: &str) -> Vec<String> {
    let format = reference::rundeck_acl();
    let allowed_keys: Vec<&str> = format["policy"]["allowedKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut problems = Vec::new();
    for (n, doc) in text.split("\n---\n").enumerate() {
        let policy: Value = match serde_yaml::from_str(doc) {
            Ok(policy) => policy,
            Err(e) => {
                problems.push(format!("policy {n}: {e}"));
                continue;
            }
        };
        for key in policy.as_object().into_iter().flatten().map(|(k, _)| k) {
            if !allowed_keys.contains(&key.as_str()) {
                problems.push(format!("policy {n}: unknown key {key}"));
            }
        }
        if policy["by"].as_object().is_none_or(|by| by.is_empty()) {
            problems.push(format!("policy {n}: `by` names nobody"));
        }
        let context = if policy["context"]["project"].is_string() {
            "project"
        } else if policy["context"]["application"] == "rundeck" {
            "application"
        } else {
            problems.push(format!("policy {n}: unknown context"));
            continue;
        };
        let types = &format["forTypes"][context]["types"];
        for (kind, rules) in policy["for"].as_object().into_iter().flatten() {
            if types[kind].is_null() {
                problems.push(format!("policy {n}: {context} has no resource type {kind}"));
                continue;
            }
            for rule in rules.as_array().into_iter().flatten() {
                for key in rule.as_object().into_iter().flatten().map(|(k, _)| k) {
                    if format["typeRule"]["properties"].get(key).is_none() {
                        problems.push(format!("policy {n}: unknown rule key {key}"));
                    }
                }
                if rule.get("allow").is_none() && rule.get("deny").is_none() {
                    problems.push(format!(
                        "policy {n}: a {kind} rule allows and denies nothing"
                    ));
                }
                let actions: Vec<&Value> = match &rule["allow"] {
                    Value::Array(a) => a.iter().collect(),
                    Value::Null => Vec::new(),
                    one => vec![one],
                };
                if let Some(known) = types[kind]["actions"].as_array() {
                    for action in actions {
                        if !known.contains(action) {
                            problems.push(format!("policy {n}: {kind} has no action {action}"));
                        }
                    }
                }
            }
        }
    }
    problems
}
