//! `/releases` (paginated) and `/releases/{version}` (artifact, timeline per cluster, approval).

use super::search::Search;
use super::{Badge, Chrome, Pager, Section, VersionLink, api_page_path, safe_link, short_digest};
use crate::api::{Analysis, Approval, Deployment, Figures, Page, Release, ReleaseDetail};
use crate::http::encode_path_segment;
use crate::links::Links;
use crate::time::{Millis, Moment};
use askama::Template;

pub const PAGE_SIZE: u32 = 20;

pub fn list_api_path(search: &Search, cursor: Option<&str>) -> String {
    api_page_path(&search.on("/api/releases"), PAGE_SIZE, cursor)
}

pub fn detail_api_path(version: &str) -> String {
    format!("/api/releases/{}", encode_path_segment(version))
}

pub struct ReleaseRow {
    pub release: VersionLink,
    pub artifact: String,
    pub digest: String,
    pub digest_short: String,
    pub created_by: String,
    pub created_at: Moment,
}

impl ReleaseRow {
    pub fn new(release: &Release, now: Millis) -> Self {
        Self {
            release: VersionLink::new(&release.version),
            artifact: release.artifact.clone(),
            digest: release.digest.clone(),
            digest_short: short_digest(&release.digest),
            created_by: super::acting(&release.created_by, release.on_behalf_of.as_deref()),
            created_at: Moment::new(&release.created_at, now),
        }
    }
}

#[derive(Template)]
#[template(path = "releases.html")]
pub struct ReleasesPage {
    pub chrome: Chrome,
    pub search: Search,
    pub rows: Vec<ReleaseRow>,
    pub pager: Pager,
}

impl ReleasesPage {
    pub fn new(page: &Page<Release>, search: Search, first_page: bool, now: Millis) -> Self {
        let base = search.on("/releases");
        Self {
            chrome: Chrome::new(Section::Releases, "Releases"),
            search,
            rows: page.items.iter().map(|r| ReleaseRow::new(r, now)).collect(),
            pager: Pager::new(&base, first_page, page.next_cursor.as_deref()),
        }
    }
}

/// One cluster's deployment events of a release, oldest first.
pub struct ClusterTimeline {
    pub cluster: String,
    pub environment: String,
    pub events: Vec<EventRow>,
}

pub struct EventRow {
    pub badge: Badge,
    pub at: Moment,
    pub recorded_by: String,
    pub message: Option<String>,
    pub execution_url: Option<String>,
    pub analysis: Option<AnalysisView>,
}

