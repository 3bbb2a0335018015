//! The read model (`src/read_model.rs`): hot reads answered from the key-value store open no
//! database, and still no read sent after a write's answer misses that write; what a
//! generation cannot cover (a crash between commit and new generation) ages out within
//! `MAX_AGE_MICROS`.

use super::support::*;
use backend::read_model::{GENERATION, MAX_AGE_MICROS};

const DEPLOYER: [&str; 1] = ["deployer"];

/// The statements a request ran against the database, and its answer.
fn counted(app: &App, path: &str) -> (usize, Value) {
    app.statements.set(0);
    let answer = app.send(get(path));
    assert_eq!(answer.status, 200, "{path}: {}", answer.body_text());
    (app.statements.get(), answer.json_body())
}

fn record(app: &App, version: &str) {
    let reply =
        app.send(post("/api/releases", release_body(version, DIGEST)).by("kestra", &DEPLOYER));
    assert_eq!(reply.status, 201, "{}", reply.body_text());
}

fn deploy(app: &App, version: &str, status: &str) {
    let path = format!("/api/releases/{version}/deployments");
    let event = json!({"cluster": "staging", "status": status});
    let reply = app.send(post(&path, event).by("kestra", &DEPLOYER));
    assert_eq!(reply.status, 201, "{}", reply.body_text());
}

fn versions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect()
}

/// Each hot read: the second time it opens no database and calls the store twice; after any
/// write it is read again.
#[test]
fn a_kept_read_opens_no_database_and_a_write_makes_it_read_again() {
    let app = App::sqlite();
    record(&app, "1.0.0");
    for path in [
        "/api/releases?limit=20",
        "/api/releases/1.0.0",
        "/api/clusters",
        "/api/overview",
        "/api/approvals?state=pending",
        "/api/audit",
    ] {
        let (first, answer) = counted(&app, path);
        assert!(first > 0, "{path} was read from the database first");
        app.key_value.reads.set(0);
        assert_eq!(counted(&app, path), (0, answer.clone()), "{path} kept");
        // bench/README.md: batching these two into one `get-many` measured no faster.
        assert_eq!(
            app.key_value.reads.get(),
            2,
            "{path}: a kept read is two store calls, the generation and the answer"
        );
        deploy(&app, "1.0.0", "started");
        let (again, fresh) = counted(&app, path);
        assert!(again > 0, "{path} was served from before the write");
        app.statements.set(0);
        let kept = app.send(get(path));
        assert_eq!(app.statements.get(), 0, "{path} kept again");
        assert_eq!(kept.json_body(), fresh);
        assert_eq!(kept.header("content-type"), Some("application/json"));
        assert_eq!(kept.header("cache-control"), Some("no-store"));
    }
}

/// The read model's whole promise: a read sent after a write's answer sees that write. With
/// the generation check removed this fails: the list was kept before the write.
#[test]
fn a_read_after_a_write_sees_it() {
    let app = App::sqlite();
    record(&app, "1.0.0");
    let (_, before) = counted(&app, "/api/releases?limit=20");
    assert_eq!(versions(&before), ["1.0.0"]);
    record(&app, "1.1.0");
    let (_, after) = counted(&app, "/api/releases?limit=20");
    assert_eq!(versions(&after), ["1.1.0", "1.0.0"]);
    let (_, detail) = counted(&app, "/api/releases/1.1.0");
    deploy(&app, "1.1.0", "succeeded");
    let (_, deployed) = counted(&app, "/api/releases/1.1.0");
    assert_eq!(detail["deployments"].as_array().unwrap().len(), 0);
    assert_eq!(deployed["deployments"][0]["status"], "succeeded");
    let (_, clusters) = counted(&app, "/api/clusters");
    assert_eq!(clusters[0]["current"]["version"], "1.1.0");
}

/// A process that stops between a write's commit and its new generation (here: the store
/// refuses that one write) leaves kept reads stale, for at most `MAX_AGE_MICROS`.
#[test]
fn a_crash_between_commit_and_generation_is_stale_at_most_max_age() {
    let app = App::sqlite();
    let start = 1_800_000_000_000_000;
    app.clock.set(Some(start));
    record(&app, "1.0.0");
    counted(&app, "/api/releases?limit=20");
    *app.key_value.fail_next_set_of.borrow_mut() = Some(GENERATION.into());
    record(&app, "1.1.0");
    app.clock.set(Some(start + MAX_AGE_MICROS));
    let (_, stale) = counted(&app, "/api/releases?limit=20");
    assert_eq!(
        versions(&stale),
        ["1.0.0"],
        "within the bound the old answer may show"
    );
    app.clock.set(Some(start + MAX_AGE_MICROS + 1));
    let (_, fresh) = counted(&app, "/api/releases?limit=20");
    assert_eq!(versions(&fresh), ["1.1.0", "1.0.0"], "past it, never");
}

