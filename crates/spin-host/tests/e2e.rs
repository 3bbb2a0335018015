//! End to end: the real `backend.wasm`, served by the real `spin-host` binary over loopback
//! HTTP, once on the embedded SQLite store and once on PostgreSQL.

use host_harness as support;

use native_db::testing::TestDb;
use serde_json::json;
use support::{HostBuilder, release_body, token};

/// A host on SQLite, or on a fresh PostgreSQL database (kept alive as long as the host).
fn host(label: &str, postgres: bool) -> (support::Host, Option<TestDb>) {
    if !postgres {
        return (HostBuilder::new(label).start(), None);
    }
    let db = TestDb::postgres();
    let url = db.db_url().unwrap().to_owned();
    let authority = url
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let host = HostBuilder::new(label)
        .var("db_url", &url)
        .var("db_outbound_host", &format!("postgres://{authority}"))
        .start();
    (host, Some(db))
}

fn story(postgres: bool) {
    let (host, _db) = host("story", postgres);
    let kestra = token("kestra", &["deployer"]);
    let alice = token("alice", &["approver"]);
    let created = host.post_json("/api/releases", &kestra, &release_body("2.0.0"));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("content-type"), Some("application/json"));
    let deploy = |cluster: &str, status: &str| {
        host.post_json(
            "/api/releases/2.0.0/deployments",
            &kestra,
            &json!({"cluster": cluster, "status": status}),
        )
    };
    assert_eq!(deploy("staging", "succeeded").status, 201);
    let requested = host.post(
        "/api/releases/2.0.0/approval",
        Some(&kestra),
        "application/json",
        b"",
    );
    assert_eq!(requested.status, 201, "{}", requested.body);
    let decision = json!({"decision": "approve", "comment": "ok"});
    assert_eq!(
        host.post_json("/api/releases/2.0.0/approval/decision", &kestra, &decision)
            .status,
        403
    );
    let decided = host.post_json("/api/releases/2.0.0/approval/decision", &alice, &decision);
    assert_eq!(
        (decided.status, decided.json()["state"].clone()),
        (200, json!("approved"))
    );
    for cluster in ["prod-east", "prod-west"] {
        assert_eq!(deploy(cluster, "succeeded").status, 201);
    }
    let clusters = host.get("/api/clusters").json();
    for cluster in clusters.as_array().unwrap() {
        assert_eq!(cluster["current"]["version"], "2.0.0", "{cluster}");
    }
    let detail = host.get("/api/releases/2.0.0").json();
    assert_eq!(detail["deployments"].as_array().unwrap().len(), 3);
    assert_eq!(detail["approval"]["decided_by"], "alice");
    // The component's access log reaches stdout, one JSON line per request, without tokens.
    let log = host.stdout.lock().unwrap().join("\n");
    assert!(
        log.contains("\"route\":\"/api/releases/{version}/approval/decision\""),
        "{log}"
    );
    assert!(log.contains("\"actor\":\"alice\""));
    assert!(!log.contains(&kestra) && !log.contains(&alice));
}

fn auth_failures(postgres: bool) {
    let (host, _db) = host("auth", postgres);
    let create = |token: Option<&str>| {
        host.post(
            "/api/releases",
            token,
            "application/json",
            release_body("1.0.0").to_string().as_bytes(),
        )
    };
    let missing = create(None);
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert!(missing.header("www-authenticate").is_some());

    let roles = vec!["deployer".to_owned()];
    let mut expired = token::Claims::new(
        "kestra",
        &roles,
        60,
        token::DEFAULT_ISSUER,
        token::DEFAULT_AUDIENCE,
    );
    expired.exp -= 3600;
    expired.nbf -= 3600;
    expired.iat -= 3600;
    assert_eq!(
        create(Some(
            &token::mint_hs256(&expired, support::HMAC_KEY.as_bytes()).unwrap()
        ))
        .status,
        401
    );
    let forged = token::mint_hs256(
        &token::Claims::new(
            "kestra",
            &roles,
            60,
            token::DEFAULT_ISSUER,
            token::DEFAULT_AUDIENCE,
        ),
        b"some-other-key-0123456789abcdef0123456789",
    )
    .unwrap();
    assert_eq!(create(Some(&forged)).status, 401);
    let wrong_audience =
        token::Claims::new("kestra", &roles, 60, token::DEFAULT_ISSUER, "someone-else");
    assert_eq!(
        create(Some(
            &token::mint_hs256(&wrong_audience, support::HMAC_KEY.as_bytes()).unwrap()
        ))
        .status,
        401
    );
    let unsigned = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        forged.split('.').nth(1).unwrap()
    );
    assert_eq!(create(Some(&unsigned)).status, 401);
    assert_eq!(create(Some(&token("vera", &["viewer"]))).status, 403);
    assert_eq!(create(Some(&token("kestra", &["deployer"]))).status, 201);
    let own = json!({"decision": "approve", "comment": ""});
    let kestra_approver = token("kestra", &["deployer", "approver"]);
    host.post_json(
        "/api/releases/1.0.0/deployments",
        &kestra_approver,
        &json!({"cluster": "staging", "status": "succeeded"}),
    );
    host.post(
        "/api/releases/1.0.0/approval",
        Some(&kestra_approver),
        "application/json",
        b"{}",
    );
    let four_eyes = host.post_json(
        "/api/releases/1.0.0/approval/decision",
        &kestra_approver,
        &own,
    );
    assert_eq!(four_eyes.status, 403, "{}", four_eyes.body);
}

