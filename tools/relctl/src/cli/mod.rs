//! The command line: one subcommand per pipeline step. The Kestra flow and the Rundeck jobs
//! call these, and a test parses every call they make against these definitions.
//!
//! Values are parsed into the ledger's own validated types here, at the edge, so a bad version
//! or digest stops the step before anything is sent. Credentials never appear here: they come
//! from the environment only (`LEDGER_TOKEN`, `KESTRA_USER`, …), where `ps` cannot see them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ledger::Timestamp;
use ledger::analysis::Limits;
use ledger::filters::{ApprovalFilter, VersionPrefix};
use ledger::types::{
    ApprovalState, ArtifactRef, ClusterName, CommitSha, Decision, DeploymentStatus, Digest,
    FromText, Subject, Version, WebUrl,
};
use std::path::PathBuf;

mod reads;
pub use reads::*;

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

/// Parses an argument into one of the ledger's validated types, with its one-line reason.
fn parsed<T: FromText>(text: &str) -> Result<T, String> {
    T::from_text(text).map_err(|e| e.0)
}

/// Cluster names, comma-separated; an empty text (an unset Kestra setting) is none.
#[derive(Debug, Clone, Default)]
pub struct ClusterList(pub Vec<ClusterName>);

fn cluster_list(text: &str) -> Result<ClusterList, String> {
    let names = text.split(',').filter(|name| !name.trim().is_empty());
    names
        .map(|name| parsed::<ClusterName>(name.trim()))
        .collect::<Result<_, _>>()
        .map(ClusterList)
}

