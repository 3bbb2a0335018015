//! What each page shows, escaped, for what the backend answers.

use super::doubles::*;
use super::{accessible_page, assert_accessible_page, assert_holds};
use frontend::ConsoleRequest;
use serde_json::json;

#[test]
fn the_overview_shows_clusters_pending_approvals_latest_releases_and_who_served_it() {
    let backend = story();
    let response = accessible_page("/", &backend);
    let html = response.body_text();
    assert!(html.contains("Served by <strong>prod-east</strong> (eu-west-1)"));
    // The matrix: one row per cluster, current version linked, last event with its age.
    assert_holds(
        html,
        &[
            "<th scope=\"row\" data-label=\"Cluster\">staging</th>",
            "<th scope=\"row\" data-label=\"Cluster\">prod-west</th>",
            "<a href=\"/releases/1.4.0\">1.4.0</a>",
            "<span class=\"badge bad\">failed</span>",
        ],
    );
    assert!(html.contains(
        "<time datetime=\"2026-11-26T12:15:00.000Z\" title=\"2026-11-26 12:15:00 UTC\">2 h ago</time>"
    ));
    assert!(html.contains("<span class=\"none\">no events</span>"));
    // Pending approvals and latest releases.
    assert_holds(
        html,
        &[
            "requested by kestra",
            "<code title=\"sha256:0123456789abcdef",
        ],
    );
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
    let overview = |seconds| {
        let request = ConsoleRequest::get("/");
        render_with(&request, &backend, &[("refresh_seconds", seconds)]).0
    };
    let off = overview("0");
    assert!(off.body_text().contains("data-refresh-seconds=\"0\""));
    assert!(!off.body_text().contains("refreshed every"));
    let fast = overview("5");
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
    let response = accessible_page("/releases/1.4.0", &backend);
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
    assert_holds(
        html,
        &[
            "<h1>Release 1.4.0</h1>",
            "<code>ghcr.io/acme/automatizacion:1.4.0</code>",
        ],
    );
    assert!(html.contains(&format!("<code>{DIGEST}</code>")));
    // One timeline per cluster, in the order the clusters first saw the release.
    let staging = html.find("<h3 id=\"cluster-1\">staging").unwrap();
    let east = html.find("<h3 id=\"cluster-2\">prod-east").unwrap();
    assert!(staging < east);
    assert_eq!(html[staging..east].matches("<li>").count(), 2);
    assert!(html.contains("<a href=\"https://kestra.example/executions/7\""));
    // The approval, its decision and the comment.
    assert_holds(
        html,
        &["<span class=\"badge ok\">approved</span>", "by alice"],
    );
    // The pipeline's account recorded and asked for the person who pushed the tag.
    assert!(
        html.contains("<dt>Created</dt><dd>by kestra for dave,"),
        "{html}"
    );
    assert_holds(
        html,
        &[
            "<dt>Requested</dt><dd>by kestra for dave,",
            "Ship it — staging is green.",
            "First release.\nSecond line.",
        ],
    );
}

/// A staged rollout's stage shows its analysis: the verdict and why, both windows' figures,
/// and each query as a link to Prometheus (only safe links become links).
#[test]
fn a_release_page_shows_each_stage_with_its_analysis() {
    let mut detail = release("1.4.0", "Notes.");
    let analysis = json!({
        "verdict": "failed", "reasons": ["error share 20.00 % above the 5.00 % allowed"],
        "window_seconds": 300, "since": "2026-11-26T14:00:00.000Z",
        "before": {"requests": 1200.0, "errors": 1.0, "p99_seconds": 0.04},
        "after": {"requests": 200.0, "errors": 40.0, "p99_seconds": null},
        "limits": {"min_requests": 50.0, "max_error_share": 0.05, "max_p99_seconds": 0.5,
                   "max_error_share_rise": 0.01, "max_p99_growth": 1.5},
        "queries": {"requests": "r", "errors": "e", "p99_seconds": "p"},
        "links": ["http://prometheus:9090/graph?g0.expr=r", "javascript:alert(1)",
                  "http://prometheus:9090/graph?g0.expr=p"]});
    detail["deployments"] = json!([
        {"id": 1, "version": "1.4.0", "cluster": "prod-west", "environment": "production",
         "status": "failed", "message": "stopped", "execution_url": null,
         "recorded_by": "kestra", "recorded_at": "2026-11-26T14:10:00.000Z",
         "analysis": analysis},
    ]);
    let backend = ScriptedBackend::default().answer("/api/releases/1.4.0", 200, &detail);
    let html = render("/releases/1.4.0", &backend).body_text().to_owned();
    assert_holds(
        &html,
        &[
            "Analysis <span class=\"badge bad\">failed</span> over 300 s windows: error share \
             20.00 % above the 5.00 % allowed",
            "<dt>after</dt><dd>200 requests, 40 errors (20.0 %), p99 none</dd>",
            "<dt>before</dt><dd>1200 requests, 1 errors (0.1 %), p99 0.040 s</dd>",
            "<a href=\"http://prometheus:9090/graph?g0.expr=r\" rel=\"noopener noreferrer\">\
             requests</a>",
            ">p99</a>",
        ],
    );
    assert!(!html.contains("javascript:"), "{html}");
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
fn approvals_filter_by_state() {
    let backend = ScriptedBackend::default().answer(
        "/api/approvals?state=pending&limit=20",
        200,
        &json!({"items": [pending_approval("1.4.0")], "next_cursor": "7"}),
    );
    let response = accessible_page("/approvals?state=pending", &backend);
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
    let response = accessible_page("/audit", &backend);
    let html = response.body_text();
    assert_holds(
        html,
        &[
            "<a href=\"/releases/1.4.0\">release/1.4.0</a>",
            "<code>approval.decided</code>",
            "2 min ago",
            "<td data-label=\"Actor\">kestra for dave</td>",
        ],
    );
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
        .answer(
            "/api/insights?environment=production&days=30",
            200,
            &insights(),
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
