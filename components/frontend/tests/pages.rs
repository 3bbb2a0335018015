//! The console's pages rendered natively against a scripted backend: what each page shows,
//! that everything is escaped, and how each failure looks.

mod doubles;

use doubles::*;
use frontend::ConsoleRequest;
use frontend::backend::Fetched;
use serde_json::json;

/// What every full page must have: landmarks, one h1, labelled tables, and the headers that
/// keep injected scripts from running.
fn assert_accessible_page(response: &frontend::ConsoleResponse) {
    let html = response.body_text();
    for landmark in [
        "<html lang=\"en\">",
        "<header",
        "<nav aria-label=\"Main\">",
        "<main",
        "<footer",
    ] {
        assert!(html.contains(landmark), "missing {landmark}");
    }
    assert!(html.contains("name=\"viewport\""));
    assert_eq!(html.matches("<h1>").count(), 1, "one h1");
    assert_eq!(
        html.matches("<table").count(),
        html.matches("<caption>").count()
    );
    let csp = response.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        !html.contains("<script>"),
        "no inline script, and nothing unescaped"
    );
}

#[test]
fn the_overview_shows_clusters_pending_approvals_latest_releases_and_who_served_it() {
    let backend = story();
    let response = render("/", &backend);
    assert_eq!(response.status, 200);
    assert_accessible_page(&response);
    let html = response.body_text();
    assert!(html.contains("Served by <strong>prod-east</strong> (eu-west-1)"));
    // The matrix: one row per cluster, current version linked, last event with its age.
    assert!(html.contains("<th scope=\"row\" data-label=\"Cluster\">staging</th>"));
    assert!(html.contains("<th scope=\"row\" data-label=\"Cluster\">prod-west</th>"));
    assert!(html.contains("<a href=\"/releases/1.4.0\">1.4.0</a>"));
    assert!(html.contains("<span class=\"badge bad\">failed</span>"));
    assert!(html.contains(
        "<time datetime=\"2026-11-26T12:15:00.000Z\" title=\"2026-11-26 12:15:00 UTC\">2 h ago</time>"
    ));
    assert!(html.contains("<span class=\"none\">no events</span>"));
    // Pending approvals and latest releases.
    assert!(html.contains("requested by kestra"));
    assert!(html.contains("<code title=\"sha256:0123456789abcdef"));
    // Data refreshes every 15 s by default.
    assert!(html.contains("data-refresh-seconds=\"15\""));
    // One call: the backend reads it all from one connection.
    assert_eq!(backend.sent_paths(), ["/api/overview"]);
}

#[test]
fn the_overview_fragment_is_only_the_live_part() {
    let response = render("/fragments/overview", &story());
    assert_eq!(response.status, 200);
    let html = response.body_text();
    assert!(html.starts_with("<div id=\"live\""), "{html}");
    assert!(!html.contains("<html"));
    assert!(html.contains("prod-east"));
}

#[test]
fn the_refresh_interval_is_configurable_and_can_be_turned_off() {
    let backend = story();
    let off = render_with(
        &ConsoleRequest::get("/"),
        &backend,
        &[("refresh_seconds", "0")],
    )
    .0;
    assert!(off.body_text().contains("data-refresh-seconds=\"0\""));
    assert!(!off.body_text().contains("refreshed every"));
    let fast = render_with(
        &ConsoleRequest::get("/"),
        &backend,
        &[("refresh_seconds", "5")],
    )
    .0;
    assert!(fast.body_text().contains("refreshed every 5 s"));
}

#[test]
fn scripts_in_notes_messages_and_comments_come_out_as_text() {
    let mut approval = pending_approval("1.4.0");
    approval["state"] = json!("rejected");
    approval["decided_by"] = json!("alice");
    approval["decided_at"] = json!("2026-11-26T14:13:00.000Z");
    approval["comment"] = json!("\"><img src=x onerror=alert(1)>");
    let mut detail = release("1.4.0", SCRIPT);
    detail["deployments"] = json!([{
        "id": 1, "version": "1.4.0", "cluster": "staging", "environment": "staging",
        "status": "failed", "message": SCRIPT, "execution_url": "javascript:alert(1)",
        "recorded_by": "kestra", "recorded_at": "2026-11-26T14:11:00.000Z"}]);
    detail["approval"] = approval;
    let backend = ScriptedBackend::default().answer("/api/releases/1.4.0", 200, &detail);
    let response = render("/releases/1.4.0", &backend);
    assert_eq!(response.status, 200);
    assert_accessible_page(&response);
    let html = response.body_text();
    assert!(!html.contains(SCRIPT));
    assert!(
        html.contains("&#60;script&#62;window.__pwned = 1&#60;/script&#62;")
            || html.contains("&lt;script&gt;window.__pwned = 1&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<img"));
    assert!(
        !html.contains("href=\"javascript:"),
        "only http(s) links become hrefs"
    );
    // The overview escapes the deployment message too.
    let overview = render("/", &story());
    assert!(!overview.body_text().contains(SCRIPT));
}

