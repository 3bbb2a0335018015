//! Routing: which page a path is, what it asks the backend, and the one place where errors
//! become pages and every request becomes a log line.

use crate::api::ReleaseDetail;
use crate::assets;
use crate::backend::{Backend, BackendError, decode};
use crate::error::ConsoleError;
use crate::http::{ConsoleRequest, ConsoleResponse, Host, decode_path_segment};
use crate::pages::approvals::{self, ApprovalsPage};
use crate::pages::audit::{self, AuditPage};
use crate::pages::compare::ComparePage;
use crate::pages::insights::{self, InsightsPage};
use crate::pages::overview::{self, Live, OverviewFragment, OverviewPage, OverviewView};
use crate::pages::problem::ProblemPage;
use crate::pages::releases::{self, ReleasePage, ReleasesPage};
use crate::pages::search::{AUDIT_FILTERS, RELEASE_FILTERS, Search};
use crate::pages::{Chrome, Section};
use crate::settings::Settings;
use askama::Template;
use spin_edge::AccessLog;

/// Every route, for the log line and the tests.
pub const ROUTES: &[&str] = &[
    "/",
    overview::FRAGMENT_PATH,
    "/releases",
    "/releases/{version}",
    "/compare",
    "/approvals",
    "/audit",
    "/insights",
    "/healthz",
    "/static/{asset}",
];

/// Serves one request and describes it for the log.
pub fn handle(req: &ConsoleRequest, host: &Host) -> (ConsoleResponse, AccessLog) {
    let started = std::time::Instant::now();
    let (route, (mut response, error)) = route(req, host);
    if req.method == "HEAD" {
        response.body.clear();
    }
    let log = AccessLog {
        method: req.method.clone(),
        route: route.to_owned(),
        status: response.status,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        request_id: host.request_id.clone(),
        trace_id: host.trace.trace_id.clone(),
        actor: None,
        error: error.and_then(|e| e.log_detail()),
    };
    (response, log)
}

/// The response, and the error behind it if there was one (for the log line).
type Outcome = (ConsoleResponse, Option<ConsoleError>);

