//! The ledger's answers as relctl reads them: one record per schema of the API's OpenAPI
//! document, read into the ledger's validated types, so that an answer that is not what the API
//! documents fails with one line instead of a step acting on half a record. The pipeline's
//! steps (`ledger_client`) and the tables (`reads`) read the same records, and
//! `testing/repo-checks/tests/records.rs` holds them to the document.

use ledger::types::{
    ApprovalState, ArtifactRef, ClusterName, CommitSha, DeploymentStatus, Digest, Environment,
    Subject, Version,
};
use serde::Deserialize;

/// A release (`Release`): what `POST /api/releases` answers and every list holds.
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    pub version: Version,
    pub artifact: ArtifactRef,
    pub digest: Digest,
    pub commit: CommitSha,
    pub commit_time: Option<String>,
    pub notes: String,
    pub created_by: Subject,
    /// Who `created_by` (a service account) acted for.
    pub on_behalf_of: Option<Subject>,
    pub created_at: String,
}

/// `GET /api/releases/{version}` (`ReleaseDetail`): the release, its deployments and approval.
#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: Release,
    /// Oldest first.
    pub deployments: Vec<Deployment>,
    pub approval: Option<Approval>,
}

/// A release's detail reads as the release it describes.
impl std::ops::Deref for ReleaseDetail {
    type Target = Release;

    fn deref(&self) -> &Release {
        &self.release
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub cluster: ClusterName,
    pub environment: Environment,
    pub status: DeploymentStatus,
    pub message: Option<String>,
    pub recorded_by: Subject,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Approval {
    pub version: Version,
    pub state: ApprovalState,
    pub requested_by: Subject,
    pub on_behalf_of: Option<Subject>,
    pub requested_at: String,
    pub decided_by: Option<Subject>,
    pub decided_at: Option<String>,
    pub comment: Option<String>,
}

/// A configured cluster and what it runs now (`ClusterStatus`).
#[derive(Debug, Clone, Deserialize)]
pub struct Cluster {
    pub name: ClusterName,
    pub environment: Environment,
    pub current: Option<Current>,
    pub last_event: Option<LastEvent>,
    /// The release being rolled out there, when the cluster is already seen running it.
    pub rolling_out: Option<Version>,
    /// How what the cluster was last seen running differs from `current`.
    pub drift: Option<Drift>,
}

/// What a cluster runs now, by the ledger's record (`CurrentRelease`).
#[derive(Debug, Clone, Deserialize)]
pub struct Current {
    pub version: Version,
    pub artifact: ArtifactRef,
    pub digest: Digest,
    pub succeeded_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastEvent {
    pub version: Version,
    pub status: DeploymentStatus,
    pub at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Drift {
    pub summary: String,
}
