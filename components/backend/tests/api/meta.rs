//! Health, readiness and build information; request ids, trace ids and log lines; unknown routes
//! and methods; failures that must not leak.

use super::support::*;

#[test]
fn health_ready_and_info() {
    let app = App::sqlite()
        .var("cluster_name", "prod-east")
        .var("region", "eu-west-1");
    let health = app.send(get("/api/health"));
    assert_eq!(
        (health.status, health.json_body()),
        (200, json!({"status": "ok"}))
    );
    let ready = app.send(get("/api/ready")).json_body();
    assert_eq!(
        ready,
        json!({"status": "ready", "schema_version": ledger::migrations::LATEST})
    );
    let info = app.send(get("/api/info")).json_body();
    assert_eq!(
        (info["cluster_name"].as_str(), info["region"].as_str()),
        (Some("prod-east"), Some("eu-west-1"))
    );
    assert_eq!(info["version"], backend::VERSION);
    assert_eq!(info["commit"], backend::COMMIT);
}

#[test]
fn request_ids_are_echoed_or_generated() {
    let app = App::sqlite();
    let given = app.send(get("/api/health").header("x-request-id", "kestra-run-7"));
    assert_eq!(given.header("x-request-id"), Some("kestra-run-7"));
    let unusable = app.send(get("/api/nope").header("x-request-id", "has spaces"));
    // The host's fresh id for this, the app's second request.
    assert_eq!(unusable.header("x-request-id"), Some("generated-id-2"));
    assert_eq!(problem(&unusable, 404)["request_id"], "generated-id-2");
}

#[test]
fn the_log_line_carries_the_callers_trace_or_a_new_one() {
    let app = App::sqlite();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (_, log) = app.call(get("/api/health").header("traceparent", caller));
    assert_eq!(log.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    for unusable in [
        "",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "garbage",
    ] {
        let (_, log) = app.call(get("/api/health").header("traceparent", unusable));
        assert_eq!(
            log.trace_id, "0af7651916cd43dd8448eb211c80319c",
            "{unusable:?}"
        );
    }
    let (_, log) = app.call(get("/api/health"));
    let line: Value = serde_json::from_str(&log.to_line()).unwrap();
    assert_eq!(line["trace_id"], "0af7651916cd43dd8448eb211c80319c");
}

#[test]
fn unknown_routes_and_wrong_methods() {
    let app = App::sqlite();
    problem(&app.send(get("/api/nothing-here")), 404);
    problem(&app.send(get("/api/releases/1.0.0/unknown")), 404);
    let wrong = app.send(ApiRequest::new("DELETE", "/api/releases"));
    problem(&wrong, 405);
    assert_eq!(wrong.header("allow"), Some("GET, HEAD, POST"));
    assert_eq!(
        app.send(get("/api/releases/1.0.0/deployments"))
            .header("allow"),
        Some("POST")
    );
    // Methods are case-sensitive: `post` is not POST, so nothing is recorded by it.
    let lowercase = app.send(
        ApiRequest::new("post", "/api/releases")
            .header("authorization", &bearer("kestra", &["deployer"]))
            .json(&release_body("1.0.0", DIGEST)),
    );
    problem(&lowercase, 405);
    // HEAD is GET without a body, on every GET route.
    let head = app.send(ApiRequest::new("HEAD", "/api/releases"));
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-type"), Some("application/json"));
    let listed = app.send(get("/api/releases")).json_body();
    assert_eq!(
        listed["items"],
        json!([]),
        "the lowercase POST recorded nothing"
    );
    for response in [&head, &lowercase, &wrong] {
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    }
    problem(&app.send(get("/api/releases/not-a-version")), 404);
    problem(&app.send(get("/api/releases/9.9.9")), 404);
}

#[test]
fn access_logs_carry_no_secrets() {
    let app = App::sqlite();
    let auth = bearer("kestra", &["deployer"]);
    let (response, log) = app.call(
        post("/api/releases", release_body("1.0.0", DIGEST))
            .header("authorization", &auth)
            .header("x-request-id", "r-1"),
    );
    assert_eq!(response.status, 201);
    let line = log.to_line();
    let parsed: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(parsed["method"], "POST");
    assert_eq!(parsed["route"], "/api/releases");
    assert_eq!(parsed["status"], 201);
    assert_eq!(parsed["request_id"], "r-1");
    assert_eq!(parsed["actor"], "kestra");
    assert!(parsed["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(parsed.get("error").is_none());
    let token = auth.trim_start_matches("Bearer ");
    assert!(
        !line.contains(token) && !line.contains(HMAC_KEY) && !line.contains("sha256"),
        "{line}"
    );

    let (_, anonymous) = app.call(get("/api/releases/9.9.9?secret=query"));
    assert!(!anonymous.to_line().contains("secret=query"));
    assert_eq!(
        (
            anonymous.actor.as_deref(),
            anonymous.route.as_str(),
            anonymous.status
        ),
        (Some("-"), "/api/releases/{version}", 422)
    );
}

#[test]
fn storage_and_configuration_failures_hide_their_detail() {
    let down = App::sqlite().var("db_url", "postgres://ledger:hunter2@127.0.0.1:1/ledger");
    let (response, log) = down.call(get("/api/ready"));
    let body = problem(&response, 503);
    assert!(
        !body.to_string().contains("hunter2") && !body.to_string().contains("127.0.0.1"),
        "{body}"
    );
    assert!(log.error.unwrap().contains("database unavailable"));
    assert_eq!(down.send(get("/api/health")).status, 200);

    let misconfigured = App::sqlite().var("clusters", "prod-east=prod");
    let (response, log) = misconfigured.call(get("/api/clusters"));
    problem(&response, 503);
    assert!(log.error.unwrap().contains("variable clusters"));
    let short_key = App::sqlite().var("auth_hmac_key", "short");
    problem(
        &short_key
            .send(post("/api/releases", release_body("1.0.0", DIGEST)).by("kestra", &["deployer"])),
        503,
    );
}
