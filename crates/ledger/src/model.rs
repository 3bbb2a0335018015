//! What goes into the ledger (commands, already validated) and what comes out (records).

use crate::analysis;
use crate::time::Timestamp;
use crate::types::{
    ApprovalState, ArtifactRef, ClusterName, CommitSha, Decision, DeploymentStatus, Digest,
    Environment, Subject, Version, WebUrl,
};
use serde::Serialize;

/// A release to record.
#[derive(Debug, Clone)]
pub struct NewRelease {
    pub version: Version,
    pub artifact: ArtifactRef,
    pub digest: Digest,
    pub commit: CommitSha,
    /// When the commit was made (its committer date), where the recorder knows it: lead time
    /// for changes is measured from here.
    pub commit_time: Option<Timestamp>,
    pub notes: String,
    /// The person a service account records it for (the tag's pusher, say): the four-eyes
    /// rule keeps them from deciding its approval.
    pub on_behalf_of: Option<Subject>,
}

/// A deployment event to record against a release.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub cluster: ClusterName,
    pub status: DeploymentStatus,
    pub message: Option<String>,
    pub execution_url: Option<WebUrl>,
    /// The analysis that ended a staged rollout's stage (`succeeded` or `failed` only).
    pub analysis: Option<analysis::Record>,
}

/// A decision on a pending approval.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub decision: Decision,
    pub comment: String,
}

/// A release: one OCI artifact, identified by its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    #[cfg_attr(feature = "openapi", schema(example = "1.4.0"))]
    pub version: Version,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "ghcr.io/acme/automatizacion:1.4.0")
    )]
    pub artifact: ArtifactRef,
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )
    )]
    pub digest: Digest,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "0123456789abcdef0123456789abcdef01234567")
    )]
    pub commit: CommitSha,
    /// When the commit was made, if the recorder said.
    pub commit_time: Option<Timestamp>,
    pub notes: String,
    pub created_by: Subject,
    /// Who `created_by` (a service account) acted for, in canonical form.
    #[cfg_attr(feature = "openapi", schema(example = "alice"))]
    pub on_behalf_of: Option<Subject>,
    pub created_at: Timestamp,
}

/// One deployment event of a release on a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deployment {
    pub id: i64,
    pub version: Version,
    pub cluster: ClusterName,
    pub environment: Environment,
    pub status: DeploymentStatus,
    pub message: Option<String>,
    pub execution_url: Option<WebUrl>,
    pub recorded_by: Subject,
    pub recorded_at: Timestamp,
    /// What ended a staged rollout's stage on this cluster, when Prometheus judged it.
    pub analysis: Option<analysis::Record>,
}

/// The production approval of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub version: Version,
    pub state: ApprovalState,
    pub requested_by: Subject,
    /// Who `requested_by` (a service account) acted for, in canonical form.
    pub on_behalf_of: Option<Subject>,
    pub requested_at: Timestamp,
    pub decided_by: Option<Subject>,
    pub decided_at: Option<Timestamp>,
    pub comment: Option<String>,
}

/// A release with its deployment timeline (oldest first) and its approval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: Release,
    pub deployments: Vec<Deployment>,
    pub approval: Option<Approval>,
    /// The release recorded just before this one, which it replaces: what a diff of the
    /// changes starts from. `null` for the first release.
    pub previous: Option<ReleaseRef>,
}

/// A release named by its version and the commit it was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseRef {
    #[cfg_attr(feature = "openapi", schema(example = "1.3.2"))]
    pub version: Version,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "fedcba9876543210fedcba9876543210fedcba98")
    )]
    pub commit: CommitSha,
}

/// The release a cluster runs now: its latest succeeded deployment not since rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrentRelease {
    pub version: Version,
    pub artifact: ArtifactRef,
    pub digest: Digest,
    pub succeeded_at: Timestamp,
}

/// The most recent deployment event on a cluster, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastEvent {
    pub version: Version,
    pub status: DeploymentStatus,
    pub message: Option<String>,
    pub at: Timestamp,
}

/// A configured cluster, what the ledger says runs there, and what was seen running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterStatus {
    pub name: ClusterName,
    pub environment: Environment,
    pub current: Option<CurrentRelease>,
    pub last_event: Option<LastEvent>,
    /// The latest observer's report (the one made last), if anyone reports on this cluster.
    pub observed: Option<Observation>,
    /// The release being rolled out there (its latest event is `started`), when the report
    /// already shows its digest: a rollout under way, not drift.
    #[cfg_attr(feature = "openapi", schema(example = "1.5.0"))]
    pub rolling_out: Option<Version>,
    /// How the report differs from `current` (or that it is too old); `null` when it agrees
    /// or shows the release being rolled out.
    pub drift: Option<Drift>,
}

impl ClusterStatus {
    /// Whether the cluster was last seen running a digest that is neither its current
    /// release's nor the one being rolled out there, however old the report.
    pub fn runs_unexpected(&self) -> bool {
        self.observed.as_ref().is_some_and(|observed| {
            self.rolling_out.is_none()
                && self
                    .current
                    .as_ref()
                    .is_none_or(|c| c.digest != observed.digest)
        })
    }
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: i64,
    pub at: Timestamp,
    pub actor: Subject,
    /// Who the actor (a service account) acted for, in canonical form.
    pub on_behalf_of: Option<Subject>,
    #[cfg_attr(feature = "openapi", schema(example = "approval.decided"))]
    pub action: String,
    #[cfg_attr(feature = "openapi", schema(example = "release/1.4.0"))]
    pub target: String,
    pub request_id: String,
    pub detail: Option<String>,
}

/// A page of a list, newest first. Pass `next_cursor` as `cursor` to get the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Which page to read: at most `limit` items older than the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub before_id: Option<i64>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;
}

/// Counts for the Prometheus gauges, read from storage on every scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub releases: i64,
    /// Every approval state, with zero where there are none.
    pub approvals: Vec<(ApprovalState, i64)>,
    /// (cluster, status, count) for each pair that has events.
    pub deployments: Vec<(ClusterName, DeploymentStatus, i64)>,
    /// (cluster, environment, version) of what each configured cluster runs now.
    pub current: Vec<(ClusterName, Environment, Version)>,
    /// Each observed cluster, whether it drifts (runs another digest), and when its latest
    /// observation was made.
    pub observed: Vec<(ClusterName, bool, Timestamp)>,
    /// The newest release (by creation) whose approval is approved: what production should run.
    pub newest_approved: Option<Version>,
    /// When the oldest still-pending approval was requested.
    pub oldest_pending_since: Option<Timestamp>,
}

/// A report of what a cluster runs, as the observer saw it.
#[derive(Debug, Clone)]
pub struct NewObservation {
    pub digest: Digest,
    pub observed_at: Timestamp,
    /// Where it was read, e.g. `karmada:resourcebinding/automatizacion/backend-spinapp`.
    pub source: String,
}

/// A cluster's latest observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Observation {
    pub digest: Digest,
    /// The release recorded with this digest (the newest, if several), when there is one.
    pub version: Option<Version>,
    pub observed_at: Timestamp,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The cluster runs another digest than its current release's.
    UnexpectedDigest,
    /// The latest observation is too old to say.
    NotObserved,
}

/// How a cluster differs from the ledger, in words fit for a console and an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drift {
    pub kind: DriftKind,
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "prod-west runs sha256:ab12cd34ef56… (unknown to the ledger), expected 1.4.0 (sha256:cd34ef56ab12…)"
        )
    )]
    pub summary: String,
}
