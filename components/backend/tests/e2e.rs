//! End to end: the real `backend.wasm` served over loopback HTTP by real Spin (`spin up`) and by
//! `spin-host`, each on the embedded SQLite store and on PostgreSQL. Test paths name both, e.g.
//! `postgres::spin::story`, so a failure says where it happened.

use host_harness::{Host, HostBuilder, Runtime, release_body, token};
use native_db::testing::TestDb;
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    Sqlite,
    Postgres,
}

/// The `postgres://host:port` of a PostgreSQL URL, as `db_outbound_host` names it.
fn authority(url: &str) -> String {
    let after_user = url.split('@').nth(1).unwrap();
    format!("postgres://{}", after_user.split('/').next().unwrap())
}

/// The app on `runtime`, on SQLite or on a fresh PostgreSQL database (kept alive as long as
/// the host).
fn host(runtime: Runtime, label: &str, store: Store) -> (Host, Option<TestDb>) {
    let builder = HostBuilder::on(runtime, label);
    if store == Store::Sqlite {
        return (builder.start(), None);
    }
    let db = TestDb::postgres();
    let url = db.db_url().unwrap().to_owned();
    let host = builder
        .var("db_url", &url)
        .var("db_outbound_host", &authority(&url))
        .start();
    (host, Some(db))
}

