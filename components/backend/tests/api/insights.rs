//! `GET /api/insights` and the commit time it measures from: bounds, roles, and one history
//! through the API on both databases. (The figures over a long history are the ledger's
//! tests; this checks the route hands them over whole.)

use super::support::*;

const HOUR: i64 = 3_600_000_000;

fn at(app: &App, text: &str) {
    app.clock
        .set(Some(Timestamp::parse_rfc3339(text).unwrap().as_micros()));
}

fn insights_of(app: App) {
    let kestra = ["deployer"];
    at(&app, "2026-11-30T10:00:00Z");
    let mut body = release_body("1.0.0", DIGEST);
    body["commit_time"] = json!("2026-11-30T09:00:00+01:00");
    let created = app.send(post("/api/releases", body).by("kestra", &kestra));
    assert_eq!(created.status, 201, "{}", created.json_body());
    assert_eq!(
        created.json_body()["commit_time"],
        "2026-11-30T08:00:00.000Z"
    );
    let deploy = |cluster: &str, status: &str| {
        let event = json!({"cluster": cluster, "status": status});
        let sent = app.send(post("/api/releases/1.0.0/deployments", event).by("kestra", &kestra));
        assert_eq!(sent.status, 201, "{}", sent.json_body());
    };
    deploy("staging", "succeeded");
    let request = ApiRequest::new("POST", "/api/releases/1.0.0/approval").by("kestra", &kestra);
    assert_eq!(app.send(request).status, 201);
    let decision = json!({"decision": "approve", "comment": "ok"});
    let decide = post("/api/releases/1.0.0/approval/decision", decision);
    assert_eq!(app.send(decide.by("alice", &["approver"])).status, 200);
    at(&app, "2026-11-30T14:00:00Z");
    deploy("prod-east", "succeeded");

    at(&app, "2026-12-04T12:00:00Z");
    let answer = app.send(get("/api/insights?days=7").by("viewer", &["viewer"]));
    assert_eq!(answer.status, 200, "{}", answer.json_body());
    let body = answer.json_body();
    assert_eq!(body["environment"], "production");
    assert_eq!(
        (body["days"].as_i64(), body["deployments_per_week"].as_f64()),
        (Some(7), Some(1.0))
    );
    let summary = &body["summary"];
    assert_eq!(summary["deployments"], 1);
    assert_eq!(
        summary["lead_time_from_commit"]["median_seconds"],
        6 * HOUR / 1_000_000
    );
    assert_eq!(
        summary["lead_time_from_recording"]["p90_seconds"],
        4 * HOUR / 1_000_000
    );
    assert_eq!(summary["change_failure_rate"]["rate"], 0.0);
    assert_eq!(summary["time_to_restore"], Value::Null);
    let weeks: Vec<&str> = body["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["starts"].as_str().unwrap())
        .collect();
    assert_eq!(
        weeks,
        ["2026-11-23T00:00:00.000Z", "2026-11-30T00:00:00.000Z"]
    );
    assert_eq!(body["weeks"][1]["deployments"], 1);

    let staging =
        app.send(get("/api/insights?environment=staging&days=366").by("viewer", &["viewer"]));
    assert_eq!(staging.json_body()["summary"]["deployments"], 1);
}

#[test]
fn insights_answer_on_sqlite() {
    insights_of(App::sqlite());
}

#[test]
fn insights_answer_on_postgres() {
    insights_of(App::postgres());
}

#[test]
fn insights_refuse_what_they_cannot_measure() {
    let app = App::sqlite();
    let viewer = |path: &str| app.send(get(path).by("viewer", &["viewer"]));
    for (path, field) in [
        ("/api/insights?days=0", "days"),
        ("/api/insights?days=367", "days"),
        ("/api/insights?days=7.5", "days"),
        ("/api/insights?environment=qa", "environment"),
        ("/api/insights?environment=Production", "environment"),
        ("/api/insights?window=7", "window"),
    ] {
        let refused = problem(&viewer(path), 422);
        assert!(
            refused["detail"].as_str().unwrap().contains(field),
            "{path}: {refused}"
        );
    }
    let closed = App::sqlite().var("public_read", "false");
    problem(&closed.send(get("/api/insights")), 401);

    at(&app, "2026-12-04T12:00:00Z");
    for bad in [
        "2026-11-30T09:00:00",
        "2026-11-30",
        "yesterday",
        "2026-02-30T00:00:00Z",
        // A commit is made before its release: not after now and the committer's clock skew,
        // nor before 1970.
        "2026-12-04T12:05:01Z",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
    ] {
        let mut body = release_body("2.0.0", DIGEST);
        body["commit_time"] = json!(bad);
        let refused = problem(
            &app.send(post("/api/releases", body).by("kestra", &["deployer"])),
            422,
        );
        assert!(
            refused["detail"].as_str().unwrap().contains("commit_time"),
            "{bad}: {refused}"
        );
    }
    assert_eq!(viewer("/api/releases").json_body()["items"], json!([]));
}
