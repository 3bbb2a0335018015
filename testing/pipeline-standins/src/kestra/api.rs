//! A double of Kestra 2.0's REST API over the stand-in's executions, from `semantics.json`'s
//! `api` and `auth`: only `/api/v1/…` paths; OSS authentication, HTTP Basic only (any other
//! scheme is 401 with `WWW-Authenticate: Basic`); the tenant must be `main`; resuming is
//! `POST /api/v1/main/executions/{id}/actions/resume` with a multipart body, 200 with the
//! execution once the executor confirms, 504 when it has not within Kestra's 30 s (the resume
//! still happens when the executor gets to it: `runtime.json`'s `resumeEndpoint`), 404 for an
//! unknown one, 409 for one that is not paused; the 1.x path
//! `POST …/executions/{id}/resume` now matches "create an execution of flow `resume`" and
//! answers 404 "Requested Flow is not found". Also `GET …/executions/{id}` (state, inputs, task
//! runs with their states: a Pause's run is PAUSED while it waits, SUCCESS once resumed),
//! saving flows (`POST …/flows`, `PUT …/flows/{namespace}/{id}`, YAML), the KV store (`PUT` and
//! `GET …/namespaces/{namespace}/kv/{key}`), `/ping`, and the open
//! Webhook path `…/executions/webhook/{namespace}/{id}/{key}` when an executor serves it
//! (`server`).

use super::run::{Shared, State};
use crate::reference;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

/// A Webhook call, for the executor that holds the secrets its key is rendered with: it
/// answers on `reply` with the status and body Kestra would send.
pub struct WebhookCall {
    pub namespace: String,
    pub flow: String,
    pub key: String,
    /// `trigger.body`: the request's JSON, or its text when it is not JSON.
    pub body: Value,
    pub reply: Sender<(u16, Value)>,
}

/// Where Webhook calls go, if anywhere.
type Webhooks = Option<Sender<WebhookCall>>;

/// The running double.
pub struct KestraApi {
    pub base: String,
    /// Every request's method, path and authorization scheme (`Basic`, `Bearer`, or `-`).
    pub calls: Arc<Mutex<Vec<String>>>,
    /// Answers the next this many requests with 503, as a Kestra that is down would.
    unavailable: Arc<AtomicUsize>,
    /// Answers the next this many resumes with 503: a Kestra that went down after it was read.
    resumes_unavailable: Arc<AtomicUsize>,
    /// How long the executor takes to act on a resume, and how long the API waits for it.
    clock: Arc<Mutex<ResumeClock>>,
}

/// Kestra's wait for its executor (`kestra.async-operations.wait-timeout`, PT30S) and how long
/// the executor takes; a test shortens both alike, as the failover tests shorten Karmada's.
#[derive(Clone, Copy)]
pub struct ResumeClock {
    pub wait: std::time::Duration,
    pub executor: std::time::Duration,
}

impl Default for ResumeClock {
    fn default() -> Self {
        ResumeClock {
            wait: std::time::Duration::from_secs(30),
            executor: std::time::Duration::ZERO,
        }
    }
}

impl KestraApi {
    /// Serves SHARED on loopback, accepting USER:PASSWORD.
    pub fn start(shared: Arc<Mutex<Shared>>, user: &str, password: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::serve(listener, shared, user, password, None)
    }

