//! A scripted backend for native tests: it answers from a table and records what it was sent.
//! The end-to-end tests put the real backend behind the real transport instead.

use frontend::backend::{Fetched, Outgoing, Transport};
use frontend::{AccessLog, ConsoleRequest, ConsoleResponse, Host};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::time::Duration;

/// 2026-11-26T14:15:00Z: "now" for every rendered page.
pub const NOW: i64 = 1_795_702_500_000;
pub const REQUEST_ID: &str = "0123456789abcdef0123456789abcdef";

#[derive(Default)]
pub struct ScriptedBackend {
    answers: Vec<(String, Fetched)>,
    pub sent: RefCell<Vec<Outgoing>>,
}

impl ScriptedBackend {
    /// Answers `path_and_query` (matched exactly, after the backend URL) with JSON.
    pub fn answer(mut self, path: &str, status: u16, body: &Value) -> Self {
        self.answers.push((
            path.to_owned(),
            Fetched::Reply {
                status,
                body: body.to_string().into_bytes(),
            },
        ));
        self
    }

    pub fn fail(mut self, path: &str, fetched: Fetched) -> Self {
        self.answers.push((path.to_owned(), fetched));
        self
    }

    /// Every path fails the same way.
    pub fn always(fetched: Fetched) -> Self {
        Self::default().fail("*", fetched)
    }

    pub fn sent_paths(&self) -> Vec<String> {
        self.sent
            .borrow()
            .iter()
            .map(|o| path_of(&o.url).to_owned())
            .collect()
    }
}

fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |i| &after_scheme[i..])
}

impl Transport for ScriptedBackend {
    fn get_all(&self, requests: &[Outgoing], _timeout: Duration) -> Vec<Fetched> {
        self.sent.borrow_mut().extend_from_slice(requests);
        requests
            .iter()
            .map(|request| {
                let path = path_of(&request.url);
                self.answers
                    .iter()
                    .find(|(p, _)| p == path || p == "*")
                    .map_or(
                        Fetched::Reply {
                            status: 404,
                            body: b"{\"title\":\"Not Found\"}".to_vec(),
                        },
                        |(_, f)| f.clone(),
                    )
            })
            .collect()
    }
}

/// Renders one request with these variables (everything else at its default).
pub fn render_with(
    req: &ConsoleRequest,
    backend: &ScriptedBackend,
    vars: &[(&str, &str)],
) -> (ConsoleResponse, AccessLog) {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let variable = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let host = Host {
        variable: &variable,
        transport: backend,
        now: NOW,
        request_id: REQUEST_ID.into(),
        trace: spin_edge::continue_or_start(
            req.header_value("traceparent"),
            TRACE_ID.into(),
            SPAN_ID.into(),
        ),
    };
    frontend::handle(req, &host)
}

pub fn render(path: &str, backend: &ScriptedBackend) -> ConsoleResponse {
    render_with(&ConsoleRequest::get(path), backend, &[]).0
}

/// The trace a test page starts when the request brings none, and the console's span.
pub const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
pub const SPAN_ID: &str = "b7ad6b7169203331";

pub const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const SCRIPT: &str = "<script>window.__pwned = 1</script>";

pub fn release(version: &str, notes: &str) -> Value {
    json!({
        "version": version,
        "artifact": format!("ghcr.io/acme/automatizacion:{version}"),
        "digest": DIGEST,
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "notes": notes,
        "created_by": "kestra",
        "created_at": "2026-11-26T14:10:00.000Z",
    })
}

pub fn pending_approval(version: &str) -> Value {
    json!({
        "version": version,
        "state": "pending",
        "requested_by": "kestra",
        "requested_at": "2026-11-26T14:12:00.000Z",
        "decided_by": null,
        "decided_at": null,
        "comment": null,
    })
}

pub fn info() -> Value {
    json!({"name": "automatizacion", "version": "0.1.0", "commit": "abc",
           "cluster_name": "prod-east", "region": "eu-west-1"})
}

pub fn clusters() -> Value {
    json!([
        {"name": "staging", "environment": "staging",
         "current": {"version": "1.4.0", "artifact": "a", "digest": DIGEST,
                     "succeeded_at": "2026-11-26T14:11:00.000Z"},
         "last_event": {"version": "1.4.0", "status": "succeeded", "message": null,
                        "at": "2026-11-26T14:11:00.000Z"}},
        {"name": "prod-east", "environment": "production",
         "current": null,
         "last_event": {"version": "1.4.0", "status": "failed", "message": SCRIPT,
                        "at": "2026-11-26T12:15:00.000Z"}},
        {"name": "prod-west", "environment": "production", "current": null, "last_event": null},
    ])
}

/// The backend after a small release story: 1.4.0 on staging, its approval pending.
pub fn story() -> ScriptedBackend {
    ScriptedBackend::default().answer(
        "/api/overview",
        200,
        &json!({
            "info": info(),
            "clusters": clusters(),
            "pending_approvals": {"items": [pending_approval("1.4.0")], "next_cursor": null},
            "releases": {"items": [release("1.4.0", SCRIPT)], "next_cursor": null},
        }),
    )
}

/// `/api/insights` over two weeks: the first with one release that failed once and was
/// restored, the second with nothing to measure.
pub fn insights() -> Value {
    let empty = json!({"deployments": 0, "lead_time_from_commit": null,
                       "lead_time_from_recording": null, "change_failure_rate": null,
                       "time_to_restore": null});
    let busy = json!({"deployments": 2,
        "lead_time_from_commit": {"count": 2, "median_seconds": 7_200, "p90_seconds": 93_600},
        "lead_time_from_recording": {"count": 2, "median_seconds": 3_600, "p90_seconds": 86_400},
        "change_failure_rate": {"failed": 1, "rollouts": 4, "rate": 0.25},
        "time_to_restore": {"restored": 1, "unrestored": 0, "median_seconds": 1_800,
                            "worst_seconds": 1_800}});
    let mut first = busy.clone();
    first["starts"] = json!("2026-11-16T00:00:00.000Z");
    let mut second = empty;
    second["starts"] = json!("2026-11-23T00:00:00.000Z");
    json!({"environment": "production", "days": 30, "from": "2026-10-27T14:15:00.000Z",
           "to": "2026-11-26T14:15:00.000Z", "deployments_per_week": 0.47,
           "summary": busy, "weeks": [first, second]})
}
