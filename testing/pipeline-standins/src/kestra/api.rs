//! A double of Kestra 2.0's REST API over the stand-in's executions, from `semantics.json`'s
//! `api` and `auth`: only `/api/v1/…` paths; OSS authentication, HTTP Basic only (any other
//! scheme is 401 with `WWW-Authenticate: Basic`); the tenant must be `main`; resuming is
//! `POST /api/v1/main/executions/{id}/actions/resume` with a multipart body, 200 with the
//! execution, 404 for an unknown one, 409 for one that is not paused; the 1.x path
//! `POST …/executions/{id}/resume` now matches "create an execution of flow `resume`" and
//! answers 404 "Requested Flow is not found".

use super::run::{Shared, State};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The running double.
pub struct KestraApi {
    pub base: String,
    /// Every request's method, path and authorization scheme (`Basic`, `Bearer`, or `-`).
    pub calls: Arc<Mutex<Vec<String>>>,
    /// Answers the next this many requests with 503, as a Kestra that is down would.
    unavailable: Arc<AtomicUsize>,
}

impl KestraApi {
    /// Serves SHARED on loopback, accepting USER:PASSWORD.
    pub fn start(shared: Arc<Mutex<Shared>>, user: &str, password: &str) -> Self {
        use base64::Engine;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let unavailable = Arc::new(AtomicUsize::new(0));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let (seen, down) = (calls.clone(), unavailable.clone());
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
                let answer = if down
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    (503, json!({"message": "Service Unavailable"}), false)
                } else {
                    answer(&request, &basic, &shared)
                };
                respond(stream, answer);
            }
        });
        KestraApi {
            base,
            calls,
            unavailable,
        }
    }

    /// The next N requests get 503.
    pub fn unavailable_for(&self, n: usize) {
        self.unavailable.store(n, Ordering::SeqCst);
    }
}

struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
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
    }
}

/// Status, JSON body, and whether to ask for Basic credentials.
fn answer(
    request: &Request,
    basic: &str,
    shared: &Mutex<Shared>,
) -> (u16, serde_json::Value, bool) {
    let not_found = |message: &str| (404, json!({"message": message}), false);
    let Some(rest) = request.path.strip_prefix("/api/v1/") else {
        return not_found("Not Found");
    };
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
    match (request.method.as_str(), &segments[1..]) {
        ("POST", ["executions", id, "actions", "resume"]) => {
            let multipart = request
                .content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("multipart/form-data"));
            if !multipart {
                return (415, json!({"message": "Unsupported Media Type"}), false);
            }
            let mut shared = shared.lock().unwrap();
            let Some((namespace, flow, state)) = shared.executions.get_mut(*id) else {
                return not_found(&format!("Not Found: Execution '{id}' not found."));
            };
            if *state != State::Paused {
                let message =
                    format!("Illegal state: Execution '{id}' is not paused, can't resume it");
                return (409, json!({"message": message}), false);
            }
            *state = State::Running;
            let execution = json!({"id": id, "namespace": namespace, "flowId": flow,
                                   "state": {"current": "RUNNING"}});
            (200, execution, false)
        }
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
        _ => not_found("Not Found"),
    }
}

fn respond(
    mut stream: std::net::TcpStream,
    (status, body, challenge): (u16, serde_json::Value, bool),
) {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
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
