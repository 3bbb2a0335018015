//! The command line: one subcommand per pipeline step. The Kestra flow and the Rundeck jobs
//! call these, and a test parses every call they make against these definitions.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "relctl",
    version,
    about = "Every step of a release, one command each: the ledger, the overlays, Karmada, the registry, Kestra."
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
    /// A bearer token for the ledger (a deployer's to record, an approver's to decide).
    #[arg(long, env = "LEDGER_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record a release. Recording the same digest again succeeds (the step can be retried).
    RecordRelease {
        #[arg(long)]
        version: String,
        /// Where the artifact was pushed, e.g. registry.example.com/acme/automatizacion:1.4.0.
        #[arg(long)]
        artifact: String,
        /// sha256:… as the registry reported it.
        #[arg(long)]
        digest: String,
        #[arg(long)]
        commit: String,
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// Record a deployment event of a release on a cluster.
    RecordDeployment {
        #[arg(long)]
        version: String,
        #[arg(long)]
        cluster: String,
        #[arg(long, value_enum)]
        status: DeploymentStatus,
        #[arg(long)]
        message: Option<String>,
        /// The pipeline execution's page.
        #[arg(long)]
        execution_url: Option<String>,
    },
    /// Request the production approval of a release (it needs a staging success).
    RequestApproval {
        #[arg(long)]
        version: String,
    },
    /// Approve or reject a pending approval, as the token's subject.
    Decide {
        #[arg(long)]
        version: String,
        #[arg(long, value_enum)]
        decision: Decision,
        #[arg(long)]
        comment: String,
    },
    /// Print a release's approval state: none, pending, approved or rejected.
    ApprovalState {
        #[arg(long)]
        version: String,
    },
    /// Print a release's recorded artifact and digest, as `artifact@digest`.
    ReleaseArtifact {
        #[arg(long)]
        version: String,
    },
    /// Print what a cluster runs now (its latest succeeded deployment not rolled back).
    CurrentRelease {
        #[arg(long)]
        cluster: String,
        #[arg(long, value_enum, default_value = "digest")]
        field: CurrentField,
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
        #[arg(long)]
        digest: String,
    },
    /// Deploy a release to an environment through Karmada, recording each step in the ledger;
    /// on failure, put the previous release back and record it.
    Deploy {
        #[arg(long)]
        version: String,
        /// staging or production: the overlay k8s/overlays/ENV, the workload karmada/workloads/ENV.
        #[arg(long)]
        environment: String,
        #[arg(long)]
        digest: String,
        #[command(flatten)]
        target: Target,
        /// Where the artifact was pushed (the overlay's `newName:`).
        #[arg(long)]
        new_name: Option<String>,
        /// CLUSTER=URL: after Karmada says ready, `/api/info` there must show the version.
        #[arg(long)]
        smoke: Vec<String>,
        /// The pipeline execution's page, recorded with each event.
        #[arg(long)]
        execution_url: Option<String>,
    },
    /// Put an earlier release back on an environment by its recorded digest (Rundeck's
    /// rollback-production).
    RollBack {
        #[arg(long)]
        to_version: String,
        #[arg(long, default_value = "production")]
        environment: String,
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        execution_url: Option<String>,
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
        #[arg(long)]
        digest: Option<String>,
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
        #[arg(long)]
        cluster: String,
        #[arg(long)]
        version: String,
        /// Seconds to keep trying while the instance starts.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Resume a paused Kestra execution (Kestra's API, `POST …/executions/{id}/resume`).
    ResumeKestra {
        /// Kestra's base URL.
        #[arg(long, env = "KESTRA_URL")]
        url: String,
        #[arg(long, default_value = "main")]
        tenant: String,
        #[arg(long)]
        execution: String,
        /// A Kestra API token (else KESTRA_USER and KESTRA_PASSWORD, basic auth).
        #[arg(long, env = "KESTRA_TOKEN", hide_env_values = true)]
        kestra_token: Option<String>,
    },
    /// Mint a short-lived ledger token for a person (Rundeck: the user who runs the job).
    Token {
        #[arg(long)]
        sub: String,
        #[arg(long, required = true)]
        role: Vec<String>,
        #[arg(long, default_value = "10m")]
        ttl: String,
        /// The HMAC key's file; else SPIN_VARIABLE_AUTH_HMAC_KEY.
        #[arg(long)]
        key_file: Option<PathBuf>,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeploymentStatus {
    Started,
    Succeeded,
    Failed,
    #[value(name = "rolled_back")]
    RolledBack,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Started => "started",
            DeploymentStatus::Succeeded => "succeeded",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::RolledBack => "rolled_back",
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CurrentField {
    Version,
    Digest,
    Artifact,
}
