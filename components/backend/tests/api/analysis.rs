//! A stage's analysis on the event that ended it: kept whole through the API on both
//! databases, refused with its field when it could not be an analysis or comes with an event
//! that ends no stage; and a canary stopped by one counts as a failed change.

use super::support::*;

fn analysis(verdict: &str, reasons: &[&str]) -> Value {
    json!({
        "verdict": verdict,
        "reasons": reasons,
        "window_seconds": 300,
        "since": "2026-12-06T09:30:00.000Z",
        "before": {"requests": 1200.0, "errors": 1.0, "p99_seconds": 0.04},
        "after": {"requests": 200.0, "errors": 40.0, "p99_seconds": null},
        "limits": {"min_requests": 50.0, "max_error_share": 0.05, "max_p99_seconds": 0.5,
                   "max_error_share_rise": 0.01, "max_p99_growth": 1.5},
        "queries": {"requests": "sum(increase(r[300s]))", "errors": "sum(increase(e[300s]))",
                    "p99_seconds": "histogram_quantile(0.99, b)"},
        "links": ["http://prometheus:9090/graph?g0.expr=sum%28r%29"],
    })
}

fn kept_and_refused(app: App) {
    let kestra = ["deployer"];
    let created =
        app.send(post("/api/releases", release_body("1.0.0", DIGEST)).by("kestra", &kestra));
    assert_eq!(created.status, 201, "{}", created.json_body());
    let deploy = |event: Value| {
        app.send(post("/api/releases/1.0.0/deployments", event).by("kestra", &kestra))
    };
    assert_eq!(
        deploy(json!({"cluster": "staging", "status": "succeeded"})).status,
        201
    );
    let request = ApiRequest::new("POST", "/api/releases/1.0.0/approval").by("kestra", &kestra);
    assert_eq!(app.send(request).status, 201);
    let decision = json!({"decision": "approve", "comment": "ok"});
    let decide = post("/api/releases/1.0.0/approval/decision", decision);
    assert_eq!(app.send(decide.by("alice", &["approver"])).status, 200);

    let failed = analysis("failed", &["error share 20.00 % above the 5.00 % allowed"]);
    for (status, analysis) in [
        ("started", None),
        ("failed", Some(&failed)),
        ("rolled_back", None),
    ] {
        let mut event = json!({"cluster": "prod-west", "status": status});
        if let Some(analysis) = analysis {
            event["analysis"] = analysis.clone();
        }
        let sent = deploy(event);
        assert_eq!(sent.status, 201, "{}", sent.json_body());
        assert_eq!(
            sent.json_body()["analysis"],
            analysis.cloned().unwrap_or(Value::Null)
        );
    }
    let release = app.send(get("/api/releases/1.0.0")).json_body();
    let events = release["deployments"].as_array().unwrap();
    assert_eq!(events[2]["analysis"], failed, "kept whole");
    assert_eq!(events[1]["analysis"], Value::Null);

    let refused = |analysis: Value, status: &str| {
        let event = json!({"cluster": "prod-east", "status": status, "analysis": analysis});
        problem(&deploy(event), 422)
    };
    let why = refused(analysis("passed", &[]), "started");
    assert_eq!(why["field"], "analysis");
    let mut negative = analysis("passed", &[]);
    negative["after"]["errors"] = json!(-1.0);
    assert_eq!(refused(negative, "succeeded")["field"], "analysis");
    assert_eq!(
        refused(analysis("inconclusive", &[]), "failed")["field"],
        "analysis"
    );
    let mut unknown = analysis("passed", &[]);
    unknown["colour"] = json!("blue");
    let answer =
        deploy(json!({"cluster": "prod-east", "status": "succeeded", "analysis": unknown}));
    assert!(
        (400..500).contains(&answer.status),
        "{}",
        answer.json_body()
    );
    let release = app.send(get("/api/releases/1.0.0")).json_body();
    assert_eq!(
        release["deployments"].as_array().unwrap().len(),
        4,
        "refusals wrote nothing"
    );

    // The canary stopped: one failed change on prod-west, none elsewhere.
    let insights = app
        .send(get("/api/insights?days=7").by("viewer", &["viewer"]))
        .json_body();
    let failures = &insights["summary"]["change_failure_rate"];
    assert_eq!(failures["failed"], 1, "{insights}");
    assert_eq!(failures["rollouts"], 1, "{insights}");
}

#[test]
fn an_analysis_is_kept_whole_on_sqlite() {
    kept_and_refused(App::sqlite());
}

#[test]
fn an_analysis_is_kept_whole_on_postgres() {
    kept_and_refused(App::postgres());
}
