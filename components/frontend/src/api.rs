//! The backend's JSON, as far as the console reads it. The console depends on the public API,
//! not on the ledger crate: it keeps only the fields it shows, and ignores the rest.

use serde::Deserialize;

/// `GET /api/overview`: the overview's data in one answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Overview {
    pub info: Info,
    pub clusters: Vec<ClusterStatus>,
    pub pending_approvals: Page<Approval>,
    pub releases: Page<Release>,
}

/// `GET /api/info`.
#[derive(Debug, Clone, Deserialize)]
pub struct Info {
    pub version: String,
    pub cluster_name: String,
    pub region: String,
}

/// A page of a list, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    pub version: String,
    pub artifact: String,
    pub digest: String,
    pub commit: String,
    pub notes: String,
    pub created_by: String,
    /// Who `created_by` (a service account) acted for.
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    pub created_at: String,
}

/// `GET /api/releases/{version}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: Release,
    /// Oldest first.
    pub deployments: Vec<Deployment>,
    pub approval: Option<Approval>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub cluster: String,
    pub environment: String,
    pub status: String,
    pub message: Option<String>,
    pub execution_url: Option<String>,
    pub recorded_by: String,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Approval {
    pub version: String,
    pub state: String,
    pub requested_by: String,
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub comment: Option<String>,
}

/// One entry of `GET /api/clusters`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterStatus {
    pub name: String,
    pub environment: String,
    pub current: Option<CurrentRelease>,
    pub last_event: Option<LastEvent>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CurrentRelease {
    pub version: String,
    pub succeeded_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastEvent {
    pub version: String,
    pub status: String,
    pub message: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuditEvent {
    pub at: String,
    pub actor: String,
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub target: String,
    pub request_id: String,
    pub detail: Option<String>,
}
