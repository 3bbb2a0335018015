//! `POST /api/clusters/{name}/observations`: who may report, what is refused, and the drift the
//! answer and `/api/clusters` then show.

use super::support::*;

fn observation(digest: &str) -> Value {
    json!({"digest": digest, "observed_at": "2026-12-04T10:00:00Z",
           "source": "karmada:spinapp/automatizacion-backend"})
}

#[test]
fn observations_show_drift_and_bad_ones_are_refused() {
    let app = App::sqlite();
    app.clock.set(Some(
        Timestamp::parse_rfc3339("2026-12-04T10:01:00Z")
            .unwrap()
            .as_micros(),
    ));
    let report =
        |path: &str, body: Value, roles: &[&str]| app.send(post(path, body).by("kestra", roles));
    let path = "/api/clusters/staging/observations";
    let seen = report(path, observation(DIGEST), &["deployer"]);
    assert_eq!(seen.status, 201, "{}", seen.json_body());
    let status = seen.json_body();
    assert_eq!(status["name"], "staging");
    assert_eq!(status["observed"]["digest"], DIGEST);
    assert_eq!(status["drift"]["kind"], "unexpected_digest");
    let clusters = app.send(get("/api/clusters")).json_body();
    assert_eq!(clusters[0]["drift"], status["drift"]);

    problem(&report(path, observation(DIGEST), &["viewer"]), 403);
    problem(&app.send(post(path, observation(DIGEST))), 401);
    for (path, body, field) in [
        (
            "/api/clusters/prod-south/observations",
            observation(DIGEST),
            "name",
        ),
        (
            "/api/clusters/Prod_West/observations",
            observation(DIGEST),
            "name",
        ),
        (path, observation("sha256:abc"), "digest"),
        (
            path,
            json!({"digest": DIGEST, "observed_at": "yesterday", "source": "x"}),
            "observed_at",
        ),
        (
            path,
            json!({"digest": DIGEST, "observed_at": "2026-12-04T11:00:00Z", "source": "x"}),
            "observed_at",
        ),
        (
            path,
            json!({"digest": DIGEST, "observed_at": "2026-12-04T10:00:00Z"}),
            "source",
        ),
    ] {
        let refused = problem(&report(path, body, &["deployer"]), 422);
        assert!(
            refused["detail"].as_str().unwrap().contains(field),
            "{path}: {refused}"
        );
    }
    let audit = app.send(get("/api/audit?limit=100")).json_body();
    let drift: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("drift."))
        .collect();
    assert_eq!(
        drift.len(),
        1,
        "one start, and refusals record nothing: {audit}"
    );
    assert_eq!(drift[0]["target"], "cluster/staging");
}

/// A report made before the cluster's latest one is kept as history only: 200 (not 201), and
/// the status it answers is what the latest decides.
#[test]
fn a_late_observation_is_history_only() {
    let app = App::sqlite();
    app.clock.set(Some(
        Timestamp::parse_rfc3339("2026-12-04T10:01:00Z")
            .unwrap()
            .as_micros(),
    ));
    let path = "/api/clusters/staging/observations";
    let report = |digest: &str, at: &str| {
        let body = json!({"digest": digest, "observed_at": at, "source": "test"});
        app.send(post(path, body).by("kestra", &["deployer"]))
    };
    let latest = report(DIGEST, "2026-12-04T10:00:00Z");
    assert_eq!(latest.status, 201);
    let late = report(OTHER_DIGEST, "2026-12-04T09:00:00Z");
    assert_eq!(late.status, 200, "{}", late.body_text());
    assert_eq!(late.json_body()["observed"]["digest"], DIGEST);
    assert_eq!(late.json_body(), latest.json_body());
}
