//! The command line: one subcommand per pipeline step. The Kestra flow and the Rundeck jobs
//! call these, and a test parses every call they make against these definitions.
//!
//! Values are parsed into the ledger's own validated types here, at the edge, so a bad version
//! or digest stops the step before anything is sent. Credentials never appear here: they come
//! from the environment only (`LEDGER_TOKEN`, `KESTRA_USER`, …), where `ps` cannot see them.

use clap::{Parser, Subcommand, ValueEnum};
use ledger::types::{
    ArtifactRef, ClusterName, CommitSha, Decision, DeploymentStatus, Digest, Subject, Version,
    WebUrl,
};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "relctl",
    version,
    about = "Every step of a release, one command each: the ledger, the build, Karmada, Kestra."
)]
pub struct Cli {
    /// The ledger API's base URL.
    #[arg(
        long,
        env = "LEDGER_URL",
        global = true,
        default_value = "http://127.0.0.1:3000"
    )]
    pub ledger: String,
    #[command(subcommand)]
    pub command: Command,
}

fn version(text: &str) -> Result<Version, String> {
    Version::parse(text).map_err(|e| e.0)
}
fn digest(text: &str) -> Result<Digest, String> {
    Digest::parse(text).map_err(|e| e.0)
}
fn commit(text: &str) -> Result<CommitSha, String> {
    CommitSha::parse(text).map_err(|e| e.0)
}
fn artifact(text: &str) -> Result<ArtifactRef, String> {
    ArtifactRef::parse(text).map_err(|e| e.0)
}
fn cluster(text: &str) -> Result<ClusterName, String> {
    ClusterName::parse(text).map_err(|e| e.0)
}
fn subject(text: &str) -> Result<Subject, String> {
    Subject::parse(text).map_err(|e| e.0)
}
fn web_url(text: &str) -> Result<WebUrl, String> {
    WebUrl::parse(text).map_err(|e| e.0)
}
fn status(text: &str) -> Result<DeploymentStatus, String> {
    DeploymentStatus::parse(text).map_err(|e| e.0)
}
fn decision(text: &str) -> Result<Decision, String> {
    Decision::parse(text).map_err(|e| e.0)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record a release. Recording the same digest again succeeds (the step can be retried).
    RecordRelease {
        #[arg(long, value_parser = version)]
        version: Version,
        /// Where the artifact was pushed, e.g. registry.example.com/acme/automatizacion:1.4.0.
        #[arg(long, value_parser = artifact)]
        artifact: ArtifactRef,
        /// sha256:… as the registry reported it.
        #[arg(long, value_parser = digest)]
        digest: Digest,
        #[arg(long, value_parser = commit)]
        commit: CommitSha,
        #[arg(long, default_value = "")]
        notes: String,
        /// The person this release is recorded for (the tag's pusher): they cannot approve it.
        #[arg(long, value_parser = subject)]
        on_behalf_of: Option<Subject>,
    },
    /// Record a deployment event of a release on a cluster.
    RecordDeployment {
        #[arg(long, value_parser = version)]
        version: Version,
        #[arg(long, value_parser = cluster)]
        cluster: ClusterName,
        /// started, succeeded, failed or rolled_back.
        #[arg(long, value_parser = status)]
        status: DeploymentStatus,
        #[arg(long)]
        message: Option<String>,
        /// The pipeline execution's page.
        #[arg(long, value_parser = web_url)]
        execution_url: Option<WebUrl>,
    },
    /// Request the production approval of a release (it needs a staging success). Prints the
    /// approval's state; a release that already has one prints its state (the step can be
    /// run again).
    RequestApproval {
        #[arg(long, value_parser = version)]
        version: Version,
        /// The person the approval is requested for: they cannot decide it.
        #[arg(long, value_parser = subject)]
        on_behalf_of: Option<Subject>,
    },
    /// Approve or reject a pending approval, as the token's subject. Deciding again what the
    /// same subject already decided the same way succeeds (the Rundeck job can be re-run).
    Decide {
        #[arg(long, value_parser = version)]
        version: Version,
        /// approve or reject.
        #[arg(long, value_parser = decision)]
        decision: Decision,
        #[arg(long)]
        comment: String,
    },
    /// Print a release's approval state: none, pending, approved or rejected.
    ApprovalState {
        #[arg(long, value_parser = version)]
        version: Version,
    },
    /// Print a release's recorded artifact and digest, as `repository@digest`.
    ReleaseArtifact {
        #[arg(long, value_parser = version)]
        version: Version,
    },
    /// Print what a cluster runs now (its latest succeeded deployment not rolled back).
    CurrentRelease {
        #[arg(long, value_parser = cluster)]
        cluster: ClusterName,
        #[arg(long, value_enum, default_value = "digest")]
        field: CurrentField,
    },
    /// Build the app and push it as VERSION, printing the pushed digest; or, when the ledger
    /// already holds VERSION from this commit, print its recorded digest and push nothing.
    BuildAndPush {
        #[arg(long, value_parser = version)]
        version: Version,
        /// The commit being built (`git rev-parse HEAD`): a version means one commit.
        #[arg(long, value_parser = commit)]
        commit: CommitSha,
        /// The repository to push to, without tag: the release is pushed as REPOSITORY:VERSION.
        #[arg(long, value_parser = artifact)]
        repository: ArtifactRef,
        /// Extra `spin registry push` flags, e.g. --insecure for a plain-HTTP registry.
        #[arg(long, allow_hyphen_values = true)]
        push_flag: Vec<String>,
    },
    /// Pin an image by digest in a kustomize overlay, as `kustomize edit set image` does.
    SetDigest {
        /// The overlay's directory (holding kustomization.yaml).
        #[arg(long)]
        overlay: PathBuf,
        /// The image name the overlay's `images:` entry carries.
        #[arg(long, default_value = IMAGE)]
        image: String,
        /// Where the artifact really is (`newName:`), e.g. the registry the pipeline pushed to.
        #[arg(long)]
        new_name: Option<String>,
        #[arg(long, value_parser = digest)]
        digest: Digest,
    },
    /// Deploy a release to an environment through Karmada, recording each step in the ledger;
    /// on failure, put the previous release back and record it.
    Deploy {
        #[arg(long, value_parser = version)]
        version: Version,
        /// staging or production: the overlay k8s/overlays/ENV, the workload karmada/workloads/ENV.
        #[arg(long, value_enum)]
        environment: EnvironmentName,
        #[arg(long, value_parser = digest)]
        digest: Digest,
        #[command(flatten)]
        target: Target,
        /// Where the artifact was pushed (the overlay's `newName:`).
        #[arg(long)]
        new_name: Option<String>,
        /// CLUSTER=URL: after Karmada says ready, `/api/info` there must show the version.
        #[arg(long)]
        smoke: Vec<String>,
        /// The pipeline execution's page, recorded with each event.
        #[arg(long, value_parser = web_url)]
        execution_url: Option<WebUrl>,
        /// Do nothing when the ledger says every cluster of the environment already runs this
        /// version with this digest (a re-run continues where the last run stopped).
        #[arg(long)]
        unless_current: bool,
    },
    /// Put an earlier release back on an environment (Rundeck's rollback-production): its own
    /// manifests at its recorded commit, its recorded digest, every step recorded as a deploy's.
    /// Production takes only a release that was approved for it.
    RollBack {
        #[arg(long, value_parser = version)]
        to_version: Version,
        #[arg(long, value_enum, default_value = "production")]
        environment: EnvironmentName,
        #[command(flatten)]
        target: Target,
        #[arg(long, value_parser = web_url)]
        execution_url: Option<WebUrl>,
    },
    /// Wait until Karmada's aggregated status says every SpinApp of a namespace is ready
    /// (ready replicas reach the desired count, every cluster's Available condition True).
    WaitReady {
        /// The Karmada API server's kubeconfig.
        #[arg(long, env = "KARMADA_KUBECONFIG")]
        kubeconfig: PathBuf,
        #[arg(long)]
        context: Option<String>,
        #[arg(long)]
        namespace: String,
        /// Wait only until every SpinApp runs this digest as well.
        #[arg(long, value_parser = digest)]
        digest: Option<Digest>,
        /// Seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Read `spin registry push` output on stdin and print the pushed digest.
    PushDigest,
    /// Check a deployed instance: `/api/info` must name the cluster and the version.
    Smoke {
        /// The instance's base URL.
        #[arg(long)]
        url: String,
        #[arg(long, value_parser = cluster)]
        cluster: ClusterName,
        #[arg(long, value_parser = version)]
        version: Version,
        /// Seconds to keep trying while the instance starts.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Resume a paused Kestra execution (Kestra 2.0: `POST …/executions/{id}/actions/resume`).
    /// Credentials come from the environment: KESTRA_USER and KESTRA_PASSWORD (OSS, HTTP
    /// Basic), or KESTRA_API_TOKEN (Enterprise).
    ResumeKestra {
        /// Kestra's base URL.
        #[arg(long, env = "KESTRA_URL")]
        url: String,
        #[arg(long, default_value = "main")]
        tenant: String,
        #[arg(long)]
        execution: String,
    },
    /// Mint a short-lived ledger token for a person or a pipeline. With a PEM private key
    /// (Ed25519 or RSA) it signs EdDSA or RS256 for ISSUER; with an HMAC key, HS256.
    Token {
        #[arg(long)]
        sub: String,
        #[arg(long, required = true)]
        role: Vec<String>,
        #[arg(long, default_value = "10m")]
        ttl: String,
        /// The signing key's file; else SPIN_VARIABLE_AUTH_HMAC_KEY (HS256).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// The token's issuer; else SPIN_VARIABLE_AUTH_ISSUER, else the ledger's default.
        #[arg(long)]
        iss: Option<String>,
        /// The key id a JWKS names the key by.
        #[arg(long)]
        kid: Option<String>,
    },
}

/// The image name the overlays pin (k8s/overlays/*/kustomization.yaml).
pub const IMAGE: &str = "ghcr.io/acme/automatizacion";

/// Where the deploy and roll-back steps act: a checkout and the Karmada API server.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The checkout holding k8s/ and karmada/.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    #[arg(long, default_value = IMAGE)]
    pub image: String,
    /// The Karmada API server's kubeconfig.
    #[arg(long, env = "KARMADA_KUBECONFIG")]
    pub kubeconfig: PathBuf,
    /// Seconds to wait for Karmada's readiness and each smoke check.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// The environments that have an overlay and a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvironmentName {
    Staging,
    Production,
}

impl EnvironmentName {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentName::Staging => "staging",
            EnvironmentName::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CurrentField {
    Version,
    Digest,
    Artifact,
}