fn rfc3339(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text).ok_or_else(|| {
        "expected an RFC 3339 date-time with an offset, like 2026-12-01T09:30:00+01:00".into()
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record a release. Recording the same digest again succeeds (the step can be retried).
    RecordRelease(RecordRelease),
    /// Record a deployment event of a release on a cluster.
    RecordDeployment(RecordDeployment),
    /// Request the production approval of a release (it needs a staging success). Prints the
    /// approval's state; a release that already has one prints its state (the step can be
    /// run again).
    RequestApproval(RequestApproval),
    /// Approve or reject a pending approval, as the token's subject. Deciding again what the
    /// same subject already decided the same way succeeds (the Rundeck job can be re-run).
    Decide(Decide),
    /// Print a release's approval state: none, pending, approved or rejected.
    ApprovalState(Release),
    /// Print a release's recorded artifact and digest, as `repository@digest`.
    ReleaseArtifact(Release),
    /// Print where and why a release last failed, from its newest `failed` event.
    StopReason(StopReason),
    /// Print what a cluster runs now (its latest succeeded deployment not rolled back).
    CurrentRelease(CurrentRelease),
    /// Build the app and push it as VERSION, printing the pushed digest; or, when the ledger
    /// already holds VERSION from this commit, print its recorded digest and push nothing.
    BuildAndPush(BuildAndPush),
    /// Pin an image by digest in a kustomize overlay, as `kustomize edit set image` does.
    SetDigest(SetDigest),
    /// Deploy a release to an environment through Karmada, recording each step in the ledger;
    /// on failure, put the previous release back and record it.
    Deploy(Deploy),
    /// Put an earlier release back on an environment (Rundeck's rollback-production): its own
    /// manifests at its recorded commit, its recorded digest, every step recorded as a deploy's.
    /// Production takes only a release that was approved for it.
    RollBack(RollBack),
    /// Wait until Karmada's aggregated status says every SpinApp of a namespace is ready
    /// (ready replicas reach the desired count, every cluster's Available condition True).
    WaitReady(WaitReady),
    /// Report to the ledger which digest each cluster runs, as Karmada's aggregated status of
    /// each SpinApp shows it (the member's own `spec.image`); the ledger compares it with the
    /// cluster's current release. Prints one line per cluster; the answer says any drift.
    Observe(Observe),
    /// Bring production back onto a cluster that application failover left, once its kept copy
    /// is healthy again and another cluster's copy is too: confirm the eviction and have Karmada
    /// divide the replicas by the policy's weights again. Prints one line per SpinApp moved.
    Failback(Failback),
    /// Read `spin registry push` output on stdin and print the pushed digest.
    PushDigest,
    /// Check a deployed instance: `/api/info` must name the cluster and the version.
    Smoke(Smoke),
    /// Judge a cluster that took a release at SINCE from its Prometheus: the app's error
    /// share and p99 over the window after SINCE, against the limits and against the window
    /// before it (the previous release). Waits until the window has passed. Prints the verdict;
    /// a failed analysis, or an inconclusive one (too little traffic) unless told to pass it,
    /// exits 1, and so does a Prometheus that cannot answer.
    Analyze(Analyze),
    /// Resume a release's Kestra execution at its Pause (Kestra 2.0: `POST …/executions/{id}/
    /// actions/resume`): only the release's own, after waiting for it to reach its Pause, and
    /// surviving Kestra's 504. Credentials come from the environment: KESTRA_USER and
    /// KESTRA_PASSWORD (OSS, HTTP Basic), or KESTRA_API_TOKEN (Enterprise).
    ResumeKestra(ResumeKestra),
    /// Mint a short-lived ledger token for a person or a pipeline. With a PEM private key
    /// (Ed25519 or RSA) it signs EdDSA or RS256 for ISSUER; with an HMAC key, HS256.
    Token(Token),
    /// Verify a tag's SSH signature against an allowed-signers file and print, as one line of
    /// JSON, its signer (the person behind the release) and its message (the release notes).
    /// An unsigned tag, an unknown signer or a bad signature fails with one line.
    VerifyTag(VerifyTag),
    /// List releases, newest first: a table, or the ledger's JSON with `--output json`.
    Releases(ListReleases),
    /// Show one release: artifact, commit, notes, approval and every deployment event.
    Release(ShowRelease),
    /// List the clusters: what each runs, its last event, a rollout under way or drift.
    Clusters(Shown),
    /// List approvals, newest first, optionally in one state.
    Approvals(ListApprovals),
    /// Print the completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions(Completions),
    /// Print relctl(1) in roff, or write it and a page per subcommand to --out-dir.
    Man(ManPages),
}

/// The arguments of `relctl verify-tag`.
#[derive(Debug, Args)]
pub struct VerifyTag {
    /// The tag, e.g. v1.4.0.
    #[arg(long)]
    pub tag: String,
    /// ssh-keygen's allowed signers format: `PRINCIPAL KEYTYPE KEY` per line, the principal as
    /// the ledger names the person (lowercase).
    #[arg(long)]
    pub allowed_signers: PathBuf,
    /// The checkout holding the tag.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// The arguments of `relctl observe`.
#[derive(Debug, Args)]
pub struct Observe {
    /// The Karmada API server's kubeconfig.
    #[arg(long, env = "KARMADA_KUBECONFIG")]
    pub kubeconfig: PathBuf,
    #[arg(long)]
    pub context: Option<String>,
    /// The namespaces of the app's SpinApps on the control plane (production's and staging's
    /// by default); give the flag once for each.
    #[arg(long = "namespace", default_values = ["automatizacion", "automatizacion-staging"])]
    pub namespaces: Vec<String>,
}

/// The arguments of `relctl failback`.
#[derive(Debug, Args)]
pub struct Failback {
    /// The Karmada API server's kubeconfig.
    #[arg(long, env = "KARMADA_KUBECONFIG")]
    pub kubeconfig: PathBuf,
    #[arg(long)]
    pub context: Option<String>,
    /// Production's namespace on the control plane.
    #[arg(long, default_value = "automatizacion")]
    pub namespace: String,
    /// Seconds to wait for Karmada to give up a confirmed copy.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Seconds between the two checks before a copy is given up: longer than Karmada takes to
    /// find a member unreachable (`--cluster-failure-threshold` 30 s, probes of up to 32 s).
    #[arg(long, default_value_t = 90)]
    pub settle: u64,
}

/// The arguments of `relctl record-release`.
#[derive(Debug, Args)]
pub struct RecordRelease {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// Where the artifact was pushed, e.g. registry.example.com/acme/automatizacion:1.4.0.
    #[arg(long, value_parser = parsed::<ArtifactRef>)]
    pub artifact: ArtifactRef,
    /// sha256:… as the registry reported it.
    #[arg(long, value_parser = parsed::<Digest>)]
    pub digest: Digest,
    #[arg(long, value_parser = parsed::<CommitSha>)]
    pub commit: CommitSha,
    /// When the commit was made (RFC 3339 with an offset); lead time for changes starts here.
    /// Left out, it is the commit's committer date (`git show -s --format=%cI`) when the
    /// repository here holds the commit, and otherwise not recorded.
    #[arg(long, value_parser = rfc3339)]
    pub commit_time: Option<Timestamp>,
    /// Release notes; may begin with `-` (a Markdown list).
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub notes: String,
    /// The person this release is recorded for (the tag's pusher): they cannot approve it.
    #[arg(long, value_parser = parsed::<Subject>)]
    pub on_behalf_of: Option<Subject>,
}

/// The arguments of `relctl record-deployment`.
#[derive(Debug, Args)]
pub struct RecordDeployment {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    #[arg(long, value_parser = parsed::<ClusterName>)]
    pub cluster: ClusterName,
    /// started, succeeded, failed or rolled_back.
    #[arg(long, value_parser = parsed::<DeploymentStatus>)]
    pub status: DeploymentStatus,
    #[arg(long, allow_hyphen_values = true)]
    pub message: Option<String>,
    /// The pipeline execution's page.
    #[arg(long, value_parser = parsed::<WebUrl>)]
    pub execution_url: Option<WebUrl>,
}

/// The arguments of `relctl request-approval`.
#[derive(Debug, Args)]
pub struct RequestApproval {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// The person the approval is requested for: they cannot decide it.
    #[arg(long, value_parser = parsed::<Subject>)]
    pub on_behalf_of: Option<Subject>,
}

/// The arguments of `relctl decide`.
#[derive(Debug, Args)]
pub struct Decide {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// approve or reject.
    #[arg(long, value_parser = parsed::<Decision>)]
    pub decision: Decision,
    /// Why; may begin with `-`.
    #[arg(long, allow_hyphen_values = true)]
    pub comment: String,
}

/// The arguments of `relctl current-release`.
#[derive(Debug, Args)]
pub struct CurrentRelease {
    #[arg(long, value_parser = parsed::<ClusterName>)]
    pub cluster: ClusterName,
    #[arg(long, value_enum, default_value = "digest")]
    pub field: CurrentField,
}

/// The arguments of `relctl build-and-push`.
#[derive(Debug, Args)]
pub struct BuildAndPush {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// The commit being built (`git rev-parse HEAD`): a version means one commit.
    #[arg(long, value_parser = parsed::<CommitSha>)]
    pub commit: CommitSha,
    /// The repository to push to, without tag: the release is pushed as REPOSITORY:VERSION.
    #[arg(long, value_parser = parsed::<ArtifactRef>)]
    pub repository: ArtifactRef,
    /// Extra `spin registry push` flags, e.g. --insecure for a plain-HTTP registry.
    #[arg(long, allow_hyphen_values = true)]
    pub push_flag: Vec<String>,
}

/// The arguments of `relctl set-digest`.
#[derive(Debug, Args)]
pub struct SetDigest {
    /// The overlay's directory (holding kustomization.yaml).
    #[arg(long)]
    pub overlay: PathBuf,
    /// The image name the overlay's `images:` entry carries.
    #[arg(long, default_value = IMAGE)]
    pub image: String,
    /// Where the artifact really is (`newName:`), e.g. the registry the pipeline pushed to.
    #[arg(long)]
    pub new_name: Option<String>,
    #[arg(long, value_parser = parsed::<Digest>)]
    pub digest: Digest,
}

/// The arguments of `relctl deploy`.
#[derive(Debug, Args)]
pub struct Deploy {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// staging or production: the overlay k8s/overlays/ENV, the workload karmada/workloads/ENV.
    #[arg(long, value_enum)]
    pub environment: EnvironmentName,
    #[arg(long, value_parser = parsed::<Digest>)]
    pub digest: Digest,
    #[command(flatten)]
    pub target: Target,
    /// Where the artifact was pushed (the overlay's `newName:`).
    #[arg(long)]
    pub new_name: Option<String>,
    /// CLUSTER=URL: after Karmada says ready, `/api/info` there must show the version.
    #[arg(long)]
    pub smoke: Vec<String>,
    /// The pipeline execution's page, recorded with each event.
    #[arg(long, value_parser = parsed::<WebUrl>)]
    pub execution_url: Option<WebUrl>,
    /// Do nothing when the ledger says every cluster of the environment already runs this
    /// version with this digest (a re-run continues where the last run stopped).
    #[arg(long)]
    pub unless_current: bool,
    /// The environment's clusters in the order they take the release, comma-separated; the
    /// first is the canary. Until its stage, a cluster keeps what it runs: the template keeps
    /// the previous release and Karmada's OverridePolicy `automatizacion-stages` moves each
    /// cluster whose stage has come. A cluster already running the release is not moved
    /// again. Empty: every cluster at once.
    #[arg(long, env = "STAGES", value_parser = cluster_list, default_value = "")]
    pub stages: ClusterList,
    /// CLUSTER=URL, comma-separated or repeated: the Prometheus that scrapes CLUSTER. A stage
    /// whose cluster has one moves on only if its analysis passes. Empty: none.
    #[arg(long, env = "PROMETHEUS_URLS", value_delimiter = ',')]
    pub prometheus: Vec<String>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// The arguments of `relctl roll-back`.
#[derive(Debug, Args)]
pub struct RollBack {
    #[arg(long, value_parser = parsed::<Version>)]
    pub to_version: Version,
    #[arg(long, value_enum, default_value = "production")]
    pub environment: EnvironmentName,
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_parser = parsed::<WebUrl>)]
    pub execution_url: Option<WebUrl>,
}

/// The arguments of `relctl wait-ready`.
#[derive(Debug, Args)]
pub struct WaitReady {
    /// The Karmada API server's kubeconfig.
    #[arg(long, env = "KARMADA_KUBECONFIG")]
    pub kubeconfig: PathBuf,
    #[arg(long)]
    pub context: Option<String>,
    #[arg(long)]
    pub namespace: String,
    /// Wait only until every SpinApp runs this digest as well.
    #[arg(long, value_parser = parsed::<Digest>)]
    pub digest: Option<Digest>,
    /// Seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// The arguments of `relctl smoke`.
#[derive(Debug, Args)]
pub struct Smoke {
    /// The instance's base URL.
    #[arg(long)]
    pub url: String,
    #[arg(long, value_parser = parsed::<ClusterName>)]
    pub cluster: ClusterName,
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// Seconds to keep trying while the instance starts.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// The arguments of `relctl resume-kestra`.
#[derive(Debug, Args)]
pub struct ResumeKestra {
    /// Kestra's base URL.
    #[arg(long, env = "KESTRA_URL")]
    pub url: String,
    #[arg(long, default_value = "main")]
    pub tenant: String,
    #[arg(long)]
    pub execution: String,
    /// The release the execution must be running (its `version` input): another's is refused.
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// The flow's Pause task, which the resume moves past.
    #[arg(long, default_value = "wait_for_decision")]
    pub pause_task: String,
    /// Seconds to wait for the execution to reach its Pause, and to leave it after a resume
    /// Kestra did not confirm in time (504).
    #[arg(long, default_value_t = 300)]
    pub wait: u64,
    /// Only check that the execution is this release's and has not ended; resume nothing.
    #[arg(long)]
    pub check_only: bool,
}

/// The arguments of `relctl token`.
#[derive(Debug, Args)]
pub struct Token {
    #[arg(long)]
    pub sub: String,
    #[arg(long, required = true)]
    pub role: Vec<String>,
    #[arg(long, default_value = "10m")]
    pub ttl: String,
    /// The signing key's file; else SPIN_VARIABLE_AUTH_HMAC_KEY (HS256).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The token's issuer; else SPIN_VARIABLE_AUTH_ISSUER, else the ledger's default.
    #[arg(long)]
    pub iss: Option<String>,
    /// The key id a JWKS names the key by.
    #[arg(long)]
    pub kid: Option<String>,
}

/// The release a read names.
#[derive(Debug, Args)]
pub struct Release {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
}

/// The arguments of `relctl stop-reason`.
#[derive(Debug, Args)]
pub struct StopReason {
    #[arg(long, value_parser = parsed::<Version>)]
    pub version: Version,
    /// Print it as Kestra's output line `::{"outputs":{"reason":…}}::`.
    #[arg(long)]
    pub kestra_output: bool,
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

/// The arguments of `relctl analyze`.
#[derive(Debug, Args)]
pub struct Analyze {
    /// The base URL of the Prometheus that scrapes the cluster (k8s/observability).
    #[arg(long, env = "PROMETHEUS_URL")]
    pub prometheus: String,
    /// The cluster judged, as the ledger names it.
    #[arg(long, value_parser = parsed::<ClusterName>)]
    pub cluster: ClusterName,
    /// When the release reached the cluster (RFC 3339 with an offset).
    #[arg(long, value_parser = rfc3339)]
    pub since: Timestamp,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// How an analysis is run and judged: for `relctl analyze`, and for each stage of a staged
/// `relctl deploy`.
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Seconds in each window, before and after the release reached the cluster.
    #[arg(long, env = "ANALYSIS_WINDOW", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(5..=86_400))]
    pub window: u64,
    /// Seconds to wait past the window before asking, so that Prometheus has scraped its end
    /// (two of prometheus.yaml's 30 s scrape intervals).
    #[arg(long, env = "ANALYSIS_SETTLE", default_value_t = 60)]
    pub settle: u64,
    /// The queries, with `${window}` for the window in seconds.
    #[arg(long, default_value = "k8s/observability/canary-analysis.yaml")]
    pub queries: PathBuf,
    /// The fewest requests in the window that can show anything.
    #[arg(long, default_value_t = Limits::DEFAULT.min_requests, value_parser = non_negative)]
    pub min_requests: f64,
    /// The highest error share allowed, from 0 to 1.
    #[arg(long, default_value_t = Limits::DEFAULT.max_error_share, value_parser = share)]
    pub max_error_share: f64,
    /// The highest p99 allowed, in seconds.
    #[arg(long, default_value_t = Limits::DEFAULT.max_p99_seconds, value_parser = non_negative)]
    pub max_p99: f64,
    /// How far the error share may rise over the previous release's, from 0 to 1.
    #[arg(long, default_value_t = Limits::DEFAULT.max_error_share_rise, value_parser = share)]
    pub max_error_share_rise: f64,
    /// How many times the previous release's p99 the new one may take.
    #[arg(long, default_value_t = Limits::DEFAULT.max_p99_growth, value_parser = non_negative)]
    pub max_p99_growth: f64,
    /// What too little traffic to judge does.
    #[arg(long, env = "ANALYSIS_INCONCLUSIVE", value_enum,
          default_value_t = OnInconclusive::Stop)]
    pub inconclusive: OnInconclusive,
}

impl AnalysisArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            min_requests: self.min_requests,
            max_error_share: self.max_error_share,
            max_p99_seconds: self.max_p99,
            max_error_share_rise: self.max_error_share_rise,
            max_p99_growth: self.max_p99_growth,
        }
    }
}

/// What an inconclusive analysis does to the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnInconclusive {
    Stop,
    Pass,
}

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err("expected a number, 0 or more".into()),
    }
}

fn share(text: &str) -> Result<f64, String> {
    match non_negative(text) {
        Ok(value) if value <= 1.0 => Ok(value),
        _ => Err("expected a share from 0 to 1, like 0.05".into()),
    }
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
