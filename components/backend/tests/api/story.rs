//! The release story end to end, the overview against the separate reads, and how many statements
//! each read runs.

use super::support::*;

fn story(app: &App) {
    let kestra = ["deployer", "approver"];
    // Record a release, replay it, and try to change its digest.
    let created =
        app.send(post("/api/releases", release_body("1.4.0", DIGEST)).by("kestra", &kestra));
    assert_eq!(created.status, 201, "{}", created.json_body());
    assert_eq!(created.header("location"), Some("/api/releases/1.4.0"));
    let release = created.json_body();
    assert_eq!(
        (release["created_by"].as_str(), release["digest"].as_str()),
        (Some("kestra"), Some(DIGEST))
    );
    let replay =
        app.send(post("/api/releases", release_body("1.4.0", DIGEST)).by("kestra", &kestra));
    assert_eq!((replay.status, replay.json_body()), (200, release.clone()));
    problem(
        &app.send(post("/api/releases", release_body("1.4.0", OTHER_DIGEST)).by("kestra", &kestra)),
        409,
    );

    // Production is closed until approval; approval needs staging first.
    let deploy = |cluster: &str, status: &str| {
        app.send(
            post(
                "/api/releases/1.4.0/deployments",
                json!({"cluster": cluster, "status": status,
                "execution_url": "https://kestra.example.com/executions/7"}),
            )
            .by("kestra", &kestra),
        )
    };
    problem(&deploy("prod-east", "started"), 409);
    problem(
        &app.send(ApiRequest::new("POST", "/api/releases/1.4.0/approval").by("kestra", &kestra)),
        409,
    );
    assert_eq!(deploy("staging", "started").status, 201);
    let staged = deploy("staging", "succeeded");
    assert_eq!(staged.status, 201);
    assert_eq!(staged.json_body()["environment"], "staging");

    let requested =
        app.send(ApiRequest::new("POST", "/api/releases/1.4.0/approval").by("kestra", &kestra));
    assert_eq!(requested.status, 201, "{}", requested.json_body());
    assert_eq!(requested.json_body()["state"], "pending");
    problem(
        &app.send(post("/api/releases/1.4.0/approval", json!({})).by("kestra", &kestra)),
        409,
    );
    let pending = app.send(get("/api/approvals?state=pending")).json_body();
    assert_eq!(pending["items"][0]["version"], "1.4.0");

    // Four eyes: kestra holds the approver role but created the release.
    let decision = json!({"decision": "approve", "comment": "Change CHG-42 approved"});
    let own = app.send(
        post("/api/releases/1.4.0/approval/decision", decision.clone()).by("kestra", &kestra),
    );
    assert!(
        problem(&own, 403)["detail"]
            .as_str()
            .unwrap()
            .contains("someone else")
    );
    let decided = app.send(
        post("/api/releases/1.4.0/approval/decision", decision.clone()).by("alice", &["approver"]),
    );
    assert_eq!(decided.status, 200, "{}", decided.json_body());
    let approval = decided.json_body();
    assert_eq!(
        (approval["state"].as_str(), approval["decided_by"].as_str()),
        (Some("approved"), Some("alice"))
    );
    assert_eq!(approval["comment"], "Change CHG-42 approved");
    problem(
        &app.send(post("/api/releases/1.4.0/approval/decision", decision).by("bob", &["approver"])),
        409,
    );

    // Production deployments, then what runs where.
    for cluster in ["prod-east", "prod-west"] {
        assert_eq!(deploy(cluster, "started").status, 201);
        assert_eq!(deploy(cluster, "succeeded").status, 201);
    }
    let clusters = app.send(get("/api/clusters"));
    assert_eq!(clusters.status, 200);
    let clusters = clusters.json_body();
    let names: Vec<_> = clusters
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["staging", "prod-east", "prod-west"]);
    for cluster in clusters.as_array().unwrap() {
        assert_eq!(cluster["current"]["version"], "1.4.0", "{cluster}");
        assert_eq!(cluster["current"]["digest"], DIGEST);
        assert!(
            cluster["current"]["succeeded_at"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        assert_eq!(cluster["last_event"]["status"], "succeeded");
    }

    let detail = app.send(get("/api/releases/1.4.0")).json_body();
    assert_eq!(detail["deployments"].as_array().unwrap().len(), 6);
    assert_eq!(detail["approval"]["state"], "approved");
    assert_eq!(detail["notes"], "First release <script>alert(1)</script>");

    let audit = app.send(get("/api/audit?limit=3")).json_body();
    let actions: Vec<_> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deployment.recorded"; 3]);
    let rest = app.send(get(&format!(
        "/api/audit?limit=100&cursor={}",
        audit["next_cursor"].as_str().unwrap()
    )));
    let rest = rest.json_body();
    // 9 changes in all: the release, 6 deployment events, the request and the decision.
    assert_eq!(rest["items"].as_array().unwrap().len(), 6, "{rest}");
    assert_eq!(rest["next_cursor"], Value::Null);

    let metrics = app.send(get("/metrics"));
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(metrics.body).unwrap();
    for line in [
        "ledger_releases 1",
        "ledger_approvals{state=\"approved\"} 1",
        "ledger_approvals{state=\"pending\"} 0",
        "ledger_deployment_events_total{cluster=\"prod-east\",status=\"succeeded\"} 1",
        "ledger_deployment_events_total{cluster=\"staging\",status=\"started\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("ledger_build_info{version=\"0.1.0\""));
}

#[test]
fn the_release_story_on_sqlite() {
    story(&App::sqlite());
}

#[test]
fn the_release_story_on_postgres() {
    story(&App::postgres());
}

/// `/api/overview` says in one answer what the four reads the console used to make say.
fn overview_matches_the_separate_reads(app: &App) {
    for i in 0..12 {
        let version = format!("1.{i}.0");
        let created = app.send(
            post("/api/releases", release_body(&version, DIGEST)).by("kestra", &["deployer"]),
        );
        assert_eq!(created.status, 201);
        let staging = json!({"cluster": "staging", "status": "succeeded"});
        let path = format!("/api/releases/{version}/deployments");
        assert_eq!(
            app.send(post(&path, staging).by("kestra", &["deployer"]))
                .status,
            201
        );
        if i % 2 == 0 {
            let path = format!("/api/releases/{version}/approval");
            let requested = app.send(ApiRequest::new("POST", &path).by("kestra", &["deployer"]));
            assert_eq!(requested.status, 201);
        }
    }
    let overview = app.send(get("/api/overview"));
    assert_eq!(overview.status, 200);
    let overview = overview.json_body();
    assert_eq!(overview["info"], app.send(get("/api/info")).json_body());
    assert_eq!(
        overview["clusters"],
        app.send(get("/api/clusters")).json_body()
    );
    assert_eq!(
        overview["pending_approvals"],
        app.send(get("/api/approvals?state=pending&limit=10"))
            .json_body()
    );
    assert_eq!(
        overview["releases"],
        app.send(get("/api/releases?limit=10")).json_body()
    );
    assert_eq!(overview["releases"]["items"].as_array().unwrap().len(), 10);
    assert!(overview["releases"]["next_cursor"].is_string());
    problem(&app.send(get("/api/overview?limit=5")), 422);
}

/// Reads run only the statements their answer needs, with no migration check in front (see
/// `Ledger::read`): one per list, three for every cluster's status however many clusters there
/// are (its release, its latest event, its latest observation); `/metrics` adds the four keys'
/// four aggregates. Under Spin each statement is a host call on a connection opened for the
/// request, the dearest part of a read. The bounds keep a route from quietly growing more.
#[test]
fn reads_run_few_statements() {
    let app = App::sqlite();
    story(&app);
    let mut counted = Vec::new();
    for (path, most) in [
        ("/api/releases", 1),
        ("/api/releases?limit=100", 1),
        ("/api/clusters", 3),
        ("/api/approvals?state=pending", 1),
        ("/api/audit", 1),
        ("/api/releases/1.4.0", 3),
        ("/api/overview", 5),
        ("/metrics", 12),
        ("/api/insights", 4),
    ] {
        app.statements.set(0);
        assert_eq!(app.send(get(path)).status, 200, "{path}");
        let ran = app.statements.get();
        counted.push(format!("{path} {ran}"));
        assert!(ran <= most, "{path} ran {ran} statements, more than {most}");
    }
    eprintln!("statements per read: {}", counted.join(", "));
}

#[test]
fn the_overview_on_sqlite_and_postgres() {
    overview_matches_the_separate_reads(&App::sqlite());
    overview_matches_the_separate_reads(&App::postgres());
}