fn route(req: &ConsoleRequest, host: &Host) -> (&'static str, Outcome) {
    let path = req.path.as_str();
    let Some(route) = ROUTES.iter().copied().find(|route| match *route {
        "/static/{asset}" => path.starts_with("/static/"),
        "/releases/{version}" => path.starts_with("/releases/") && path != "/releases/",
        "/releases" => path == "/releases" || path == "/releases/",
        exact => path == exact,
    }) else {
        return ("-", failed(Section::Other, ConsoleError::NoRoute, host));
    };
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return (
            route,
            failed(Section::Other, ConsoleError::MethodNotAllowed, host),
        );
    }
    let outcome = match route {
        "/healthz" => (
            ConsoleResponse::new(200, "text/plain; charset=utf-8", b"ok\n".to_vec())
                .with_header("cache-control", "no-store"),
            None,
        ),
        "/static/{asset}" => match assets::ALL.iter().find(|a| a.path == path) {
            Some(asset) => (asset.respond(req), None),
            None => failed(Section::Other, ConsoleError::NoRoute, host),
        },
        "/" => overview_page(host, false),
        "/releases" => page(host, Section::Releases, |backend, _settings| {
            let search = Search::read("/releases", RELEASE_FILTERS, |n| req.query_param(n));
            let cursor = cursor(req)?;
            let page = backend
                .get(&releases::list_api_path(&search, cursor.as_deref()))
                .map_err(|e| search.refused(e))?;
            html(&ReleasesPage::new(
                &page,
                search,
                cursor.is_none(),
                host.now,
            ))
        }),
        "/releases/{version}" => page(host, Section::Releases, |backend, settings| {
            let version = release_version(&path["/releases/".len()..])?;
            let detail =
                backend
                    .get(&releases::detail_api_path(&version))
                    .map_err(|e| match e {
                        BackendError::NotFound => ConsoleError::NoSuchRelease(version.clone()),
                        other => other.into(),
                    })?;
            html(&ReleasePage::new(&detail, &settings.links, host.now))
        }),
        "/compare" => page(host, Section::Releases, |backend, settings| {
            let asked = |name: &str| {
                let value = req.query_param(name).unwrap_or_default();
                value.trim().to_owned()
            };
            let (from, to) = (asked("from"), asked("to"));
            match (from.is_empty(), to.is_empty()) {
                (true, true) => return html(&ComparePage::empty("", "")),
                (false, false) => {}
                (from_missing, _) => {
                    return Err(ConsoleError::BadFilter {
                        label: if from_missing { "From" } else { "To" },
                        reason: "a comparison needs two releases; name one here too".into(),
                    });
                }
            }
            let (from, to) = (plausible_version(&from)?, plausible_version(&to)?);
            let paths = [
                releases::detail_api_path(&from),
                releases::detail_api_path(&to),
            ];
            let answers = backend.get_all(&[&paths[0], &paths[1]]);
            let mut details = Vec::new();
            for ((path, answer), version) in paths.iter().zip(answers).zip([&from, &to]) {
                let detail: ReleaseDetail = decode(path, answer).map_err(|e| match e {
                    BackendError::NotFound => ConsoleError::NoSuchRelease(version.clone()),
                    other => other.into(),
                })?;
                details.push(detail);
            }
            html(&ComparePage::new(
                &details[0],
                &details[1],
                &settings.links,
                host.now,
            ))
        }),
        "/approvals" => page(host, Section::Approvals, |backend, settings| {
            let state = approval_state(req)?;
            let cursor = cursor(req)?;
            let page = backend.get(&approvals::api_path(state, cursor.as_deref()))?;
            html(&ApprovalsPage::new(
                &page,
                state,
                cursor.is_none(),
                &settings.links,
                host.now,
            ))
        }),
        "/audit" => page(host, Section::Audit, |backend, _settings| {
            let search = Search::read("/audit", AUDIT_FILTERS, |n| req.query_param(n));
            let cursor = cursor(req)?;
            let page = backend
                .get(&audit::api_path(&search, cursor.as_deref()))
                .map_err(|e| search.refused(e))?;
            html(&AuditPage::new(&page, search, cursor.is_none(), host.now))
        }),
        "/insights" => page(host, Section::Insights, |backend, _settings| {
            let (environment, days) = insights_window(req)?;
            let answer = backend.get(&insights::api_path(environment, days))?;
            html(&InsightsPage::new(&answer))
        }),
        overview::FRAGMENT_PATH => overview_page(host, true),
        _ => failed(Section::Other, ConsoleError::NoRoute, host),
    };
    (route, outcome)
}

/// Runs a page with a backend client; a failure becomes the page's own error page.
fn page(
    host: &Host,
    section: Section,
    render: impl FnOnce(&Backend, &Settings) -> Result<ConsoleResponse, ConsoleError>,
) -> Outcome {
    let result = Settings::load(host.variable)
        .map_err(ConsoleError::from)
        .and_then(|settings| {
            let backend = Backend::new(&settings, host.transport, &host.request_id, &host.trace);
            render(&backend, &settings)
        });
    match result {
        Ok(response) => (response, None),
        Err(e) => failed(section, e, host),
    }
}

/// The overview, or just its live fragment. A failure still renders the page, with the
/// problem where the data would be, so `console.js` keeps refreshing until the backend is back.
fn overview_page(host: &Host, fragment: bool) -> Outcome {
    let settings = Settings::load(host.variable);
    let refresh = settings.as_ref().map_or(0, |s| s.refresh_seconds);
    let result = settings.map_err(ConsoleError::from).and_then(|settings| {
        let backend = Backend::new(&settings, host.transport, &host.request_id, &host.trace);
        Ok((overview::load(&backend)?, settings.links))
    });
    let (view, error) = match result {
        Ok((data, links)) => (Ok(OverviewView::new(&data, &links, host.now)), None),
        Err(e) => (Err(e.problem(&host.request_id)), Some(e)),
    };
    let live = Live::new(view, refresh, host.now);
    let rendered = if fragment {
        html(&OverviewFragment { live })
    } else {
        html(&OverviewPage::new(live))
    };
    match rendered {
        Ok(response) => match error {
            Some(e) => (with_error_headers(response, &e), Some(e)),
            None => (response, None),
        },
        Err(e) => failed(Section::Overview, e, host),
    }
}

