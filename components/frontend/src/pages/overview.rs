//! `/`: what runs where, what waits for approval, and the latest releases. Its data lives in a
//! fragment (`/fragments/overview`) that `console.js` fetches again every `refresh_seconds`.

use super::problem::Problem;
use super::releases::ReleaseRow;
use super::{Badge, Chrome, Section, VersionLink};
use crate::api::{Approval, ClusterStatus, Info, Overview, Page, Release};
use crate::backend::{Backend, BackendError};
use crate::links::Links;
use crate::time::{Millis, Moment, absolute};
use askama::Template;

pub const FRAGMENT_PATH: &str = "/fragments/overview";
/// How many pending approvals and releases the overview lists before linking to the rest.
const LISTED: usize = 10;

/// The overview's data, read in one backend call (one instance, one database connection).
pub struct OverviewData {
    pub info: Info,
    pub clusters: Vec<ClusterStatus>,
    pub pending: Page<Approval>,
    pub releases: Page<Release>,
}

pub const API_PATH: &str = "/api/overview";

pub fn load(backend: &Backend) -> Result<OverviewData, BackendError> {
    let overview: Overview = backend.get(API_PATH)?;
    Ok(OverviewData {
        info: overview.info,
        clusters: overview.clusters,
        pending: overview.pending_approvals,
        releases: overview.releases,
    })
}

pub struct ClusterRow {
    pub name: String,
    pub environment: String,
    pub current: Option<VersionLink>,
    pub last: Option<LastEventRow>,
    /// The release the cluster is seen moving to while its rollout has no outcome yet.
    pub rolling_out: Option<VersionLink>,
    /// What the cluster was seen running instead, or that nobody has looked lately.
    pub drift: Option<DriftNote>,
}

pub struct DriftNote {
    pub label: &'static str,
    pub summary: String,
}

pub struct LastEventRow {
    pub release: VersionLink,
    pub badge: Badge,
    pub message: Option<String>,
    pub at: Moment,
}

pub struct PendingRow {
    pub release: VersionLink,
    pub requested_by: String,
    pub requested_at: Moment,
    /// Rundeck's approve job for it, when `rundeck_job_url` is set.
    pub decide_href: Option<String>,
}

pub struct OverviewView {
    pub cluster_name: String,
    pub region: String,
    pub backend_version: String,
    pub clusters: Vec<ClusterRow>,
    pub pending: Vec<PendingRow>,
    pub more_pending: bool,
    pub releases: Vec<ReleaseRow>,
    pub more_releases: bool,
}

impl OverviewView {
    pub fn new(data: &OverviewData, links: &Links, now: Millis) -> Self {
        Self {
            cluster_name: data.info.cluster_name.clone(),
            region: data.info.region.clone(),
            backend_version: data.info.version.clone(),
            clusters: data
                .clusters
                .iter()
                .map(|c| ClusterRow {
                    name: c.name.clone(),
                    environment: c.environment.clone(),
                    current: c.current.as_ref().map(|r| VersionLink::new(&r.version)),
                    last: c.last_event.as_ref().map(|e| LastEventRow {
                        release: VersionLink::new(&e.version),
                        badge: Badge::new(&e.status),
                        message: e.message.clone(),
                        at: Moment::new(&e.at, now),
                    }),
                    rolling_out: c.rolling_out.as_deref().map(VersionLink::new),
                    drift: c.drift.as_ref().map(|d| DriftNote {
                        label: if d.kind == "not_observed" {
                            "not observed"
                        } else {
                            "drift"
                        },
                        summary: d.summary.clone(),
                    }),
                })
                .collect(),
            pending: data
                .pending
                .items
                .iter()
                .take(LISTED)
                .map(|a| PendingRow {
                    release: VersionLink::new(&a.version),
                    requested_by: super::acting(&a.requested_by, a.on_behalf_of.as_deref()),
                    requested_at: Moment::new(&a.requested_at, now),
                    decide_href: links.decide(&a.version),
                })
                .collect(),
            more_pending: data.pending.next_cursor.is_some(),
            releases: data
                .releases
                .items
                .iter()
                .take(LISTED)
                .map(|r| ReleaseRow::new(r, now))
                .collect(),
            more_releases: data.releases.next_cursor.is_some(),
        }
    }
}

/// The refreshed part of the overview: its data, or the problem that kept it away.
pub struct Live {
    pub source: &'static str,
    pub refresh_seconds: u32,
    pub updated: String,
    pub view: Result<OverviewView, Problem>,
}

impl Live {
    pub fn new(view: Result<OverviewView, Problem>, refresh_seconds: u32, now: Millis) -> Self {
        Self {
            source: FRAGMENT_PATH,
            refresh_seconds,
            updated: absolute(now),
            view,
        }
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub chrome: Chrome,
    pub live: Live,
}

impl OverviewPage {
    pub fn new(live: Live) -> Self {
        Self {
            chrome: Chrome::new(Section::Overview, "Overview"),
            live,
        }
    }
}

/// Just the live part, for `console.js`.
#[derive(Template)]
#[template(path = "overview_live.html")]
pub struct OverviewFragment {
    pub live: Live,
}