fn story(runtime: Runtime, store: Store) {
    let (host, _db) = host(runtime, "story", store);
    let kestra = token("kestra", &["deployer"]);
    let alice = token("alice", &["approver"]);
    let created = host.post_json("/api/releases", &kestra, &release_body("2.0.0"));
    created.assert_is(201, "application/json");
    let deploy = |cluster: &str, status: &str| {
        host.post_json(
            "/api/releases/2.0.0/deployments",
            &kestra,
            &json!({"cluster": cluster, "status": status}),
        )
    };
    assert_eq!(deploy("staging", "succeeded").status, 201);
    let requested = host.post_empty("/api/releases/2.0.0/approval", &kestra);
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
    // The component's access log is printed, one JSON line per request, without tokens.
    let decision_line = host.wait_for_line(|l| {
        l.contains("\"route\":\"/api/releases/{version}/approval/decision\"")
            && l.contains("\"status\":200")
    });
    assert!(
        decision_line.contains("\"actor\":\"alice\""),
        "{decision_line}"
    );
    let log = host.output();
    assert!(!log.contains(&kestra) && !log.contains(&alice));
    if store == Store::Sqlite {
        // The first migration put the runtime's database file into WAL (it persists there).
        let db = rusqlite::Connection::open(host.sqlite_file()).unwrap();
        let mode: String = db
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

fn auth_failures(runtime: Runtime, store: Store) {
    let (host, _db) = host(runtime, "auth", store);
    let create = |token: Option<&str>| {
        host.post(
            "/api/releases",
            token,
            "application/json",
            release_body("1.0.0").to_string().as_bytes(),
        )
    };
    let missing = create(None);
    missing.assert_is(401, "application/problem+json");
    assert!(missing.header("www-authenticate").is_some());

    let roles = vec!["deployer".to_owned()];
    let claims =
        |audience: &str| token::Claims::new("kestra", &roles, 60, token::DEFAULT_ISSUER, audience);
    let sign = |claims: &token::Claims| {
        token::mint_hs256(claims, host_harness::HMAC_KEY.as_bytes()).unwrap()
    };
    let mut expired = claims(token::DEFAULT_AUDIENCE);
    expired.exp -= 3600;
    expired.nbf -= 3600;
    expired.iat -= 3600;
    assert_eq!(create(Some(&sign(&expired))).status, 401);
    let forged = token::mint_hs256(
        &claims(token::DEFAULT_AUDIENCE),
        b"some-other-key-0123456789abcdef0123456789",
    )
    .unwrap();
    assert_eq!(create(Some(&forged)).status, 401);
    assert_eq!(create(Some(&sign(&claims("someone-else")))).status, 401);
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

fn bad_input(runtime: Runtime, store: Store) {
    let (host, _db) = host(runtime, "input", store);
    let kestra = token("kestra", &["deployer"]);
    let post = |content_type: &str, body: &[u8]| {
        host.post("/api/releases", Some(&kestra), content_type, body)
            .status
    };
    assert_eq!(post("application/json", b"{\"version\":"), 400);
    let huge = json!({"notes": "x".repeat(100 * 1024)}).to_string();
    assert_eq!(post("application/json", huge.as_bytes()), 413);
    assert_eq!(post("text/plain", b"{}"), 415);
    host.assert_release_refused(&kestra, "extra", json!(1));
    host.assert_release_refused(&kestra, "digest", json!("sha256:nope"));
    host.create_release(&kestra, "1.0.0");
    let reply = host.post_json(
        "/api/releases/1.0.0/deployments",
        &kestra,
        &json!({"cluster": "mars", "status": "started"}),
    );
    reply.assert_refused_field("cluster");
    let audit = host.get("/api/audit").json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

fn fifty_concurrent_writes(runtime: Runtime, store: Store) {
    let (host, _db) = host(runtime, "concurrent", store);
    let kestra = token("kestra", &["deployer"]);
    host.create_release(&kestra, "3.0.0");
    let started = std::time::Instant::now();
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
    eprintln!(
        "50 concurrent writes on {}: {:?}",
        runtime.name(),
        started.elapsed()
    );
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 50, "duplicate ids: {ids:?}");
    let detail = host.get("/api/releases/3.0.0").json();
    let stored = detail["deployments"].as_array().unwrap();
    assert_eq!(stored.len(), 50);
    for i in 0..50 {
        let message = format!("writer {i}");
        let copies = stored.iter().filter(|d| d["message"] == message.as_str());
        assert_eq!(copies.count(), 1, "{message}");
    }
    let audit = host.get("/api/audit?limit=100").json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 51);
}

/// The read model's promise, under load: eight writers each record events on their own
/// release and read it back at once, while readers keep the same reads warm, so that kept
/// answers are being filled from before each write. Every read after a write's answer must
/// show that write.
fn reads_see_every_write_before_them(runtime: Runtime, store: Store) {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 12;
    let (host, _db) = host(runtime, "read-your-writes", store);
    let kestra = token("kestra", &["deployer"]);
    let version = |w: usize| format!("3.{w}.0");
    for w in 0..WRITERS {
        host.create_release(&kestra, &version(w));
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for r in 0..4 {
            let (host, done) = (&host, &done);
            scope.spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    host.get(&format!("/api/releases/{}", version(r % WRITERS)));
                    host.get("/api/audit?limit=100");
                }
            });
        }
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (host, kestra) = (&host, &kestra);
                scope.spawn(move || {
                    let path = format!("/api/releases/{}", version(w));
                    for round in 1..=ROUNDS {
                        let event = json!({"cluster": "staging", "status": "started",
                                           "message": format!("round {round}")});
                        let written =
                            host.post_json(&format!("{path}/deployments"), kestra, &event);
                        assert_eq!(written.status, 201, "{}", written.body);
                        let seen = host.get(&path).json();
                        let events = seen["deployments"].as_array().unwrap();
                        assert_eq!(events.len(), round, "{path} after round {round}: {seen}");
                        // The newest 100 entries hold it: only 96 events are written.
                        let id = written.header("x-request-id").unwrap();
                        let audit = host.get("/api/audit?limit=100").json();
                        let logged = audit["items"].as_array().unwrap().iter();
                        assert!(
                            logged.clone().any(|e| e["request_id"] == id),
                            "{path} round {round}: the audit log misses {id}"
                        );
                    }
                })
            })
            .collect();
        let outcomes: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        for outcome in outcomes {
            outcome.unwrap();
        }
    });
}

/// The tests above, for each store and each runtime: `sqlite::spin::story`, …
macro_rules! on_both_stores {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            use host_harness::Runtime;
            $(fn $test(runtime: Runtime) { super::$test(runtime, super::Store::Sqlite) })+
            host_harness::on_both_runtimes!($($test),+);
        }
        mod postgres {
            use host_harness::Runtime;
            $(fn $test(runtime: Runtime) { super::$test(runtime, super::Store::Postgres) })+
            host_harness::on_both_runtimes!($($test),+);
        }
    };
}

on_both_stores!(
    story,
    auth_failures,
    bad_input,
    fifty_concurrent_writes,
    reads_see_every_write_before_them
);