fn html(page: &impl Template) -> Result<ConsoleResponse, ConsoleError> {
    page.render()
        .map(|body| crate::http::html(200, body))
        .map_err(|e| ConsoleError::Render(e.to_string()))
}

/// The page for an error: the section's heading and navigation, and the problem.
fn failed(section: Section, error: ConsoleError, host: &Host) -> Outcome {
    let problem = error.problem(&host.request_id);
    let heading = match error {
        ConsoleError::NoSuchRelease(_) | ConsoleError::NoRoute => problem.title.to_owned(),
        _ => section.title().to_owned(),
    };
    let page = ProblemPage {
        chrome: Chrome::new(section, heading),
        problem,
    };
    let response = match html(&page) {
        Ok(response) => with_error_headers(response, &error),
        // Nothing is left to trust but plain text.
        Err(_) => ConsoleResponse::new(
            500,
            "text/plain; charset=utf-8",
            format!(
                "The console failed to draw this page. Request id: {}\n",
                host.request_id
            )
            .into_bytes(),
        ),
    };
    (response, Some(error))
}

/// The error's status, and the headers that go with it.
fn with_error_headers(mut response: ConsoleResponse, error: &ConsoleError) -> ConsoleResponse {
    response.status = error.status();
    match error {
        ConsoleError::MethodNotAllowed => response.with_header("allow", "GET, HEAD"),
        ConsoleError::Backend(BackendError::Unavailable(_)) => {
            response.with_header("retry-after", "15")
        }
        _ => response,
    }
}

/// The `cursor` of a paged list: the digits the backend's `next_cursor` holds.
fn cursor(req: &ConsoleRequest) -> Result<Option<String>, ConsoleError> {
    match req.query_param("cursor").filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) if c.len() <= 19 && c.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(c)),
        Some(_) => Err(ConsoleError::BadRequest(
            "This page link is not valid. Start again from the first page.",
        )),
    }
}

fn approval_state(req: &ConsoleRequest) -> Result<Option<&'static str>, ConsoleError> {
    match req.query_param("state").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => approvals::STATES
            .iter()
            .find(|known| **known == s)
            .map(|known| Some(*known))
            .ok_or(ConsoleError::BadRequest(
                "Approvals can be filtered by pending, approved or rejected only.",
            )),
    }
}

/// The environment and window `/insights` shows: the ones its links offer, nothing else.
fn insights_window(req: &ConsoleRequest) -> Result<(&'static str, u32), ConsoleError> {
    let environment = match req.query_param("environment").filter(|e| !e.is_empty()) {
        None => "production",
        Some(e) => insights::ENVIRONMENTS
            .into_iter()
            .find(|known| *known == e)
            .ok_or(ConsoleError::BadRequest(
                "Insights cover production or staging only.",
            ))?,
    };
    let days = match req.query_param("days").filter(|d| !d.is_empty()) {
        None => insights::WINDOWS[0],
        Some(d) => insights::WINDOWS
            .into_iter()
            .find(|known| known.to_string() == d)
            .ok_or(ConsoleError::BadRequest(
                "Insights cover the last 30, 90 or 180 days.",
            ))?,
    };
    Ok((environment, days))
}

/// A release version as it may appear in a URL: semantic-version characters, bounded. Anything
/// else cannot name a release, so it is a 404 without asking the backend.
fn release_version(segment: &str) -> Result<String, ConsoleError> {
    plausible_version(&decode_path_segment(segment).unwrap_or_default())
}

/// VERSION if it could name a release; otherwise the 404 page for it.
fn plausible_version(version: &str) -> Result<String, ConsoleError> {
    let version = version.to_owned();
    let plausible = (1..=128).contains(&version.len())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'));
    if plausible {
        Ok(version)
    } else {
        // Echoed on the 404 page (escaped), so kept short.
        Err(ConsoleError::NoSuchRelease(
            version.chars().take(64).collect(),
        ))
    }
}