fn bad_input(postgres: bool) {
    let (host, _db) = host("input", postgres);
    let kestra = token("kestra", &["deployer"]);
    assert_eq!(
        host.post(
            "/api/releases",
            Some(&kestra),
            "application/json",
            b"{\"version\":"
        )
        .status,
        400
    );
    let huge = json!({"notes": "x".repeat(100 * 1024)}).to_string();
    assert_eq!(
        host.post(
            "/api/releases",
            Some(&kestra),
            "application/json",
            huge.as_bytes()
        )
        .status,
        413
    );
    assert_eq!(
        host.post("/api/releases", Some(&kestra), "text/plain", b"{}")
            .status,
        415
    );
    let mut unknown = release_body("1.0.0");
    unknown["extra"] = json!(1);
    let reply = host.post_json("/api/releases", &kestra, &unknown);
    assert_eq!(
        (reply.status, reply.json()["field"].clone()),
        (422, json!("extra"))
    );
    let mut bad_digest = release_body("1.0.0");
    bad_digest["digest"] = json!("sha256:nope");
    let reply = host.post_json("/api/releases", &kestra, &bad_digest);
    assert_eq!(
        (reply.status, reply.json()["field"].clone()),
        (422, json!("digest"))
    );
    assert_eq!(
        host.post_json("/api/releases", &kestra, &release_body("1.0.0"))
            .status,
        201
    );
    let reply = host.post_json(
        "/api/releases/1.0.0/deployments",
        &kestra,
        &json!({"cluster": "mars", "status": "started"}),
    );
    assert_eq!(
        (reply.status, reply.json()["field"].clone()),
        (422, json!("cluster"))
    );
    assert_eq!(
        host.get("/api/audit").json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn fifty_concurrent_writes(postgres: bool) {
    let (host, _db) = host("concurrent", postgres);
    let kestra = token("kestra", &["deployer"]);
    assert_eq!(
        host.post_json("/api/releases", &kestra, &release_body("3.0.0"))
            .status,
        201
    );
    let ids: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (host, kestra) = (&host, &kestra);
                scope.spawn(move || {
                    let event = json!({"cluster": "staging", "status": "started", "message": format!("writer {i}")});
                    let reply = host.post_json("/api/releases/3.0.0/deployments", kestra, &event);
                    assert_eq!(reply.status, 201, "{}", reply.body);
                    reply.json()["id"].as_i64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 50, "duplicate ids: {ids:?}");
    let detail = host.get("/api/releases/3.0.0").json();
    let stored = detail["deployments"].as_array().unwrap();
    assert_eq!(stored.len(), 50);
    for i in 0..50 {
        let message = format!("writer {i}");
        assert_eq!(
            stored
                .iter()
                .filter(|d| d["message"] == message.as_str())
                .count(),
            1,
            "{message}"
        );
    }
    let audit = host.get("/api/audit?limit=100").json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 51);
}

macro_rules! on_both_stores {
    ($($test:ident),+ $(,)?) => {
        mod sqlite { $(#[test] fn $test() { super::$test(false) })+ }
        mod postgres { $(#[test] fn $test() { super::$test(true) })+ }
    };
}

on_both_stores!(story, auth_failures, bad_input, fifty_concurrent_writes);

#[test]
fn variables_come_from_the_environment_and_flags() {
    let host = HostBuilder::new("vars")
        .env("SPIN_VARIABLE_CLUSTER_NAME", "prod-east")
        .var("region", "eu-west-1")
        .start();
    let info = host.get("/api/info").json();
    assert_eq!(
        (info["cluster_name"].clone(), info["region"].clone()),
        (json!("prod-east"), json!("eu-west-1"))
    );
    let closed = HostBuilder::new("closed")
        .env("SPIN_VARIABLE_PUBLIC_READ", "false")
        .start();
    assert_eq!(closed.get("/api/releases").status, 401);
    assert_eq!(
        closed
            .get_as("/api/releases", Some(&token("vera", &["viewer"])))
            .status,
        200
    );
}

#[test]
fn the_most_specific_route_answers_and_sigterm_stops_cleanly() {
    let mut host = HostBuilder::new("routes").start();
    let content_type = |path: &str| {
        let reply = host.get(path);
        (
            reply.status,
            reply.header("content-type").unwrap_or_default().to_owned(),
        )
    };
    // `/...` is the console; `/api/...` and `/metrics` are the backend's.
    assert_eq!(content_type("/"), (200, "text/html; charset=utf-8".into()));
    assert_eq!(
        content_type("/metricsx"),
        (404, "text/html; charset=utf-8".into())
    );
    assert_eq!(content_type("/metrics").0, 200);
    assert!(content_type("/metrics").1.starts_with("text/plain"));
    assert_eq!(
        content_type("/api/nope"),
        (404, "application/problem+json".into())
    );
    let status = host.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        host.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("shutting down"))
    );
}

#[test]
fn relative_directories_work_as_make_run_uses_them() {
    let host = HostBuilder::new("relative").relative_dirs().start();
    let kestra = token("kestra", &["deployer"]);
    assert_eq!(
        host.post_json("/api/releases", &kestra, &release_body("6.0.0"))
            .status,
        201
    );
    assert!(host.sqlite_dir.join(".spin/sqlite_db.db").exists());
    assert!(host.sqlite_dir.join(".spin/wasmtime-cache").is_dir());
}

#[test]
fn migrations_survive_a_restart_on_the_same_store() {
    let dir = support::scratch_dir("restart");
    let kestra = token("kestra", &["deployer"]);
    {
        let host = HostBuilder::new("restart").sqlite_dir(dir.clone()).start();
        assert_eq!(
            host.post_json("/api/releases", &kestra, &release_body("4.0.0"))
                .status,
            201
        );
    }
    let host = HostBuilder::new("restart").sqlite_dir(dir).start();
    assert_eq!(host.get("/api/releases/4.0.0").status, 200);
    assert_eq!(host.get("/api/ready").json()["schema_version"], json!(2));
}

fn fixture(name: &str) -> std::path::PathBuf {
    support::repo()
        .join("crates/spin-host/tests/fixtures")
        .join(name)
}

#[test]
fn start_up_refuses_what_it_cannot_run() {
    let (code, stderr) = HostBuilder::new("required")
        .manifest(fixture("required-variable.toml"))
        .fail();
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("variable `api_key` is required"),
        "{stderr}"
    );

    let (code, stderr) = HostBuilder::new("feature")
        .manifest(fixture("unsupported-feature.toml"))
        .fail();
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("component.web.key_value_stores"),
        "{stderr}"
    );

    let (code, stderr) = HostBuilder::new("import")
        .manifest(fixture("missing-import.toml"))
        .fail();
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("spin:key-value/key-value@2.0.0"),
        "{stderr}"
    );

    let (code, stderr) = HostBuilder::new("flags")
        .var("no_such_variable", "x")
        .fail();
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no_such_variable"), "{stderr}");
}

#[test]
fn outbound_requests_follow_allowed_hosts_and_chain_to_components() {
    support::wasm("outbound_probe");
    // A plain HTTP server on loopback for the allowed and the refused destination.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nechoed",
            );
        }
    });
    let host = HostBuilder::new("outbound")
        .manifest(fixture("chain.toml"))
        .var("echo_port", &port.to_string())
        .ready_path("/probe?url=http://backend.spin.internal/api/health")
        .start();
    let probe = |url: &str| host.get(&format!("/probe?url={url}"));

    let chained = probe("http://backend.spin.internal/api/health");
    assert_eq!(chained.status, 200, "{}", chained.body);
    assert_eq!(chained.body, "200\n{\"status\":\"ok\"}");
    let echoed = probe(&format!("http://127.0.0.1:{port}/anything"));
    assert_eq!((echoed.status, echoed.body.as_str()), (200, "200\nechoed"));
    let other_port = probe(&format!("http://127.0.0.1:{}/", port.wrapping_add(1)));
    assert_eq!(other_port.status, 502, "{}", other_port.body);
    assert!(
        other_port.body.contains("HttpRequestDenied"),
        "{}",
        other_port.body
    );
    let not_listed = probe("http://frontend.spin.internal/");
    assert_eq!(not_listed.status, 502);
    // The backend is private here: only chaining reaches it. No route at all is a 404 too.
    assert_eq!(host.get("/api/health").status, 404);
    assert_eq!(host.get("/elsewhere").status, 404);
}