    /// Serves SHARED on LISTENER, sending Webhook calls to WEBHOOKS (without it they are 404).
    pub fn serve(
        listener: TcpListener,
        shared: Arc<Mutex<Shared>>,
        user: &str,
        password: &str,
        webhooks: Option<Sender<WebhookCall>>,
    ) -> Self {
        use base64::Engine;
        let base = format!("http://{}", listener.local_addr().unwrap());
        let webhooks: Arc<Webhooks> = Arc::new(webhooks);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let unavailable = Arc::new(AtomicUsize::new(0));
        let resumes_unavailable = Arc::new(AtomicUsize::new(0));
        let clock: Arc<Mutex<ResumeClock>> = Arc::default();
        let ticking = clock.clone();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let (seen, down) = (calls.clone(), unavailable.clone());
        let resumes_down = resumes_unavailable.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let request = read_request(&stream);
                let scheme = request
                    .authorization
                    .as_deref()
                    .and_then(|a| a.split_whitespace().next())
                    .unwrap_or("-")
                    .to_owned();
                seen.lock()
                    .unwrap()
                    .push(format!("{} {} {scheme}", request.method, request.path));
                // One of COUNT, if any is left (a compare-and-swap loop: `fetch_update` is
                // deprecated on newer toolchains, its successor missing on older ones).
                let take = |count: &AtomicUsize| {
                    let mut n = count.load(Ordering::SeqCst);
                    while n > 0 {
                        match count.compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst) {
                            Ok(_) => return true,
                            Err(now) => n = now,
                        }
                    }
                    false
                };
                let resume = request.method == "POST" && request.path.ends_with("/actions/resume");
                if take(&down) || (resume && take(&resumes_down)) {
                    respond(
                        stream,
                        (503, json!({"message": "Service Unavailable"}), false),
                    );
                    continue;
                }
                // A webhook may wait for a task to end: every request gets a thread.
                let (basic, shared, webhooks) = (basic.clone(), shared.clone(), webhooks.clone());
                let clock = *ticking.lock().unwrap();
                std::thread::spawn(move || {
                    respond(stream, answer(&request, &basic, &shared, &webhooks, clock));
                });
            }
        });
        KestraApi {
            base,
            calls,
            unavailable,
            resumes_unavailable,
            clock,
        }
    }

    /// From now on the executor acts on a resume after EXECUTOR, and the API waits WAIT for it.
    pub fn resume_clock(&self, wait: std::time::Duration, executor: std::time::Duration) {
        *self.clock.lock().unwrap() = ResumeClock { wait, executor };
    }

    /// The next N requests get 503.
    pub fn unavailable_for(&self, n: usize) {
        self.unavailable.store(n, Ordering::SeqCst);
    }

    /// The next N resumes get 503, whatever was read before them.
    pub fn resumes_unavailable_for(&self, n: usize) {
        self.resumes_unavailable.store(n, Ordering::SeqCst);
    }
}

struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn read_request(stream: &std::net::TcpStream) -> Request {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let (mut authorization, mut content_type, mut length) = (None, None, 0);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "authorization" => authorization = Some(value),
            "content-type" => content_type = Some(value),
            "content-length" => length = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    Request {
        method,
        path,
        authorization,
        content_type,
        body,
    }
}

/// Status, JSON body, and whether to ask for Basic credentials.
fn answer(
    request: &Request,
    basic: &str,
    shared: &Arc<Mutex<Shared>>,
    webhooks: &Webhooks,
    clock: ResumeClock,
) -> (u16, Value, bool) {
    let not_found = |message: &str| (404, json!({"message": message}), false);
    if request.path == "/ping" {
        return (200, json!({}), false);
    }
    let Some(rest) = request.path.strip_prefix("/api/v1/") else {
        return not_found("Not Found");
    };
    // Open URLs (`kestra.server.basic-auth.open-urls`): the key in the path is the protection.
    let open = rest.strip_prefix("main/executions/webhook/");
    if let Some(path) = open {
        return webhook(request, path, webhooks);
    }
    let authorized = request.authorization.as_deref() == Some(&format!("Basic {basic}"));
    if !authorized {
        return (401, json!({"message": "Unauthorized"}), true);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments[0] != "main" {
        return (
            400,
            json!({"message": "Tenant must be 'main' for OSS version"}),
            false,
        );
    }
    let yaml = || {
        let is_yaml = request
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-yaml"));
        is_yaml.then(|| String::from_utf8_lossy(&request.body).into_owned())
    };
    match (request.method.as_str(), &segments[1..]) {
        ("PUT", ["namespaces", namespace, "kv", key]) => put_kv(request, shared, namespace, key),
        ("GET", ["namespaces", namespace, "kv", key]) => get_kv(shared, namespace, key),
        ("POST", ["executions", id, "actions", "resume"]) => {
            let multipart = request
                .content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("multipart/form-data"));
            if !multipart {
                return (415, json!({"message": "Unsupported Media Type"}), false);
            }
            {
                let guard = shared.lock().unwrap();
                let said = |what: &str| {
                    let pointer = format!("/resumeEndpoint/{what}/message");
                    reference::message(reference::kestra_runtime(), &pointer, &[("<id>", id)])
                };
                let Some((_, _, state)) = guard.executions.get(*id) else {
                    return not_found(&said("notFound"));
                };
                if *state != State::Paused {
                    return (409, json!({"message": said("notPaused")}), false);
                }
            }
            // The command goes to the executor, and the API waits for it to confirm.
            let (id, executor) = ((*id).to_owned(), shared.clone());
            let resumed = std::thread::spawn(move || {
                std::thread::sleep(clock.executor);
                let mut shared = executor.lock().unwrap();
                if let Some((_, _, state)) = shared.executions.get_mut(&id)
                    && *state == State::Paused
                {
                    *state = State::Running;
                }
                execution(&shared, &id)
            });
            if clock.executor > clock.wait {
                std::thread::sleep(clock.wait);
                let pointer = "/resumeEndpoint/asyncWait/timeout/message";
                let message = reference::message(reference::kestra_runtime(), pointer, &[]);
                return (504, json!({"message": message}), false);
            }
            match resumed.join() {
                Ok(Some(execution)) => (200, execution, false),
                _ => not_found("Not Found"),
            }
        }
        ("GET", ["executions", id]) => match execution(&shared.lock().unwrap(), id) {
            Some(execution) => (200, execution, false),
            None => not_found("Not Found"),
        },
        // createExecution: POST /executions/{namespace}/{id}; the 1.x resume path lands here.
        ("POST", ["executions", namespace, flow]) => {
            let known = shared
                .lock()
                .unwrap()
                .flows
                .contains_key(&((*namespace).to_owned(), (*flow).to_owned()));
            if known {
                (
                    422,
                    json!({"message": "the double does not create executions"}),
                    false,
                )
            } else {
                not_found("Not Found: Requested Flow is not found.")
            }
        }
        ("POST", ["flows"]) => match yaml() {
            None => (415, json!({"message": "Unsupported Media Type"}), false),
            Some(source) => save_flow(shared, &source, None),
        },
        ("PUT", ["flows", namespace, id]) => match yaml() {
            None => (415, json!({"message": "Unsupported Media Type"}), false),
            Some(source) => save_flow(shared, &source, Some((namespace, id))),
        },
        _ => not_found("Not Found"),
    }
}

