//! The ledger API, as the pipeline uses it. Reads and the release record (idempotent by digest)
//! are retried with back-off when nothing answers or the server fails (5xx); other writes are
//! sent once, so a step never records twice.

use crate::failure::Failure;
use serde_json::{Value, json};
use std::time::Duration;

pub struct Ledger {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// How often and how long a retried call tries: 4 attempts, 0.5 s, 1 s, 2 s apart.
const ATTEMPTS: u32 = 4;

pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

impl Ledger {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, Failure> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::Invalid(format!(
                "--ledger {base:?} is not an http(s) URL"
            )));
        }
        Ok(Ledger {
            base: base.to_owned(),
            token,
            agent: agent(Duration::from_secs(30)),
        })
    }

    fn token(&self) -> Result<&str, Failure> {
        self.token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Failure::Invalid("no ledger token: pass --token or set LEDGER_TOKEN".into())
            })
    }

    /// One exchange; `Ok` for a 2xx answer with its JSON body.
    fn once(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let auth = self.token.as_deref().map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => {
                let mut request = self.agent.get(&url).header("accept", "application/json");
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                request.call()
            }
            (_, body) => {
                let mut request = self.agent.post(&url).header("accept", "application/json");
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                request.send_json(body.cloned().unwrap_or_else(|| json!({})))
            }
        };
        let mut response = response.map_err(|e| {
            Failure::Unreachable(format!("cannot reach the ledger at {}: {e}", self.base))
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let reason = value["detail"]
            .as_str()
            .or(value["title"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{method} {path} answered {status}"));
        Err(Failure::Refused { status, reason })
    }

    /// `once`, again after a pause while nothing answers or the server fails.
    fn retried(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let mut pause = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            match self.once(method, path, body) {
                Err(Failure::Unreachable(_) | Failure::Refused { status: 500.., .. })
                    if attempt < ATTEMPTS =>
                {
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                outcome => return outcome,
            }
        }
        unreachable!("the last attempt returns")
    }

    pub fn record_release(&self, release: &Value) -> Result<Value, Failure> {
        self.token()?;
        self.retried("POST", "/api/releases", Some(release))
    }

    pub fn record_deployment(&self, version: &str, event: &Value) -> Result<Value, Failure> {
        self.token()?;
        self.once(
            "POST",
            &format!("/api/releases/{version}/deployments"),
            Some(event),
        )
    }

    pub fn request_approval(&self, version: &str) -> Result<Value, Failure> {
        self.token()?;
        self.once("POST", &format!("/api/releases/{version}/approval"), None)
    }

    pub fn decide(&self, version: &str, decision: &Value) -> Result<Value, Failure> {
        self.token()?;
        self.once(
            "POST",
            &format!("/api/releases/{version}/approval/decision"),
            Some(decision),
        )
    }

    pub fn release(&self, version: &str) -> Result<Value, Failure> {
        self.retried("GET", &format!("/api/releases/{version}"), None)
    }

    pub fn clusters(&self) -> Result<Value, Failure> {
        self.retried("GET", "/api/clusters", None)
    }
}
