//! How each failure looks: pages for what is not there, for bad links, for a backend that
//! fails or does not answer, and for a misconfigured console.

use super::assert_accessible_page;
use super::doubles::*;
use frontend::ConsoleRequest;
use frontend::backend::Fetched;
use serde_json::json;

#[test]
fn an_unknown_release_is_a_404_page() {
    let response = render("/releases/9.9.9", &ScriptedBackend::default());
    assert_eq!(response.status, 404);
    assert_accessible_page(&response);
    assert!(response.body_text().contains("<h1>Release not found</h1>"));
    assert!(
        response
            .body_text()
            .contains("The ledger has no release 9.9.9.")
    );
}

/// Renders each of PATHS, expecting STATUS for each and no call to the backend at all.
fn refused_before_the_backend(paths: &[&str], status: u16) -> Vec<frontend::ConsoleResponse> {
    let backend = ScriptedBackend::default();
    let responses: Vec<_> = paths.iter().map(|path| render(path, &backend)).collect();
    for (path, response) in paths.iter().zip(&responses) {
        assert_eq!(response.status, status, "{path}");
    }
    assert!(backend.sent_paths().is_empty());
    responses
}

/// What cannot be a version is a 404 and a hand-edited page link a 400, both readable pages
/// with nothing of the request echoed as markup.
#[test]
fn malformed_paths_and_links_are_refused_without_asking_the_backend() {
    let not_versions = [
        "/releases/..%2F..%2Fapi%2Faudit",
        "/releases/%3Cb%3E",
        "/releases/a%20b",
    ];
    let hand_edited = [
        "/releases?cursor=abc",
        "/audit?cursor=-1",
        "/approvals?state=maybe",
    ];
    let refused = [
        refused_before_the_backend(&not_versions, 404),
        refused_before_the_backend(&hand_edited, 400),
    ];
    for response in refused.iter().flatten() {
        assert_accessible_page(response);
        assert!(!response.body_text().contains("<b>"));
    }
}

#[test]
fn a_cursor_the_ledger_refuses_is_a_400_page_not_a_502() {
    let refused = json!({"status": 422, "title": "Unprocessable Content", "field": "cursor"});
    let backend =
        ScriptedBackend::default().answer("/api/releases?limit=20&cursor=123", 422, &refused);
    let response = render("/releases?cursor=123", &backend);
    assert_eq!(response.status, 400, "{}", response.body_text());
    assert!(response.body_text().contains("does not accept this page"));
    assert!(
        !response.body_text().contains("Unprocessable"),
        "no internals"
    );
    assert_accessible_page(&response);
}

#[test]
fn an_unreachable_backend_still_renders_the_page_with_a_banner_and_503() {
    for fetched in [
        Fetched::TimedOut,
        Fetched::Unreachable("connection refused".into()),
    ] {
        let backend = ScriptedBackend::always(fetched);
        let (overview, log) = render_with(&ConsoleRequest::get("/"), &backend, &[]);
        assert_eq!(overview.status, 503);
        assert_eq!(overview.header("retry-after"), Some("15"));
        assert_accessible_page(&overview);
        let html = overview.body_text();
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("The release ledger is not answering"));
        // The page keeps its live part, so the script refreshes it when the backend is back.
        assert!(html.contains("<div id=\"live\""));
        assert!(!html.contains("refused"), "the cause goes to the log only");
        assert!(log.error.unwrap().contains("/api/"));

        for path in [
            "/releases",
            "/releases/1.4.0",
            "/approvals",
            "/audit",
            "/fragments/overview",
        ] {
            let response = render(path, &backend);
            assert_eq!(response.status, 503, "{path}");
            assert!(
                response
                    .body_text()
                    .contains("The release ledger is not answering")
            );
        }
    }
}

#[test]
fn a_backend_error_is_a_502_page_with_the_request_id_and_no_internals() {
    let internals = "thread 'main' panicked at src/store.rs:42: database is locked";
    let backend = ScriptedBackend::default().answer(
        "/api/releases?limit=20",
        500,
        &json!({"detail": internals}),
    );
    let (response, log) = render_with(&ConsoleRequest::get("/releases"), &backend, &[]);
    assert_eq!(response.status, 502);
    assert_accessible_page(&response);
    let html = response.body_text();
    assert!(html.contains("The release ledger returned an error"));
    assert!(html.contains(&format!("Request id: <code>{REQUEST_ID}</code>")));
    assert!(!html.contains("panicked") && !html.contains("store.rs"));
    assert!(log.error.unwrap().contains("500"));
    // The same id went to the backend, so both logs line up.
    let sent = backend.sent.borrow();
    assert!(
        sent[0]
            .headers
            .contains(&("x-request-id".into(), REQUEST_ID.into()))
    );
}

#[test]
fn a_refused_token_or_unexpected_json_is_a_502() {
    let backend = ScriptedBackend::default()
        .answer(
            "/api/audit?limit=50",
            401,
            &json!({"title": "Unauthorized"}),
        )
        .answer("/api/releases?limit=20", 200, &json!({"unexpected": true}));
    assert_eq!(render("/audit", &backend).status, 502);
    assert_eq!(render("/releases", &backend).status, 502);
}

#[test]
fn a_misconfigured_console_says_so_without_the_value() {
    let backend = story();
    let (response, log) = render_with(
        &ConsoleRequest::get("/releases"),
        &backend,
        &[("backend_token", "secret with spaces")],
    );
    assert_eq!(response.status, 500);
    assert!(
        response
            .body_text()
            .contains("The console is misconfigured")
    );
    assert!(!response.body_text().contains("secret"));
    let error = log.error.unwrap();
    assert!(
        error.contains("backend_token") && !error.contains("secret with"),
        "{error}"
    );
    assert!(backend.sent_paths().is_empty());
}

#[test]
fn healthz_answers_without_the_backend() {
    let backend = ScriptedBackend::always(Fetched::TimedOut);
    let response = render("/healthz", &backend);
    assert_eq!((response.status, response.body_text()), (200, "ok\n"));
    assert!(backend.sent_paths().is_empty());
}

#[test]
fn other_methods_and_paths_get_readable_pages() {
    let backend = story();
    let (post, _) = render_with(&ConsoleRequest::new("POST", "/releases"), &backend, &[]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_accessible_page(&post);
    let missing = render("/nope", &backend);
    assert_eq!(missing.status, 404);
    assert!(missing.body_text().contains("<h1>Page not found</h1>"));
    assert_eq!(render("/static/nope.css", &backend).status, 404);
    let (head, _) = render_with(&ConsoleRequest::new("HEAD", "/"), &backend, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // Methods are case-sensitive: `get` is not GET.
    let (lowercase, _) = render_with(&ConsoleRequest::new("get", "/"), &backend, &[]);
    assert_eq!(lowercase.status, 405);
}
