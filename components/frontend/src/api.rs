//! The backend's JSON, as far as the console reads it. The console reads the public API's
//! records, not the ledger's types: it keeps only the fields it shows, and ignores the rest. (It
//! uses the ledger crate for time alone: `ledger::time`, see `crate::time`.)

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
    /// The release recorded just before, which this one replaces.
    #[serde(default)]
    pub previous: Option<ReleaseRef>,
}

/// A release named by its version and commit.
#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseRef {
    pub version: String,
    pub commit: String,
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
    pub analysis: Option<Analysis>,
}

/// The analysis that ended a stage of a staged rollout (`AnalysisRecord`'s parts shown).
#[derive(Debug, Clone, Deserialize)]
pub struct Analysis {
    pub verdict: String,
    pub reasons: Vec<String>,
    pub window_seconds: u64,
    pub before: Figures,
    pub after: Figures,
    pub links: Vec<String>,
}

/// What the backend answered over one window of an analysis.
#[derive(Debug, Clone, Deserialize)]
pub struct Figures {
    pub requests: f64,
    pub errors: f64,
    pub p99_seconds: Option<f64>,
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
    /// The release being rolled out there, when the cluster is already seen running it.
    #[serde(default)]
    pub rolling_out: Option<String>,
    /// How what the cluster was seen running differs from `current`.
    #[serde(default)]
    pub drift: Option<Drift>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Drift {
    /// `unexpected_digest` or `not_observed`.
    pub kind: String,
    pub summary: String,
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

/// `GET /api/insights`: DORA's four keys over a window and per week.
#[derive(Debug, Clone, Deserialize)]
pub struct Insights {
    pub environment: String,
    pub days: u32,
    pub deployments_per_week: Option<f64>,
    pub summary: Keys,
    pub weeks: Vec<Week>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Week {
    /// Monday 00:00 UTC, RFC 3339.
    pub starts: String,
    #[serde(flatten)]
    pub keys: Keys,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Keys {
    pub deployments: i64,
    pub lead_time_from_commit: Option<Spread>,
    pub lead_time_from_recording: Option<Spread>,
    pub change_failure_rate: Option<FailureRate>,
    pub time_to_restore: Option<Restore>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Spread {
    pub count: i64,
    pub median_seconds: i64,
    pub p90_seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FailureRate {
    pub failed: i64,
    pub rollouts: i64,
    pub rate: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Restore {
    pub restored: i64,
    pub unrestored: i64,
    pub median_seconds: Option<i64>,
    pub worst_seconds: Option<i64>,
}