/// `POST …/flows` (PATH is None: the flow must be new) or `PUT …/flows/{namespace}/{id}` (it
/// must exist, under the same namespace and id): 200 with the flow, or 422 with why.
fn save_flow(
    shared: &Mutex<Shared>,
    source: &str,
    path: Option<(&str, &str)>,
) -> (u16, Value, bool) {
    let invalid = |message: String| (422, json!({"message": message}), false);
    let flow = match super::save::save(source) {
        Ok(flow) => flow,
        Err(violations) => return invalid(format!("Invalid entity: {}", violations.join(", "))),
    };
    let key = (
        flow["namespace"].as_str().unwrap_or("").to_owned(),
        flow["id"].as_str().unwrap_or("").to_owned(),
    );
    let mut shared = shared.lock().unwrap();
    let exists = shared.flows.contains_key(&key);
    match path {
        None if exists => return invalid("Invalid entity: flow.id: Flow id already exists".into()),
        Some((namespace, id)) => {
            if !shared
                .flows
                .contains_key(&(namespace.to_owned(), id.to_owned()))
            {
                return (404, json!({"message": "Not Found"}), false);
            }
            if key.1 != id {
                return invalid("Illegal flow id update".into());
            }
            if key.0 != namespace {
                return invalid("Illegal namespace update".into());
            }
        }
        None => {}
    }
    shared.flows.insert(key.clone(), flow);
    let answer = json!({"id": key.1, "namespace": key.0, "source": source});
    (200, answer, false)
}

/// Kestra's name for a state.
fn state_name(state: &State) -> &'static str {
    match state {
        State::Queued => "QUEUED",
        State::Cancelled => "CANCELLED",
        State::Running => "RUNNING",
        State::Paused => "PAUSED",
        State::Success => "SUCCESS",
        State::Failed(_) => "FAILED",
    }
}

/// `PUT …/namespaces/{namespace}/kv/{key}` (`semantics.json`'s `setKeyValue`): a text/plain
/// body, kept with its JSON type when it reads as JSON (Kestra reads Ion, JSON's superset), else
/// as text; a key outside `[a-zA-Z0-9][a-zA-Z0-9._-]*` is refused.
fn put_kv(
    request: &Request,
    shared: &Arc<Mutex<Shared>>,
    namespace: &str,
    key: &str,
) -> (u16, Value, bool) {
    let plain = request
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("text/plain"));
    if !plain {
        return (415, json!({"message": "Unsupported Media Type"}), false);
    }
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        let endpoint = &reference::kestra_semantics()["api"]["endpoints"]["setKeyValue"];
        return (
            422,
            json!({"message": endpoint["invalidKey"]["message"]}),
            false,
        );
    }
    let text = String::from_utf8_lossy(&request.body).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    shared
        .lock()
        .unwrap()
        .kv
        .insert((namespace.to_owned(), key.to_owned()), value);
    (200, Value::Null, false)
}