/// A stage's analysis: its verdict and reasons, both windows' figures, and the queries it
/// sent, as links to Prometheus.
pub struct AnalysisView {
    pub badge: Badge,
    pub reasons: Vec<String>,
    pub window: String,
    pub after: String,
    pub before: String,
    /// (label, href) for each query, when its link is a safe one.
    pub queries: Vec<(&'static str, String)>,
}

impl AnalysisView {
    fn new(analysis: &Analysis) -> Self {
        let labels = ["requests", "errors", "p99"];
        let queries = labels
            .into_iter()
            .zip(&analysis.links)
            .filter_map(|(label, link)| Some((label, safe_link(Some(link))?)))
            .collect();
        Self {
            badge: Badge::new(&analysis.verdict),
            reasons: analysis.reasons.clone(),
            window: format!("{} s", analysis.window_seconds),
            after: figures(&analysis.after),
            before: figures(&analysis.before),
            queries,
        }
    }
}

/// `200 requests, 40 errors (20.0 %), p99 0.995 s`.
fn figures(f: &Figures) -> String {
    let share = if f.requests > 0.0 {
        format!(" ({:.1} %)", f.errors / f.requests * 100.0)
    } else {
        String::new()
    };
    let p99 = f.p99_seconds.map_or("none".into(), |p| format!("{p:.3} s"));
    format!(
        "{:.0} requests, {:.0} errors{share}, p99 {p99}",
        f.requests, f.errors
    )
}

pub struct ApprovalView {
    pub badge: Badge,
    pub requested_by: String,
    pub requested_at: Moment,
    pub decided_by: Option<String>,
    pub decided_at: Option<Moment>,
    pub comment: Option<String>,
}

impl ApprovalView {
    pub fn new(approval: &Approval, now: Millis) -> Self {
        Self {
            badge: Badge::new(&approval.state),
            requested_by: super::acting(&approval.requested_by, approval.on_behalf_of.as_deref()),
            requested_at: Moment::new(&approval.requested_at, now),
            decided_by: approval.decided_by.clone(),
            decided_at: approval.decided_at.as_deref().map(|t| Moment::new(t, now)),
            comment: approval.comment.clone().filter(|c| !c.is_empty()),
        }
    }
}

/// The release a release replaces, and the ways to see what changed since.
pub struct PreviousView {
    pub release: VersionLink,
    /// The console's comparison of the two releases.
    pub compare_page: String,
    /// The repository's diff of their commits, when `repository_url` is set.
    pub diff_href: Option<String>,
}

#[derive(Template)]
#[template(path = "release.html")]
pub struct ReleasePage {
    pub chrome: Chrome,
    pub version: String,
    pub artifact: String,
    pub digest: String,
    pub commit: String,
    pub commit_href: Option<String>,
    pub notes: String,
    pub created_by: String,
    pub created_at: Moment,
    pub timelines: Vec<ClusterTimeline>,
    pub approval: Option<ApprovalView>,
    pub decide_href: Option<String>,
    pub previous: Option<PreviousView>,
}

impl ReleasePage {
    pub fn new(detail: &ReleaseDetail, links: &Links, now: Millis) -> Self {
        let release = &detail.release;
        let pending = detail
            .approval
            .as_ref()
            .is_some_and(|a| a.state == "pending");
        Self {
            chrome: Chrome::new(Section::Releases, format!("Release {}", release.version)),
            version: release.version.clone(),
            artifact: release.artifact.clone(),
            digest: release.digest.clone(),
            commit: release.commit.clone(),
            commit_href: links.commit(&release.commit),
            notes: release.notes.clone(),
            created_by: super::acting(&release.created_by, release.on_behalf_of.as_deref()),
            created_at: Moment::new(&release.created_at, now),
            timelines: timelines(&detail.deployments, now),
            approval: detail.approval.as_ref().map(|a| ApprovalView::new(a, now)),
            decide_href: pending.then(|| links.decide(&release.version)).flatten(),
            previous: detail.previous.as_ref().map(|p| PreviousView {
                release: VersionLink::new(&p.version),
                compare_page: super::compare_href(&p.version, &release.version),
                diff_href: (p.commit != release.commit)
                    .then(|| links.compare(&p.commit, &release.commit))
                    .flatten(),
            }),
        }
    }
}

/// Groups events by cluster, clusters in the order they first saw this release.
fn timelines(deployments: &[Deployment], now: Millis) -> Vec<ClusterTimeline> {
    let mut timelines: Vec<ClusterTimeline> = Vec::new();
    for d in deployments {
        let event = EventRow {
            badge: Badge::new(&d.status),
            at: Moment::new(&d.recorded_at, now),
            recorded_by: d.recorded_by.clone(),
            message: d.message.clone().filter(|m| !m.is_empty()),
            execution_url: safe_link(d.execution_url.as_deref()),
            analysis: d.analysis.as_ref().map(AnalysisView::new),
        };
        match timelines.iter_mut().find(|t| t.cluster == d.cluster) {
            Some(timeline) => timeline.events.push(event),
            None => timelines.push(ClusterTimeline {
                cluster: d.cluster.clone(),
                environment: d.environment.clone(),
                events: vec![event],
            }),
        }
    }
    timelines
}
