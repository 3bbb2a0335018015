//! The arguments of the commands people run at a shell: the reads (`releases`, `release`,
//! `clusters`, `approvals`), with their output and paging, and the man pages and completions.

use super::*;

/// How a read prints what the ledger answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The ledger's own JSON, for scripts: a list as an array of its items.
    Json,
}

/// The output choice every read takes.
#[derive(Debug, Args)]
pub struct Shown {
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: Format,
}

/// How many items a list read fetches, following the ledger's pages.
#[derive(Debug, Args)]
pub struct Listing {
    /// At most this many, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Every item, however many pages that takes (instead of --limit).
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    #[command(flatten)]
    pub shown: Shown,
}

/// The arguments of `relctl releases`: the ledger's filters, every one given must hold.
#[derive(Debug, Args)]
pub struct ListReleases {
    /// Only versions that start with this, e.g. 1.4.
    #[arg(long = "version", value_name = "PREFIX", value_parser = parsed::<VersionPrefix>)]
    pub version_prefix: Option<VersionPrefix>,
    /// Only releases whose production approval is pending, approved or rejected, or none.
    #[arg(long, value_parser = ApprovalFilter::WORDS)]
    pub state: Option<String>,
    /// Only releases with a deployment event on this cluster.
    #[arg(long, value_parser = parsed::<ClusterName>)]
    pub cluster: Option<ClusterName>,
    /// Only releases this person recorded, or that were recorded for them.
    #[arg(long, value_parser = parsed::<Subject>)]
    pub person: Option<Subject>,
    #[command(flatten)]
    pub listing: Listing,
}

/// The arguments of `relctl release`.
#[derive(Debug, Args)]
pub struct ShowRelease {
    #[arg(value_parser = parsed::<Version>)]
    pub version: Version,
    #[command(flatten)]
    pub shown: Shown,
}

/// The arguments of `relctl approvals`.
#[derive(Debug, Args)]
pub struct ListApprovals {
    /// pending, approved or rejected.
    #[arg(long, value_parser = parsed::<ApprovalState>)]
    pub state: Option<ApprovalState>,
    #[command(flatten)]
    pub listing: Listing,
}

/// The arguments of `relctl man`.
#[derive(Debug, Args)]
pub struct ManPages {
    /// Write relctl.1 and relctl-COMMAND.1 here (created if missing) instead of printing.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

/// The arguments of `relctl completions`.
#[derive(Debug, Args)]
pub struct Completions {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