#[test]
fn a_release_page_shows_artifact_digest_timeline_per_cluster_and_the_decision() {
    let mut detail = release("1.4.0", "First release.\nSecond line.");
    detail["on_behalf_of"] = "dave".into();
    let event = |cluster: &str, env: &str, status: &str, at: &str| {
        json!({
        "id": 1, "version": "1.4.0", "cluster": cluster, "environment": env, "status": status,
        "message": null, "execution_url": "https://kestra.example/executions/7",
        "recorded_by": "kestra", "recorded_at": at})
    };
    detail["deployments"] = json!([
        event("staging", "staging", "started", "2026-11-26T14:10:30.000Z"),
        event(
            "staging",
            "staging",
            "succeeded",
            "2026-11-26T14:11:00.000Z"
        ),
        event(
            "prod-east",
            "production",
            "started",
            "2026-11-26T14:14:00.000Z"
        ),
    ]);
    detail["approval"] = json!({
        "version": "1.4.0", "state": "approved", "requested_by": "kestra",
        "on_behalf_of": "dave",
        "requested_at": "2026-11-26T14:12:00.000Z", "decided_by": "alice",
        "decided_at": "2026-11-26T14:13:00.000Z", "comment": "Ship it — staging is green."});
    let backend = ScriptedBackend::default().answer("/api/releases/1.4.0", 200, &detail);
    let response = render("/releases/1.4.0", &backend);
    assert_eq!(response.status, 200);
    let html = response.body_text();
    assert!(html.contains("<h1>Release 1.4.0</h1>"));
    assert!(html.contains("<code>ghcr.io/acme/automatizacion:1.4.0</code>"));
    assert!(html.contains(&format!("<code>{DIGEST}</code>")));
    // One timeline per cluster, in the order the clusters first saw the release.
    let staging = html.find("<h3 id=\"cluster-1\">staging").unwrap();
    let east = html.find("<h3 id=\"cluster-2\">prod-east").unwrap();
    assert!(staging < east);
    assert_eq!(html[staging..east].matches("<li>").count(), 2);
    assert!(html.contains("<a href=\"https://kestra.example/executions/7\""));
    // The approval, its decision and the comment.
    assert!(html.contains("<span class=\"badge ok\">approved</span>"));
    assert!(html.contains("by alice"));
    // The pipeline's account recorded and asked for the person who pushed the tag.
    assert!(
        html.contains("<dt>Created</dt><dd>by kestra for dave,"),
        "{html}"
    );
    assert!(html.contains("<dt>Requested</dt><dd>by kestra for dave,"));
    assert!(html.contains("Ship it — staging is green."));
    assert!(html.contains("First release.\nSecond line."));
}

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

#[test]
fn what_cannot_be_a_version_is_a_404_without_asking_the_backend() {
    let backend = ScriptedBackend::default();
    for path in [
        "/releases/..%2F..%2Fapi%2Faudit",
        "/releases/%3Cb%3E",
        "/releases/a%20b",
    ] {
        let response = render(path, &backend);
        assert_eq!(response.status, 404, "{path}");
        assert!(!response.body_text().contains("<b>"));
    }
    assert!(backend.sent_paths().is_empty());
}

#[test]
fn lists_page_through_the_backends_cursor() {
    let page = |cursor: Option<&str>| {
        json!({
        "items": [release("1.3.0", "")], "next_cursor": cursor })
    };
    let backend = ScriptedBackend::default()
        .answer("/api/releases?limit=20", 200, &page(Some("41")))
        .answer("/api/releases?limit=20&cursor=41", 200, &page(None));
    let first = render("/releases", &backend);
    assert_eq!(first.status, 200);
    assert_accessible_page(&first);
    assert!(
        first
            .body_text()
            .contains("<a href=\"/releases?cursor=41\" rel=\"next\">Older →</a>")
    );
    assert!(!first.body_text().contains("Newest"));
    let second = render("/releases?cursor=41", &backend);
    assert!(
        second
            .body_text()
            .contains("<a href=\"/releases\">← Newest</a>")
    );
    assert!(!second.body_text().contains("Older"));
}

