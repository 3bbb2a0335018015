//! `/approvals`: every production approval, newest first, filterable by state.

use super::releases::ApprovalView;
use super::{Chrome, Pager, Section, VersionLink, api_page_path};
use crate::api::{Approval, Page};
use crate::links::Links;
use crate::time::Millis;
use askama::Template;

pub const PAGE_SIZE: u32 = 20;
pub const STATES: [&str; 3] = ["pending", "approved", "rejected"];

pub fn api_path(state: Option<&str>, cursor: Option<&str>) -> String {
    match state {
        Some(state) => api_page_path(&format!("/api/approvals?state={state}"), PAGE_SIZE, cursor),
        None => api_page_path("/api/approvals", PAGE_SIZE, cursor),
    }
}

pub struct Filter {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

pub struct ApprovalRow {
    pub release: VersionLink,
    pub approval: ApprovalView,
    /// Rundeck's approve job, for a pending approval when `rundeck_job_url` is set.
    pub decide_href: Option<String>,
}

#[derive(Template)]
#[template(path = "approvals.html")]
pub struct ApprovalsPage {
    pub chrome: Chrome,
    pub filters: Vec<Filter>,
    pub state: Option<String>,
    pub rows: Vec<ApprovalRow>,
    pub pager: Pager,
}

impl ApprovalsPage {
    pub fn new(
        page: &Page<Approval>,
        state: Option<&str>,
        first_page: bool,
        links: &Links,
        now: Millis,
    ) -> Self {
        let href = |s: Option<&str>| match s {
            Some(s) => format!("/approvals?state={s}"),
            None => "/approvals".to_owned(),
        };
        let mut filters = vec![Filter {
            label: "all",
            href: href(None),
            current: state.is_none(),
        }];
        filters.extend(STATES.iter().map(|s| Filter {
            label: s,
            href: href(Some(s)),
            current: state == Some(*s),
        }));
        Self {
            chrome: Chrome::new(Section::Approvals, "Approvals"),
            filters,
            state: state.map(str::to_owned),
            rows: page
                .items
                .iter()
                .map(|a| ApprovalRow {
                    release: VersionLink::new(&a.version),
                    approval: ApprovalView::new(a, now),
                    decide_href: (a.state == "pending")
                        .then(|| links.decide(&a.version))
                        .flatten(),
                })
                .collect(),
            pager: Pager::new(&href(state), first_page, page.next_cursor.as_deref()),
        }
    }
}
