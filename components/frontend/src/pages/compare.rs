//! `/compare?from=A&to=B`: two releases side by side, what a reviewer asks before a rollout or
//! a rollback: the commits between them, whether the artifact changed, their notes, their
//! approvals and where each ran last.

use super::releases::ApprovalView;
use super::{Badge, Chrome, Section, VersionLink};
use crate::api::ReleaseDetail;
use crate::links::Links;
use crate::time::{Millis, Moment};
use askama::Template;

/// Where a release ran: each cluster's latest event of it.
pub struct Ran {
    pub cluster: String,
    pub environment: String,
    pub badge: Badge,
    pub at: Moment,
}

/// One release's column.
pub struct Side {
    pub release: VersionLink,
    pub created_by: String,
    pub created_at: Moment,
    pub commit: String,
    /// Twelve hex digits: enough to name the commit in a sentence.
    pub short_commit: String,
    pub commit_href: Option<String>,
    pub digest: String,
    pub notes: String,
    pub approval: Option<ApprovalView>,
    pub ran: Vec<Ran>,
}

impl Side {
    fn new(detail: &ReleaseDetail, links: &Links, now: Millis) -> Self {
        let r = &detail.release;
        let mut ran: Vec<Ran> = Vec::new();
        for d in &detail.deployments {
            let latest = Ran {
                cluster: d.cluster.clone(),
                environment: d.environment.clone(),
                badge: Badge::new(&d.status),
                at: Moment::new(&d.recorded_at, now),
            };
            match ran.iter_mut().find(|r| r.cluster == d.cluster) {
                Some(slot) => *slot = latest,
                None => ran.push(latest),
            }
        }
        Self {
            release: VersionLink::new(&r.version),
            created_by: super::acting(&r.created_by, r.on_behalf_of.as_deref()),
            created_at: Moment::new(&r.created_at, now),
            commit: r.commit.clone(),
            short_commit: r.commit.chars().take(12).collect(),
            commit_href: links.commit(&r.commit),
            digest: r.digest.clone(),
            notes: r.notes.clone(),
            approval: detail.approval.as_ref().map(|a| ApprovalView::new(a, now)),
            ran,
        }
    }
}

/// The two columns and what they share.
pub struct Comparison {
    pub from: Side,
    pub to: Side,
    pub same_commit: bool,
    pub same_digest: bool,
    /// The repository's diff from `from`'s commit to `to`'s.
    pub diff_href: Option<String>,
}

#[derive(Template)]
#[template(path = "compare.html")]
pub struct ComparePage {
    pub chrome: Chrome,
    /// What the form shows: the versions asked for.
    pub from_value: String,
    pub to_value: String,
    pub comparison: Option<Comparison>,
}

impl ComparePage {
    /// The form alone, before two releases are chosen.
    pub fn empty(from: &str, to: &str) -> Self {
        Self {
            chrome: Chrome::new(Section::Releases, "Compare releases"),
            from_value: from.to_owned(),
            to_value: to.to_owned(),
            comparison: None,
        }
    }

    pub fn new(from: &ReleaseDetail, to: &ReleaseDetail, links: &Links, now: Millis) -> Self {
        let (a, b) = (&from.release, &to.release);
        let title = format!("Compare {} with {}", a.version, b.version);
        Self {
            chrome: Chrome::new(Section::Releases, title),
            from_value: a.version.clone(),
            to_value: b.version.clone(),
            comparison: Some(Comparison {
                same_commit: a.commit == b.commit,
                same_digest: a.digest == b.digest,
                diff_href: (a.commit != b.commit)
                    .then(|| links.compare(&a.commit, &b.commit))
                    .flatten(),
                from: Side::new(from, links, now),
                to: Side::new(to, links, now),
            }),
        }
    }
}
