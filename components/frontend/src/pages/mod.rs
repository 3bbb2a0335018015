//! The pages: each module turns the backend's answers into a view model, and an askama
//! template (checked at compile time, escaping everything) turns that into HTML.

pub mod approvals;
pub mod audit;
mod chart;
pub mod compare;
pub mod insights;
pub mod overview;
pub mod problem;
pub mod releases;
pub mod search;

use crate::assets;
use crate::http::{encode_path_segment, encode_query_value};

/// The part of the console a page belongs to, for its title and the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Releases,
    Approvals,
    Audit,
    Insights,
    /// Pages outside the navigation, such as "not found".
    Other,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::Overview => "Overview",
            Section::Releases => "Releases",
            Section::Approvals => "Approvals",
            Section::Audit => "Audit log",
            Section::Insights => "Insights",
            Section::Other => "Release console",
        }
    }
}

pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What every page shares: title, heading, navigation and asset links.
pub struct Chrome {
    pub heading: String,
    pub nav: Vec<NavLink>,
    pub css: String,
    pub js: String,
    pub icon: String,
}

impl Chrome {
    pub fn new(section: Section, heading: impl Into<String>) -> Self {
        let links = [
            (Section::Overview, "/"),
            (Section::Releases, "/releases"),
            (Section::Approvals, "/approvals"),
            (Section::Audit, "/audit"),
            (Section::Insights, "/insights"),
        ];
        Self {
            heading: heading.into(),
            nav: links
                .into_iter()
                .map(|(s, href)| NavLink {
                    href,
                    label: s.title(),
                    current: s == section,
                })
                .collect(),
            css: assets::CSS.href(),
            js: assets::JS.href(),
            icon: assets::ICON.href(),
        }
    }
}

/// A status word shown as a badge: the word itself, and a tone that colours it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub label: String,
    pub tone: &'static str,
}

impl Badge {
    pub fn new(word: &str) -> Self {
        let tone = match word {
            "succeeded" | "approved" | "passed" => "ok",
            "failed" | "rejected" => "bad",
            "started" | "pending" => "wait",
            "rolled_back" | "inconclusive" => "warn",
            _ => "plain",
        };
        Self {
            label: word.replace('_', " "),
            tone,
        }
    }
}

/// The link to a release's page.
pub fn release_href(version: &str) -> String {
    format!("/releases/{}", encode_path_segment(version))
}

/// The console's comparison of releases FROM and TO (`compare.rs`).
pub fn compare_href(from: &str, to: &str) -> String {
    format!(
        "/compare?from={}&to={}",
        encode_query_value(from),
        encode_query_value(to)
    )
}

/// A release version and the console page that shows it.
pub struct VersionLink {
    pub version: String,
    pub href: String,
}

impl VersionLink {
    pub fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            href: release_href(version),
        }
    }
}

/// Who did something, as the console says it: the actor, and the person a service account
/// acted for when there is one (`kestra for alice`).
pub fn acting(actor: &str, on_behalf_of: Option<&str>) -> String {
    match on_behalf_of {
        Some(person) => format!("{actor} for {person}"),
        None => actor.to_owned(),
    }
}

/// `sha256:0123456789ab…`: enough to recognise a digest; the full one is in the title.
pub fn short_digest(digest: &str) -> String {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
    let short: String = hex.chars().take(12).collect();
    if algorithm.is_empty() {
        short
    } else {
        format!("{algorithm}:{short}")
    }
}

/// Only http(s) links become `href`s; anything else (`javascript:`) stays text.
pub fn safe_link(url: Option<&str>) -> Option<String> {
    url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_owned)
}

/// The API path of one page of a list: `base` (which may carry a filter), the page size, and
/// the cursor of the page before.
pub fn api_page_path(base: &str, limit: u32, cursor: Option<&str>) -> String {
    let join = if base.contains('?') { '&' } else { '?' };
    let mut path = format!("{base}{join}limit={limit}");
    if let Some(cursor) = cursor {
        path.push_str(&format!("&cursor={}", encode_query_value(cursor)));
    }
    path
}

/// Cursor-based paging: "older" follows the backend's cursor, "newest" returns to the start.
pub struct Pager {
    pub newest: Option<String>,
    pub older: Option<String>,
}

impl Pager {
    /// `base` is the page's path with any filter, e.g. `/approvals?state=pending`.
    pub fn new(base: &str, on_first_page: bool, next_cursor: Option<&str>) -> Self {
        let join = if base.contains('?') { '&' } else { '?' };
        Self {
            newest: (!on_first_page).then(|| base.to_owned()),
            older: next_cursor.map(|c| format!("{base}{join}cursor={}", encode_query_value(c))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.newest.is_none() && self.older.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_keep_the_word_and_pick_a_tone() {
        assert_eq!(Badge::new("rolled_back").label, "rolled back");
        assert_eq!(Badge::new("rolled_back").tone, "warn");
        assert_eq!(Badge::new("succeeded").tone, "ok");
        assert_eq!(Badge::new("rejected").tone, "bad");
        assert_eq!(Badge::new("pending").tone, "wait");
        assert_eq!(Badge::new("something new").tone, "plain");
    }

    #[test]
    fn only_web_links_become_hrefs() {
        assert_eq!(
            safe_link(Some("https://kestra.example/e/1")).as_deref(),
            Some("https://kestra.example/e/1")
        );
        assert_eq!(safe_link(Some("javascript:alert(1)")), None);
        assert_eq!(safe_link(None), None);
    }

    #[test]
    fn pagers_link_older_and_back_to_newest() {
        let first = Pager::new("/releases", true, Some("41"));
        assert_eq!(first.newest, None);
        assert_eq!(first.older.as_deref(), Some("/releases?cursor=41"));
        let filtered = Pager::new("/approvals?state=pending", false, None);
        assert_eq!(filtered.newest.as_deref(), Some("/approvals?state=pending"));
        assert_eq!(filtered.older, None);
        assert!(Pager::new("/audit", true, None).is_empty());
    }

    #[test]
    fn api_page_paths_carry_filter_size_and_cursor() {
        assert_eq!(api_page_path("/api/audit", 50, None), "/api/audit?limit=50");
        assert_eq!(
            api_page_path("/api/approvals?state=pending", 20, Some("7")),
            "/api/approvals?state=pending&limit=20&cursor=7"
        );
    }

    #[test]
    fn digests_are_shortened_and_versions_encoded() {
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123"),
            "sha256:0123456789ab"
        );
        assert_eq!(release_href("1.0.0+build.5"), "/releases/1.0.0+build.5");
        assert_eq!(
            Chrome::new(Section::Audit, "Audit log")
                .nav
                .iter()
                .filter(|l| l.current)
                .count(),
            1
        );
    }
}