#[test]
fn a_hand_edited_page_link_is_a_400_page() {
    let backend = ScriptedBackend::default();
    for path in [
        "/releases?cursor=abc",
        "/audit?cursor=-1",
        "/approvals?state=maybe",
    ] {
        let response = render(path, &backend);
        assert_eq!(response.status, 400, "{path}");
        assert_accessible_page(&response);
    }
    assert!(backend.sent_paths().is_empty());
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
fn approvals_filter_by_state() {
    let backend = ScriptedBackend::default().answer(
        "/api/approvals?state=pending&limit=20",
        200,
        &json!({"items": [pending_approval("1.4.0")], "next_cursor": "7"}),
    );
    let response = render("/approvals?state=pending", &backend);
    assert_eq!(response.status, 200);
    assert_accessible_page(&response);
    let html = response.body_text();
    assert!(
        html.contains("<a href=\"/approvals?state=pending\" aria-current=\"true\">pending</a>")
    );
    assert!(html.contains("<h2 id=\"approvals-heading\">Approvals: pending</h2>"));
    assert!(
        html.contains("href=\"/approvals?state=pending&#38;cursor=7\"")
            || html.contains("href=\"/approvals?state=pending&amp;cursor=7\""),
        "{html}"
    );
    assert!(html.contains("<span class=\"none\">not yet</span>"));
}

#[test]
fn the_audit_log_links_release_targets() {
    let backend = ScriptedBackend::default().answer(
        "/api/audit?limit=50",
        200,
        &json!({"items": [{"id": 3, "at": "2026-11-26T14:13:00.000Z", "actor": "alice",
            "action": "approval.decided", "target": "release/1.4.0", "request_id": "r-1",
            "detail": "approve"}, {"id": 2, "at": "2026-11-26T14:12:00.000Z", "actor": "kestra",
            "on_behalf_of": "dave", "action": "approval.requested", "target": "release/1.4.0",
            "request_id": "r-0", "detail": null}], "next_cursor": null}),
    );
    let response = render("/audit", &backend);
    assert_eq!(response.status, 200);
    assert_accessible_page(&response);
    let html = response.body_text();
    assert!(html.contains("<a href=\"/releases/1.4.0\">release/1.4.0</a>"));
    assert!(html.contains("<code>approval.decided</code>"));
    assert!(html.contains("2 min ago"));
    assert!(html.contains("<td data-label=\"Actor\">kestra for dave</td>"));
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
fn the_console_sends_its_own_token_and_never_the_browsers_credentials() {
    let backend = story();
    let req = ConsoleRequest::get("/")
        .header("authorization", "Bearer browser-token")
        .header("cookie", "session=browser-cookie");
    render_with(&req, &backend, &[("backend_token", "viewer-token")]);
    for outgoing in backend.sent.borrow().iter() {
        let names: Vec<&str> = outgoing.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["accept", "x-request-id", "traceparent", "authorization"]
        );
        assert!(
            outgoing
                .headers
                .contains(&("authorization".into(), "Bearer viewer-token".into()))
        );
        assert!(
            outgoing
                .url
                .starts_with("http://backend.spin.internal/api/")
        );
    }
    // Without a configured token, no authorization header at all.
    let anonymous = story();
    render_with(&req, &anonymous, &[]);
    assert!(
        anonymous
            .sent
            .borrow()
            .iter()
            .all(|o| o.headers.iter().all(|(n, _)| n != "authorization"))
    );
}

#[test]
fn a_configured_backend_url_is_used() {
    let backend = story();
    render_with(
        &ConsoleRequest::get("/"),
        &backend,
        &[(
            "backend_url",
            "http://automatizacion-backend.automatizacion.svc.cluster.local/",
        )],
    );
    assert!(backend.sent.borrow().iter().all(|o| {
        o.url
            .starts_with("http://automatizacion-backend.automatizacion.svc.cluster.local/api/")
    }));
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

#[test]
fn every_route_is_reachable() {
    let backend = story()
        .answer(
            "/api/releases?limit=20",
            200,
            &json!({"items": [], "next_cursor": null}),
        )
        .answer(
            "/api/approvals?limit=20",
            200,
            &json!({"items": [], "next_cursor": null}),
        )
        .answer(
            "/api/audit?limit=50",
            200,
            &json!({"items": [], "next_cursor": null}),
        )
        .answer("/api/releases/1.4.0", 200, &{
            let mut d = release("1.4.0", "");
            d["deployments"] = json!([]);
            d["approval"] = json!(null);
            d
        });
    for route in frontend::ROUTES {
        let path = route
            .replace("{version}", "1.4.0")
            .replace("{asset}", "console.css");
        let (response, log) = render_with(&ConsoleRequest::get(&path), &backend, &[]);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(log.route, *route);
    }
}

#[test]
fn backend_calls_carry_the_pages_trace_with_the_consoles_span() {
    // A caller's trace continues: its id, the console's span as the parent.
    let backend = story();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let req = ConsoleRequest::get("/").header("traceparent", caller);
    let (_, log) = render_with(&req, &backend, &[]);
    assert_eq!(log.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    let sent = backend.sent.borrow();
    assert!(!sent.is_empty());
    for outgoing in sent.iter() {
        let expected = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{SPAN_ID}-01");
        assert!(
            outgoing.headers.contains(&("traceparent".into(), expected)),
            "{:?}",
            outgoing.headers
        );
    }
    drop(sent);
    // Without one (or with one that is not W3C), the page starts its own trace.
    for req in [
        ConsoleRequest::get("/"),
        ConsoleRequest::get("/").header("traceparent", "00-XYZ"),
    ] {
        let backend = story();
        let (_, log) = render_with(&req, &backend, &[]);
        assert_eq!(log.trace_id, TRACE_ID);
        let expected = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        assert!(
            backend.sent.borrow()[0]
                .headers
                .contains(&("traceparent".into(), expected))
        );
    }
}