/// `GET …/namespaces/{namespace}/kv/{key}` (`getKeyValue`): the value and its type (the
/// stand-in keeps no revisions or dates), or 404.
fn get_kv(shared: &Arc<Mutex<Shared>>, namespace: &str, key: &str) -> (u16, Value, bool) {
    let kept = shared
        .lock()
        .unwrap()
        .kv
        .get(&(namespace.to_owned(), key.to_owned()))
        .cloned();
    let Some(value) = kept else {
        let endpoint = &reference::kestra_semantics()["api"]["endpoints"]["getKeyValue"];
        let message = endpoint["notFound"].as_str().unwrap_or("");
        let message = message
            .replace("<key>", key)
            .replace("<namespace>", namespace);
        return (404, json!({"message": message}), false);
    };
    let kind = match &value {
        Value::String(_) | Value::Null => "STRING",
        Value::Number(_) => "NUMBER",
        Value::Bool(_) => "BOOLEAN",
        _ => "JSON",
    };
    (200, json!({"type": kind, "value": value}), false)
}

/// An execution as `GET …/executions/{id}` answers: its state, its inputs and the tasks that
/// have run. The last run of a paused execution is its Pause, PAUSED; every other is done.
pub fn execution(shared: &Shared, id: &str) -> Option<Value> {
    let (namespace, flow, state) = shared.executions.get(id)?;
    let runs = shared.task_runs.get(id).cloned().unwrap_or_default();
    let task_runs: Vec<Value> = runs
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let waiting = *state == State::Paused && i + 1 == runs.len();
            let current = if waiting { "PAUSED" } else { "SUCCESS" };
            json!({"taskId": task, "state": {"current": current}})
        })
        .collect();
    let inputs = shared.inputs.get(id).cloned().unwrap_or(json!({}));
    let labels: Vec<Value> = shared
        .labels
        .get(id)
        .into_iter()
        .flatten()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    Some(
        json!({"tenantId": "main", "id": id, "namespace": namespace, "flowId": flow,
                "state": {"current": state_name(state)}, "inputs": inputs,
                "labels": labels, "taskRunList": task_runs}),
    )
}

/// `POST …/executions/webhook/{namespace}/{id}/{key}`, handed to the executor.
fn webhook(request: &Request, path: &str, webhooks: &Webhooks) -> (u16, Value, bool) {
    let not_found = |message: &str| (404, json!({"message": message}), false);
    let [namespace, flow, key] = path.split('/').collect::<Vec<_>>()[..] else {
        return not_found("Not Found");
    };
    if !matches!(request.method.as_str(), "POST" | "GET" | "PUT") || key.is_empty() {
        return not_found("Not Found");
    }
    let Some(webhooks) = webhooks else {
        return not_found("Not Found: Flow not found");
    };
    let text = String::from_utf8_lossy(&request.body).into_owned();
    let body = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(|b| b.is_object() || b.is_array())
        .unwrap_or(Value::String(text));
    let (reply, answer) = channel();
    let call = WebhookCall {
        namespace: namespace.to_owned(),
        flow: flow.to_owned(),
        key: key.to_owned(),
        body,
        reply,
    };
    if webhooks.send(call).is_err() {
        return (503, json!({"message": "Service Unavailable"}), false);
    }
    let (status, body) = answer
        .recv()
        .unwrap_or((503, json!({"message": "Service Unavailable"})));
    (status, body, false)
}

fn respond(
    mut stream: std::net::TcpStream,
    (status, body, challenge): (u16, serde_json::Value, bool),
) {
    let body = if status == 204 {
        String::new()
    } else {
        body.to_string()
    };
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        504 => "Gateway Timeout",
        _ => "Service Unavailable",
    };
    let challenge = if challenge {
        "WWW-Authenticate: Basic\r\n"
    } else {
        ""
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\n{challenge}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}
