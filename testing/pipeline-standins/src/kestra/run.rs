//! A stand-in for a Kestra 2.0 server's executor, running a saved flow here: inputs through
//! their validators, a Webhook trigger's `when` and `inputs`, `runIf`, WorkingDirectory (a fresh
//! directory each, its tasks in it), `io.kestra.plugin.git.Clone` (real git, with Kestra's
//! `commit` / `tag` / `branch` precedence), shell `Commands` (rendered `env` and `inputFiles`,
//! `set -e` as `failFast` does, `::{"outputs":…}::` lines), `Pause` (the execution stops until
//! the API double receives its resume), `Fail`, `Log`, the `errors` branch, and `concurrency`
//! with its `behavior` (QUEUE waits, CANCEL and FAIL end the second execution at once). A
//! Webhook's key is rendered as Kestra renders it: with the flow and the trigger's id and type
//! in scope, never the request (`testing/reference/kestra/runtime.json`, `webhookTrigger`).
//!
//! Where Kestra would run a container, the stand-in runs the command here with `path` as PATH:
//! the builder image's tools (relctl, Spin, kubectl, git) from this checkout. Notifications are
//! refused: a test that reaches one has left them on.

use super::pebble::{self, Scope};
use super::save::save;
pub use super::state::{Shared, State};
use super::{inputs, plugins};
use crate::reference;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why an execution stopped at its breakpoint (never a task's own failure).
const BREAKPOINT: &str = "\u{0}breakpoint";

/// Runs before a task (by id): the SpinKube and Rundeck stand-ins hook in here.
pub type Hook = Box<dyn FnMut(&mut Execution)>;

/// The stand-in server: saved flows, secrets, and executions.
pub struct Kestra {
    pub shared: Arc<Mutex<Shared>>,
    secrets: BTreeMap<String, String>,
    /// PATH for script tasks: where the builder image's tools are.
    path: String,
    workdirs: PathBuf,
    counter: usize,
    hooks: BTreeMap<String, Hook>,
}

/// One execution of a flow.
#[derive(Debug)]
pub struct Execution {
    pub id: String,
    pub flow: Value,
    /// What expressions see: inputs, vars, outputs, execution, flow, trigger.
    pub variables: Value,
    pub state: State,
    /// Task ids in the order they ran (skipped ones are not listed).
    pub ran: Vec<String>,
    /// The next top-level task to run.
    next: usize,
    /// Kestra's `breakpoints`: the execution stops before this task (and is not resumed here).
    pub breakpoint: Option<String>,
    /// The working directory of the WorkingDirectory task running now, for hooks.
    pub workdir: Option<PathBuf>,
}

impl Execution {
    /// A task's output variable, as `{{ outputs.TASK.vars.NAME }}` reads it.
    pub fn output(&self, task: &str, name: &str) -> Option<String> {
        self.variables["outputs"][task]["vars"][name]
            .as_str()
            .map(str::to_owned)
    }

    /// The flow's namespace and id.
    fn flow_key(&self) -> (String, String) {
        let text = |key: &str| {
            self.variables["flow"][key]
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        (text("namespace"), text("id"))
    }
}

impl Kestra {
    pub fn new(secrets: &[(&str, String)], path: String, workdirs: PathBuf) -> Self {
        Kestra {
            shared: Arc::default(),
            secrets: secrets
                .iter()
                .map(|(k, v)| ((*k).to_uppercase(), v.clone()))
                .collect(),
            path,
            workdirs,
            counter: 0,
            hooks: BTreeMap::new(),
        }
    }

    /// `POST /api/v1/main/flows` (or a `PUT` of an existing one): validated as the server
    /// validates it; the 422's violations on refusal.
    pub fn save(&self, yaml: &str) -> Result<(), Vec<String>> {
        let flow = save(yaml)?;
        let key = (
            flow["namespace"].as_str().unwrap_or("").to_owned(),
            flow["id"].as_str().unwrap_or("").to_owned(),
        );
        self.shared.lock().unwrap().flows.insert(key, flow);
        Ok(())
    }

    /// Runs HOOK before the task TASK of any execution (once; add it again for the next).
    pub fn before(&mut self, task: &str, hook: Hook) {
        self.hooks.insert(task.to_owned(), hook);
    }

    fn flow(&self, namespace: &str, id: &str) -> Result<Value, String> {
        self.shared
            .lock()
            .unwrap()
            .flows
            .get(&(namespace.to_owned(), id.to_owned()))
            .cloned()
            .ok_or_else(|| "Not Found: Requested Flow is not found.".to_owned())
    }

    /// `POST /api/v1/main/executions/{namespace}/{id}` with INPUTS: a new execution, after the
    /// inputs pass Kestra's execution-time rules (required, defaults, validators).
    pub fn create(
        &mut self,
        namespace: &str,
        id: &str,
        inputs: &[(&str, &str)],
    ) -> Result<Execution, String> {
        self.create_with(namespace, id, inputs, Value::Null)
    }

    fn create_with(
        &mut self,
        namespace: &str,
        id: &str,
        given: &[(&str, &str)],
        trigger: Value,
    ) -> Result<Execution, String> {
        let flow = self.flow(namespace, id)?;
        let inputs = inputs::resolve(&flow, given)?;
        self.counter += 1;
        let execution_id = format!("standin{}x{}", std::process::id(), self.counter);
        let mut vars = flow["variables"].clone();
        if vars.is_null() {
            vars = json!({});
        }
        let variables = json!({
            "inputs": inputs,
            "vars": vars,
            "outputs": {},
            "execution": {"id": execution_id},
            "flow": {"id": id, "namespace": namespace},
            "trigger": trigger,
        });
        // concurrency.limit: a second execution waits (QUEUE, the default), is cancelled, or
        // fails, while one is running or paused.
        let limited = flow["concurrency"]["limit"].as_u64().is_some();
        let busy = self
            .shared
            .lock()
            .unwrap()
            .executions
            .values()
            .any(|(ns, f, state)| {
                ns == namespace
                    && f == id
                    && matches!(state, State::Running | State::Paused | State::Queued)
            });
        let state = match (limited && busy, flow["concurrency"]["behavior"].as_str()) {
            (false, _) => State::Running,
            (true, None | Some("QUEUE")) => State::Queued,
            (true, Some("CANCEL")) => State::Cancelled,
            (true, _) => State::Failed(reference::message(
                reference::kestra_runtime(),
                "/concurrency/FAIL/message",
                &[],
            )),
        };
        self.set_state(&execution_id, namespace, id, state.clone());
        self.shared
            .lock()
            .unwrap()
            .inputs
            .insert(execution_id.clone(), variables["inputs"].clone());
        Ok(Execution {
            id: execution_id,
            flow,
            variables,
            state,
            ran: Vec::new(),
            next: 0,
            breakpoint: None,
            workdir: None,
        })
    }

    /// `POST /api/v1/main/executions/webhook/{namespace}/{id}/{key}` with BODY: 404 without a
    /// Webhook trigger of that key, 204 when its `when` is false (no execution), else the new
    /// execution.
    pub fn webhook(
        &mut self,
        namespace: &str,
        id: &str,
        key: &str,
        body: &Value,
    ) -> Result<Option<Execution>, String> {
        let flow = self.flow(namespace, id)?;
        let secrets = self.secrets.clone();
        let secret = move |name: &str| secrets.get(name).cloned();
        // The key sees the flow and the trigger, nothing of the request.
        let trigger = flow["triggers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["type"] == "io.kestra.plugin.core.trigger.Webhook")
            .find(|t| {
                let key_vars = json!({"flow": {"id": id, "namespace": namespace, "tenantId": "main"},
                                      "trigger": {"id": t["id"], "type": t["type"]}});
                let key_scope = Scope {
                    variables: &key_vars,
                    secret: &secret,
                    kv: &pebble::no_kv,
                };
                pebble::render(t["key"].as_str().unwrap_or(""), &key_scope)
                    .is_ok_and(|k| k.trim() == key)
            })
            .cloned()
            .ok_or_else(|| "Not Found: Webhook not found".to_owned())?;
        let scope_vars = json!({"trigger": {"body": body}, "flow": {"id": id, "namespace": namespace},
                                "vars": flow["variables"]});
        let scope = Scope {
            variables: &scope_vars,
            secret: &secret,
            kv: &pebble::no_kv,
        };
        // A `when` that cannot be rendered counts as not met.
        let when = trigger["when"].as_str().unwrap_or("true");
        if !pebble::render(when, &scope).is_ok_and(|w| pebble::is_truthy(&w)) {
            return Ok(None);
        }
        let mut inputs = Vec::new();
        for (name, template) in trigger["inputs"].as_object().into_iter().flatten() {
            let value = pebble::render(template.as_str().unwrap_or(""), &scope)
                .map_err(|e| format!("Invalid entity: {e}"))?;
            inputs.push((name.clone(), value));
        }
        let inputs: Vec<(&str, &str)> = inputs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.create_with(namespace, id, &inputs, json!({"body": body}))
            .map(Some)
    }

    /// A paused execution whose `pauseDuration` ran out with `behavior: FAIL`.
    pub fn expire(&mut self, execution: &mut Execution) {
        assert_eq!(
            execution.state,
            State::Paused,
            "only a paused execution expires"
        );
        execution.state = State::Failed("the pause ran out".into());
        let (namespace, flow) = execution.flow_key();
        self.set_state(&execution.id, &namespace, &flow, execution.state.clone());
    }

    fn set_state(&self, execution: &str, namespace: &str, flow: &str, state: State) {
        self.shared.lock().unwrap().executions.insert(
            execution.to_owned(),
            (namespace.to_owned(), flow.to_owned(), state),
        );
    }

    /// Runs the execution until it pauses or ends. A paused execution goes on only once the
    /// API double has resumed it; a queued one only once the flow has no other running.
    pub fn run(&mut self, execution: &mut Execution) -> State {
        let shared = self
            .shared
            .lock()
            .unwrap()
            .executions
            .get(&execution.id)
            .map(|(_, _, s)| s.clone());
        match (&execution.state, shared) {
            (State::Paused, Some(State::Running)) => execution.state = State::Running,
            (State::Paused, _) => return State::Paused,
            (State::Queued, _) => {
                let (namespace, flow) = execution.flow_key();
                let busy = self
                    .shared
                    .lock()
                    .unwrap()
                    .executions
                    .iter()
                    .any(|(id, (ns, f, s))| {
                        id != &execution.id
                            && *ns == namespace
                            && *f == flow
                            && matches!(s, State::Running | State::Paused)
                    });
                if busy {
                    return State::Queued;
                }
                execution.state = State::Running;
            }
            (State::Running, _) => {}
            (done, _) => return done.clone(),
        }
        let outcome = self.tasks(execution);
        // A Pause set the shared state itself, and a resume may already have followed.
        let at_a_pause = matches!(outcome, Ok(true));
        execution.state = match outcome {
            Ok(true) => State::Paused,
            Ok(false) => State::Success,
            Err(why) if why == BREAKPOINT => State::Paused,
            Err(why) => {
                let errors = execution.flow["errors"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for task in errors {
                    if let Err(e) = self.task(execution, &task, None) {
                        panic!("the errors branch itself failed: {e}");
                    }
                }
                State::Failed(why)
            }
        };
        if !at_a_pause {
            let (namespace, flow) = execution.flow_key();
            self.set_state(&execution.id, &namespace, &flow, execution.state.clone());
        }
        execution.state.clone()
    }

    /// The top-level tasks from where the execution stands; `Ok(true)` when it paused.
    fn tasks(&mut self, execution: &mut Execution) -> Result<bool, String> {
        let tasks = execution.flow["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        while execution.next < tasks.len() {
            let task = tasks[execution.next].clone();
            execution.next += 1;
            let kind = task["type"].as_str().unwrap_or("");
            if kind == "io.kestra.plugin.core.flow.Pause" {
                if self.should_run(execution, &task)? {
                    self.hook(execution, &task);
                    self.paused_at(execution, task["id"].as_str().unwrap_or(""));
                    return Ok(true);
                }
                continue;
            }
            if kind == "io.kestra.plugin.core.flow.WorkingDirectory" {
                if !self.should_run(execution, &task)? {
                    continue;
                }
                let dir = self.fresh_dir(execution, task["id"].as_str().unwrap_or("wd"));
                self.ran(execution, task["id"].as_str().unwrap_or(""));
                execution.workdir = Some(dir.clone());
                for child in task["tasks"].as_array().cloned().unwrap_or_default() {
                    self.task(execution, &child, Some(&dir))?;
                }
                continue;
            }
            self.task(execution, &task, None)?;
        }
        Ok(false)
    }

    /// Notes that the Pause TASK runs and the execution waits there, at once: `GET
    /// …/executions/{id}` never shows the one without the other.
    fn paused_at(&self, execution: &mut Execution, task: &str) {
        execution.ran.push(task.to_owned());
        let (namespace, flow) = execution.flow_key();
        let mut shared = self.shared.lock().unwrap();
        shared
            .task_runs
            .insert(execution.id.clone(), execution.ran.clone());
        shared
            .executions
            .insert(execution.id.clone(), (namespace, flow, State::Paused));
    }

    /// Notes that TASK starts: `GET …/executions/{id}` lists it from now on.
    fn ran(&self, execution: &mut Execution, task: &str) {
        execution.ran.push(task.to_owned());
        self.shared
            .lock()
            .unwrap()
            .task_runs
            .insert(execution.id.clone(), execution.ran.clone());
    }

    fn should_run(&self, execution: &Execution, task: &Value) -> Result<bool, String> {
        let Some(condition) = task["runIf"].as_str() else {
            return Ok(true);
        };
        let rendered = self.render(execution, condition)?;
        Ok(pebble::is_truthy(&rendered))
    }

    fn hook(&mut self, execution: &mut Execution, task: &Value) {
        let id = task["id"].as_str().unwrap_or("");
        if let Some(mut hook) = self.hooks.remove(id) {
            hook(execution);
        }
    }

    fn render(&self, execution: &Execution, text: &str) -> Result<String, String> {
        let secret = |name: &str| self.secrets.get(name).cloned();
        let (namespace, _) = execution.flow_key();
        let kv = |key: &str| self.kv(&namespace, key);
        let scope = Scope {
            variables: &execution.variables,
            secret: &secret,
            kv: &kv,
        };
        pebble::render(text, &scope)
    }

    /// `kv('KEY')` in a flow of NAMESPACE (`semantics.json`'s `kvFunction`): the namespace's
    /// value, else its parents' (`a.b.c`, `a.b`, `a`); none is an error naming the key.
    fn kv(&self, namespace: &str, key: &str) -> Result<Value, String> {
        let shared = self.shared.lock().unwrap();
        let mut at = namespace;
        loop {
            if let Some(value) = shared.kv.get(&(at.to_owned(), key.to_owned())) {
                return Ok(value.clone());
            }
            match at.rsplit_once('.') {
                Some((parent, _)) => at = parent,
                None => {
                    return Err(format!(
                        "The key '{key}' does not exist in the namespace '{namespace}'."
                    ));
                }
            }
        }
    }

    fn fresh_dir(&self, execution: &Execution, task: &str) -> PathBuf {
        let dir = self
            .workdirs
            .join(&execution.id)
            .join(format!("{task}-{}", execution.ran.len()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The `Labels` task (Labels.java @ c94e774): LABELS as a map, a list of `{key, value}`
    /// or a string rendering to a JSON map, keys and values rendered; a `system.` key or an
    /// empty value fails the task (`labelsTaskSystemLabel`, `labelsTaskEmptyValue`), and the
    /// rest overwrite the execution's labels of the same key. Expressions see them as `labels`.
    fn label(&self, execution: &mut Execution, labels: &Value) -> Result<(), String> {
        let render = |v: &Value| match v {
            Value::String(text) => self.render(execution, text),
            other => Err(format!("Unknown value type: {other}")),
        };
        let pairs: Vec<(String, String)> = match labels {
            Value::String(text) => {
                let json = self.render(execution, text)?;
                let map: BTreeMap<String, String> =
                    serde_json::from_str(&json).map_err(|e| e.to_string())?;
                map.into_iter().collect()
            }
            Value::Array(list) => list
                .iter()
                .map(|label| match label {
                    Value::Object(_) => Ok((render(&label["key"])?, render(&label["value"])?)),
                    other => Err(format!("Unknown value type: {other}")),
                })
                .collect::<Result<_, String>>()?,
            Value::Object(map) => map
                .iter()
                .map(|(key, value)| Ok((self.render(execution, key)?, render(value)?)))
                .collect::<Result<_, String>>()?,
            other => return Err(format!("Unknown value type: {other}")),
        };
        let rules = reference::kestra_semantics();
        let said = |id: &str, fill: &[(&str, &str)]| {
            let rule = rules["validators"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["id"] == id)
                .expect("a rule of the reference");
            let mut message = rule["message"].as_str().unwrap_or("").to_owned();
            for (at, with) in fill {
                message = message.replace(at, with);
            }
            message
        };
        if let Some((key, value)) = pairs.iter().find(|(k, _)| k.starts_with("system.")) {
            let fill = [("<key>", key.as_str()), ("<value>", value.as_str())];
            return Err(said("labelsTaskSystemLabel", &fill));
        }
        if let Some((key, _)) = pairs.iter().find(|(_, v)| v.is_empty()) {
            return Err(said("labelsTaskEmptyValue", &[("<key>", key.as_str())]));
        }
        let mut shared = self.shared.lock().unwrap();
        let kept = shared.labels.entry(execution.id.clone()).or_default();
        for (key, value) in pairs {
            execution.variables["labels"][key.as_str()] = Value::String(value.clone());
            kept.insert(key, value);
        }
        Ok(())
    }

    /// One runnable task, in DIR when a WorkingDirectory holds it (else a directory of its own).
    fn task(
        &mut self,
        execution: &mut Execution,
        task: &Value,
        dir: Option<&Path>,
    ) -> Result<(), String> {
        let id = task["id"].as_str().unwrap_or("").to_owned();
        if execution.breakpoint.as_deref() == Some(id.as_str()) {
            return Err(BREAKPOINT.into());
        }
        if !self
            .should_run(execution, task)
            .map_err(|e| format!("{id}: {e}"))?
        {
            return Ok(());
        }
        self.hook(execution, task);
        self.ran(execution, &id);
        let dir = match dir {
            Some(dir) => dir.to_owned(),
            None => self.fresh_dir(execution, &id),
        };
        let kind = task["type"].as_str().unwrap_or("");
        let result = match kind {
            "io.kestra.plugin.git.Clone" => {
                plugins::clone(task, &dir, &|text| self.render(execution, text))
            }
            "io.kestra.plugin.scripts.shell.Commands" => {
                let render = |text: &str| self.render(execution, text);
                plugins::commands(task, &dir, &self.path, &render).map(|outputs| {
                    let vars = &mut execution.variables["outputs"][id.as_str()]["vars"];
                    if vars.is_null() {
                        *vars = json!({});
                    }
                    for (name, value) in outputs {
                        vars[name] = value;
                    }
                })
            }
            "io.kestra.plugin.core.execution.Fail" => {
                let condition = task["condition"].as_str().unwrap_or("true");
                if pebble::is_truthy(&self.render(execution, condition)?) {
                    let message = task["errorMessage"].as_str().unwrap_or("Task failure");
                    Err(self.render(execution, message)?)
                } else {
                    Ok(())
                }
            }
            "io.kestra.plugin.core.log.Log" => self
                .render(execution, task["message"].as_str().unwrap_or(""))
                .map(drop),
            "io.kestra.plugin.core.execution.Labels" => self.label(execution, &task["labels"]),
            other => Err(format!(
                "the stand-in cannot run {other} (notifications stay off in the tests)"
            )),
        };
        result.map_err(|e| format!("{id}: {e}"))
    }
}
