//! The ledger API, as the pipeline uses it: typed requests in, typed records out. Reads and the
//! release record (idempotent by digest) are retried with back-off when nothing answers or the
//! server fails (5xx); other writes are sent once, so a step never records twice.

use crate::answers::{Approval, Cluster, Release, ReleaseDetail};
use crate::failure::Failure;
use ledger::Timestamp;
use ledger::types::{
    ArtifactRef, ClusterName, CommitSha, Decision, DeploymentStatus, Digest, Subject, Version,
    WebUrl,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// The body of `POST /api/clusters/{name}/observations`.
#[derive(Debug, Serialize)]
pub struct Seen {
    pub digest: Digest,
    pub observed_at: Timestamp,
    pub source: String,
}

/// The body of `POST /api/releases`.
#[derive(Debug, Serialize)]
pub struct NewRelease<'a> {
    pub version: &'a Version,
    pub artifact: &'a ArtifactRef,
    pub digest: &'a Digest,
    pub commit: &'a CommitSha,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<Timestamp>,
    pub notes: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<&'a Subject>,
}

/// The body of `POST /api/releases/{version}/deployments`.
#[derive(Debug, Serialize)]
pub struct NewEvent<'a> {
    pub cluster: &'a ClusterName,
    pub status: DeploymentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_url: Option<&'a WebUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<&'a ledger::analysis::Record>,
}

#[derive(Serialize)]
struct ApprovalRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    on_behalf_of: Option<&'a Subject>,
}

#[derive(Serialize)]
struct DecisionBody<'a> {
    decision: Decision,
    comment: &'a str,
}

/// The ledger's HTTP API, with the caller's token (from `LEDGER_TOKEN`).
pub struct LedgerClient {
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

impl LedgerClient {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, Failure> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::Invalid(format!(
                "--ledger {base:?} is not an http(s) URL"
            )));
        }
        Ok(LedgerClient {
            base: base.to_owned(),
            token: token.filter(|t| !t.trim().is_empty()),
            agent: agent(Duration::from_secs(30)),
        })
    }

    /// The token a write needs, or a refusal before anything is sent.
    fn require_token(&self) -> Result<(), Failure> {
        match self.token {
            Some(_) => Ok(()),
            None => Err(Failure::Invalid("no ledger token: set LEDGER_TOKEN".into())),
        }
    }

    /// The subject of the caller's own token, in canonical form: who the ledger will see.
    pub fn caller(&self) -> Result<Subject, Failure> {
        use base64::Engine;
        let unreadable = || Failure::Invalid("LEDGER_TOKEN is not a JWT".into());
        let token = self.token.as_deref().ok_or_else(unreadable)?;
        let payload = token.split('.').nth(1).ok_or_else(unreadable)?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| unreadable())?;
        let claims: Value = serde_json::from_slice(&json).map_err(|_| unreadable())?;
        Ok(Subject::parse(claims["sub"].as_str().unwrap_or(""))?)
    }

    /// One exchange; `Ok` for a 2xx answer with its JSON body.
    fn once(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let auth = self.token.as_deref().map(|t| format!("Bearer {t}"));
        let response = match body {
            None => {
                let mut request = self.agent.get(&url).header("accept", "application/json");
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                request.call()
            }
            Some(body) => {
                let mut request = self.agent.post(&url).header("accept", "application/json");
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                request.send_json(body)
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
    fn retried(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let mut pause = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            match self.once(method, path, body.clone()) {
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

    pub fn record_release(&self, release: &NewRelease) -> Result<Release, Failure> {
        self.require_token()?;
        let body = to_json(release);
        record(self.retried("POST", "/api/releases", Some(body))?)
    }

    pub fn record_deployment(&self, version: &Version, event: &NewEvent) -> Result<(), Failure> {
        self.require_token()?;
        let path = format!("/api/releases/{version}/deployments");
        self.once("POST", &path, Some(to_json(event))).map(|_| ())
    }

    pub fn request_approval(
        &self,
        version: &Version,
        on_behalf_of: Option<&Subject>,
    ) -> Result<Approval, Failure> {
        self.require_token()?;
        let path = format!("/api/releases/{version}/approval");
        let body = to_json(&ApprovalRequest { on_behalf_of });
        record(self.once("POST", &path, Some(body))?)
    }

    pub fn decide(
        &self,
        version: &Version,
        decision: Decision,
        comment: &str,
    ) -> Result<Approval, Failure> {
        self.require_token()?;
        let path = format!("/api/releases/{version}/approval/decision");
        let body = to_json(&DecisionBody { decision, comment });
        record(self.once("POST", &path, Some(body))?)
    }

    /// The release, or `None` when the ledger has no such version.
    pub fn find_release(&self, version: &Version) -> Result<Option<ReleaseDetail>, Failure> {
        match self.retried("GET", &format!("/api/releases/{version}"), None) {
            Ok(value) => record(value).map(Some),
            Err(Failure::Refused { status: 404, .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    pub fn release(&self, version: &Version) -> Result<ReleaseDetail, Failure> {
        record(self.retried("GET", &format!("/api/releases/{version}"), None)?)
    }

    /// A read's JSON as the ledger answered it.
    pub fn get(&self, path: &str) -> Result<Value, Failure> {
        self.retried("GET", path, None)
    }

    pub fn clusters(&self) -> Result<Vec<Cluster>, Failure> {
        record(self.retried("GET", "/api/clusters", None)?)
    }

    /// Reports what CLUSTER was seen running; the answer is its status, with any drift.
    pub fn observe(&self, cluster: &ClusterName, seen: &Seen) -> Result<Cluster, Failure> {
        self.require_token()?;
        let path = format!("/api/clusters/{cluster}/observations");
        record(self.once("POST", &path, Some(to_json(seen)))?)
    }
}

fn to_json(value: &impl Serialize) -> Value {
    // The bodies hold only strings of validated types: serialising them cannot fail.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// An answer read as the record it should be; anything else is a ledger this tool cannot trust.
fn record<T: DeserializeOwned>(value: Value) -> Result<T, Failure> {
    serde_json::from_value(value).map_err(|e| {
        Failure::Unreachable(format!("the ledger's answer is not what it should be: {e}"))
    })
}
