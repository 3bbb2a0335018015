//! `/insights`: the four keys as figures with their DORA level, each chart named and described
//! for a screen reader with its data behind a `<details>`, "no data" where nothing was
//! measured, only the windows the page offers; and drift in the overview's cluster matrix.

use super::doubles::*;
use super::{accessible_page, assert_accessible_page, assert_holds};
use serde_json::json;

#[test]
fn the_four_keys_are_figures_levels_and_described_charts() {
    let backend = ScriptedBackend::default().answer(
        "/api/insights?environment=production&days=30",
        200,
        &insights(),
    );
    let html = accessible_page("/insights", &backend)
        .body_text()
        .to_owned();
    assert_holds(
        &html,
        &[
            "<h1>Delivery insights</h1>",
            "<span class=\"value\">0.5 per week</span> <span class=\"badge wait\">medium",
            "<span class=\"value\">2 h 0 min median</span> <span class=\"badge ok\">elite",
            "p90 1 d 2 h, from commit, 2 releases",
            "<span class=\"value\">25 %</span> <span class=\"badge bad\">low",
            "<span class=\"value\">30 min median</span> <span class=\"badge ok\">elite",
            "<title id=\"frequency-title\">Deployments per week</title>",
            "<desc id=\"lead-time-desc\">Line: each week&#39;s median hours from commit",
            "aria-labelledby=\"restore-title restore-desc\"",
            "<summary>Data for change failure rate</summary>",
            "<tr><th scope=\"row\">Nov 16</th><td>1 of 4</td></tr>",
            "<tr><th scope=\"row\">Nov 23</th><td>no data</td></tr>",
            "<a href=\"/insights?environment=production&#38;days=90\">90 days</a>",
            "id=\"levels\"",
        ],
    );
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 4);
    assert_eq!(html.matches("<details>").count(), 4);
    // The busy week has a bar in each bar chart; the empty one none.
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 3);
    assert!(
        html.contains("<polyline class=\"line\""),
        "the lead time line"
    );
    assert!(
        !html.contains("style="),
        "colours come from the stylesheet (CSP)"
    );
}

#[test]
fn a_window_with_nothing_says_no_data() {
    let mut quiet = insights();
    quiet["deployments_per_week"] = json!(null);
    quiet["summary"] = quiet["weeks"][1].clone();
    quiet["summary"].as_object_mut().unwrap().remove("starts");
    let backend =
        ScriptedBackend::default().answer("/api/insights?environment=staging&days=90", 200, &quiet);
    let html = accessible_page("/insights?environment=staging&days=90", &backend)
        .body_text()
        .to_owned();
    assert_eq!(
        html.matches("<span class=\"value\">no data</span>").count(),
        4
    );
    assert!(!html.contains("class=\"badge"), "no level without a figure");
}

#[test]
fn only_the_offered_windows_are_asked_for() {
    for path in [
        "/insights?days=7",
        "/insights?days=abc",
        "/insights?environment=qa",
    ] {
        let backend = ScriptedBackend::default();
        let response = render(path, &backend);
        assert_eq!(response.status, 400, "{path}");
        assert_accessible_page(&response);
        assert!(backend.sent_paths().is_empty(), "{path}");
    }
}

#[test]
fn the_overview_shows_drift_and_links_to_insights() {
    let mut overview = json!({
        "info": info(),
        "clusters": clusters(),
        "pending_approvals": {"items": [], "next_cursor": null},
        "releases": {"items": [], "next_cursor": null},
    });
    overview["clusters"][2]["drift"] = json!({"kind": "unexpected_digest",
        "summary": "prod-west runs sha256:333333333333… (unknown to the ledger), expected 1.4.0 (sha256:0123456789ab…)"});
    overview["clusters"][1]["rolling_out"] = json!("1.5.0");
    let backend = ScriptedBackend::default().answer("/api/overview", 200, &overview);
    let html = accessible_page("/", &backend).body_text().to_owned();
    assert_holds(
        &html,
        &[
            "<span class=\"badge bad\">drift</span>",
            "prod-west runs sha256:333333333333… (unknown to the ledger), expected 1.4.0",
            "<a href=\"/insights\">",
            // A rollout under way is shown as one, not as drift.
            "<span class=\"badge wait\">rolling out</span><span class=\"message\">seen running \
             <a href=\"/releases/1.5.0\">1.5.0</a>",
        ],
    );
    assert_eq!(
        html.matches(">drift</span>").count(),
        1,
        "one cluster drifts"
    );
}