fn variables_come_from_the_environment_and_flags(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "vars")
        .env("SPIN_VARIABLE_CLUSTER_NAME", "prod-east")
        .var("region", "eu-west-1")
        // Like Spin, both ignore a value for a variable that spin.toml does not declare.
        .var("no_such_variable", "x")
        .env("SPIN_VARIABLE_NOT_OURS", "y")
        .start();
    let info = host.get("/api/info").json();
    assert_eq!(
        (info["cluster_name"].clone(), info["region"].clone()),
        (json!("prod-east"), json!("eu-west-1"))
    );
    let closed = HostBuilder::on(runtime, "closed")
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

fn migrations_survive_a_restart_on_the_same_store(runtime: Runtime) {
    let dir = host_harness::scratch_dir("restart");
    let kestra = token("kestra", &["deployer"]);
    {
        let host = HostBuilder::on(runtime, "restart")
            .sqlite_dir(dir.clone())
            .start();
        host.create_release(&kestra, "4.0.0");
    }
    let host = HostBuilder::on(runtime, "restart").sqlite_dir(dir).start();
    assert_eq!(host.get("/api/releases/4.0.0").status, 200);
    assert_eq!(
        host.get("/api/ready").json()["schema_version"],
        json!(ledger::migrations::LATEST)
    );
}

/// `db_outbound_host` is the only PostgreSQL server the backend may reach: a `db_url` naming
/// another host (here the same server as `localhost`) is refused before any connection.
fn a_database_host_outside_db_outbound_host_is_refused(runtime: Runtime) {
    let db = TestDb::postgres();
    let url = db.db_url().unwrap().to_owned();
    let elsewhere = url.replace("@127.0.0.1:", "@localhost:");
    assert_ne!(url, elsewhere, "{url}");
    let host = HostBuilder::on(runtime, "pg-refused")
        .var("db_url", &elsewhere)
        .var("db_outbound_host", &authority(&url))
        .ready_path("/api/health")
        .start();
    let ready = host.get("/api/ready");
    ready.assert_is(503, "application/problem+json");
    assert!(
        !ready.body.contains("localhost"),
        "no internals: {}",
        ready.body
    );
    // The log says why.
    host.wait_for_line(|l| {
        l.contains("\"route\":\"/api/ready\"") && l.contains("is not permitted")
    });
}

/// A kept answer comes from the runtime's real `default` key-value store: the test rewrites the
/// kept entry in the store's file (`sqlite_key_value.db`, as both runtimes keep it) under the
/// current generation, and the next read serves what it wrote. Were the store not read (or its
/// entry misread), the read would come from the database. An entry counts only within
/// `MAX_AGE_MICROS` of being written, so a machine that stalls two seconds between the rewrite
/// and the read gets another try.
fn a_kept_read_comes_from_the_runtime_store(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "kept").start();
    host.create_release(&token("kestra", &["deployer"]), "5.0.0")
        .assert_is(201, "application/json");
    let store = rusqlite::Connection::open(host.sqlite_dir.join("sqlite_key_value.db")).unwrap();
    store
        .busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    let served = (0..5).any(|_| {
        host.get("/api/releases/5.0.0").assert_is(200, "application/json");
        let (key, entry): (String, Vec<u8>) = store
            .query_row(
                "SELECT key, value FROM spin_key_value WHERE key LIKE 'ledger:read:%:release/5.0.0'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        // read_model.rs keeps `generation \n read-at (µs) \n body`.
        let generation = entry.split(|&b| b == b'\n').next().unwrap().to_vec();
        let mut forged = generation;
        let now = ledger::Timestamp::now().as_micros().to_string();
        forged.extend_from_slice(format!("\n{now}\n{{\"kept\":true}}").as_bytes());
        store
            .execute(
                "UPDATE spin_key_value SET value = ?1 WHERE key = ?2",
                (&forged, &key),
            )
            .unwrap();
        host.get("/api/releases/5.0.0").json() == json!({"kept": true})
    });
    assert!(served, "the entry written in the store was never served");
}

host_harness::on_both_runtimes!(
    a_kept_read_comes_from_the_runtime_store,
    variables_come_from_the_environment_and_flags,
    migrations_survive_a_restart_on_the_same_store,
    a_database_host_outside_db_outbound_host_is_refused,
);