/// Pages behind a cursor are never kept (there is one per cursor), `read_model = off` reads
/// the database every time, and a store that fails is passed by.
#[test]
fn cursors_off_and_a_failing_store_read_the_database() {
    let app = App::sqlite();
    record(&app, "1.0.0");
    record(&app, "1.1.0");
    let (_, first) = counted(&app, "/api/releases?limit=1");
    let next = format!(
        "/api/releases?limit=1&cursor={}",
        first["next_cursor"].as_str().unwrap()
    );
    counted(&app, &next);
    assert!(
        counted(&app, &next).0 > 0,
        "a page behind a cursor was kept"
    );

    let off = App::sqlite().var("read_model", "off");
    record(&off, "1.0.0");
    counted(&off, "/api/clusters");
    assert!(counted(&off, "/api/clusters").0 > 0);
    assert!(
        off.key_value
            .entries
            .borrow()
            .keys()
            .all(|k| k == GENERATION)
    );

    let broken = App::sqlite();
    broken.key_value.broken.set(true);
    record(&broken, "1.0.0");
    let (read, answer) = counted(&broken, "/api/releases?limit=20");
    assert!(read > 0);
    assert_eq!(versions(&answer), ["1.0.0"]);
    problem(
        &App::sqlite()
            .var("read_model", "maybe")
            .send(get("/api/clusters")),
        503,
    );
}

/// An answer is kept for one configuration: another set of clusters (a rollout, another
/// deployment sharing the store) reads its own.
#[test]
fn answers_are_kept_per_configuration() {
    let mut app = App::sqlite();
    let (_, three) = counted(&app, "/api/clusters");
    app.vars.insert(
        "clusters".into(),
        "staging=staging,prod-east=production".into(),
    );
    let (read, two) = counted(&app, "/api/clusters");
    assert!(read > 0, "served the other configuration's answer");
    assert_eq!(
        (
            three.as_array().unwrap().len(),
            two.as_array().unwrap().len()
        ),
        (3, 2)
    );
}

/// The generation's value now, if any.
fn generation(app: &App) -> Option<Vec<u8>> {
    app.key_value.entries.borrow().get(GENERATION).cloned()
}

/// Only a write that changed the ledger gives the read model a new generation. Readiness
/// probes (every 5 s on every pod, and public), a repeat that changes nothing, a refused write
/// and a late observation keep every kept answer current: reads between them run no SQL.
/// With every successful write bumping it, the probe alone empties the read model.
#[test]
fn only_a_change_makes_reads_read_again() {
    let app = App::sqlite();
    let start = 1_800_000_000_000_000;
    app.clock.set(Some(start));
    assert_eq!(app.send(get("/api/ready")).status, 200, "migrates");
    record(&app, "1.0.0");
    let observe = |at: &str, digest: &str| {
        let body = json!({"digest": digest, "observed_at": at, "source": "test"});
        let path = "/api/clusters/staging/observations";
        app.send(post(path, body).by("kestra", &DEPLOYER))
    };
    assert_eq!(observe("2027-01-15T08:00:00Z", DIGEST).status, 201);
    let (_, answer) = counted(&app, "/api/clusters");
    let kept = generation(&app);

    let unchanged = [
        ("a readiness probe", app.send(get("/api/ready")).status, 200),
        (
            "the same release again",
            app.send(post("/api/releases", release_body("1.0.0", DIGEST)).by("kestra", &DEPLOYER))
                .status,
            200,
        ),
        (
            "another digest for it",
            app.send(
                post("/api/releases", release_body("1.0.0", OTHER_DIGEST)).by("kestra", &DEPLOYER),
            )
            .status,
            409,
        ),
        (
            "an observation made before the latest",
            observe("2027-01-15T07:00:00Z", OTHER_DIGEST).status,
            200,
        ),
    ];
    for (what, status, expected) in unchanged {
        assert_eq!(status, expected, "{what}");
        assert_eq!(generation(&app), kept, "{what} set a new generation");
        assert_eq!(
            counted(&app, "/api/clusters"),
            (0, answer.clone()),
            "after {what}"
        );
    }
    deploy(&app, "1.0.0", "started");
    assert_ne!(generation(&app), kept, "a change sets a new one");
}

/// A store that loses the generation (Redis evicting it under memory pressure, a flush) must
/// not bring back answers kept before the last write. Kept under a token that was never set
/// again, none is served: the first read without a generation sets a fresh one. With a
/// missing generation read as empty, the answer kept before the first write (under the empty
/// one) came back.
#[test]
fn an_evicted_generation_invalidates_everything() {
    let app = App::sqlite();
    app.clock.set(Some(1_800_000_000_000_000));
    record(&app, "1.0.0");
    app.key_value.entries.borrow_mut().clear();
    let (_, before) = counted(&app, "/api/releases?limit=20");
    assert_eq!(versions(&before), ["1.0.0"]);
    record(&app, "1.1.0");
    app.key_value.entries.borrow_mut().remove(GENERATION);
    let (read, after) = counted(&app, "/api/releases?limit=20");
    assert!(
        read > 0,
        "served an answer kept before the generation was lost"
    );
    assert_eq!(versions(&after), ["1.1.0", "1.0.0"]);
    assert!(
        generation(&app).is_some(),
        "the read set a fresh generation"
    );
    assert_eq!(counted(&app, "/api/releases?limit=20"), (0, after));
}

/// `/metrics` keeps DORA's four keys between writes, so a scrape runs only the counts; a write
/// makes the next scrape compute them again.
#[test]
fn scrapes_compute_the_four_keys_once_per_write() {
    let app = App::sqlite();
    record(&app, "1.0.0");
    let scrape = || {
        app.statements.set(0);
        let answer = app.send(get("/metrics"));
        assert_eq!(answer.status, 200);
        (app.statements.get(), answer.body_text().to_string())
    };
    let (first, text) = scrape();
    let (again, same) = scrape();
    assert!(
        again < first,
        "{again} statements, as many as the first scrape's {first}"
    );
    let dora = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("ledger_dora_"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(dora(&same), dora(&text));
    deploy(&app, "1.0.0", "started");
    assert_eq!(scrape().0, first, "after a write they are read again");
}
