//! `/audit`: the append-only audit log, newest first.

use super::search::Search;
use super::{Chrome, Pager, Section, api_page_path, release_href};
use crate::api::{AuditEvent, Page};
use crate::time::{Millis, Moment};
use askama::Template;

pub const PAGE_SIZE: u32 = 50;

pub fn api_path(search: &Search, cursor: Option<&str>) -> String {
    api_page_path(&search.on("/api/audit"), PAGE_SIZE, cursor)
}

pub struct AuditRow {
    pub at: Moment,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// `release/1.4.0` links to that release.
    pub target_href: Option<String>,
    pub request_id: String,
    pub detail: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub chrome: Chrome,
    pub search: Search,
    pub rows: Vec<AuditRow>,
    pub pager: Pager,
}

impl AuditPage {
    pub fn new(page: &Page<AuditEvent>, search: Search, first_page: bool, now: Millis) -> Self {
        let base = search.on("/audit");
        Self {
            chrome: Chrome::new(Section::Audit, "Audit log"),
            search,
            rows: page
                .items
                .iter()
                .map(|e| AuditRow {
                    at: Moment::new(&e.at, now),
                    actor: super::acting(&e.actor, e.on_behalf_of.as_deref()),
                    action: e.action.clone(),
                    target: e.target.clone(),
                    target_href: e.target.strip_prefix("release/").map(release_href),
                    request_id: e.request_id.clone(),
                    detail: e.detail.clone().filter(|d| !d.is_empty()),
                })
                .collect(),
            pager: Pager::new(&base, first_page, page.next_cursor.as_deref()),
        }
    }
}
