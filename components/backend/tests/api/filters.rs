//! Lists narrowed over HTTP: each filter validated with a 422 naming it, the filtered pages
//! read from the database (never the read model's kept first page), and cursors that keep to
//! the filter.

use super::support::*;

fn versions(app: &App, query: &str) -> Vec<String> {
    let page = app.send(get(&format!("/api/releases?{query}")));
    assert_eq!(page.status, 200, "{query}: {}", page.json_body());
    let body = page.json_body();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn releases_and_the_audit_log_filter_over_http() {
    let app = App::sqlite();
    let as_kestra = |req: ApiRequest| app.send(req.by("kestra", &["deployer"]));
    for (version, digest) in [
        ("1.4.0", DIGEST),
        (
            "1.5.0",
            "sha256:5555555555555555555555555555555555555555555555555555555555555555",
        ),
    ] {
        assert_eq!(
            as_kestra(post("/api/releases", release_body(version, digest))).status,
            201
        );
    }
    let staging = json!({"cluster": "staging", "status": "succeeded"});
    assert_eq!(
        as_kestra(post("/api/releases/1.4.0/deployments", staging)).status,
        201
    );
    assert_eq!(
        as_kestra(post("/api/releases/1.4.0/approval", json!({}))).status,
        201
    );

    // The unfiltered first page is kept by the read model; a filter must not be served it.
    assert_eq!(versions(&app, "limit=20"), ["1.5.0", "1.4.0"]);
    assert_eq!(versions(&app, "limit=20&version=1.4"), ["1.4.0"]);
    assert_eq!(versions(&app, "state=pending"), ["1.4.0"]);
    assert_eq!(versions(&app, "state=none"), ["1.5.0"]);
    assert_eq!(versions(&app, "cluster=staging"), ["1.4.0"]);
    assert_eq!(versions(&app, "person=kestra&version=1.5"), ["1.5.0"]);
    assert!(versions(&app, "person=alice").is_empty());

    let first = app
        .send(get("/api/releases?limit=1&person=kestra"))
        .json_body();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let rest = format!("limit=1&person=kestra&cursor={cursor}");
    assert_eq!(versions(&app, &rest), ["1.4.0"]);

    let audit = |query: &str| -> Vec<String> {
        let body = app.send(get(&format!("/api/audit?{query}"))).json_body();
        body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {body}"))
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(audit("action=release.created").len(), 2);
    assert_eq!(
        audit("target=release/1.4.0"),
        [
            "approval.requested",
            "deployment.recorded",
            "release.created"
        ]
    );
    assert_eq!(
        audit("actor=kestra&action=approval.requested"),
        ["approval.requested"]
    );

    for (query, field) in [
        ("/api/releases?version=1.4%25", "version"),
        ("/api/releases?state=maybe", "state"),
        ("/api/releases?cluster=Prod_East", "cluster"),
        ("/api/releases?person=", "person"),
        ("/api/releases?version=", "version"),
        ("/api/releases?colour=blue", "colour"),
        ("/api/audit?action=drift", "action"),
        ("/api/audit?target=release//1", "target"),
        ("/api/audit?actor=%D0%B0lice", "actor"),
    ] {
        let refused = problem(&app.send(get(query)), 422);
        assert_eq!(refused["field"], field, "{query}: {refused}");
    }
}

/// The document states each filter as the parser takes it: what one allows, the other does.
#[test]
fn the_document_states_each_filter_as_the_parser_takes_it() {
    use super::rules::document_takes;
    use ledger::filters::{AuditTarget, VersionPrefix};
    let doc = App::sqlite().send(get("/api/openapi.json")).json_body();
    let schema = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name && p["in"] == "query")
            .unwrap_or_else(|| panic!("{path} documents no {name}"))["schema"]
            .clone()
    };
    let prefix = schema("/api/releases", "version");
    for value in [
        "1",
        "1.4",
        "2.0.0-rc.1+b",
        "",
        "1%",
        "1*",
        "v 1",
        &"9".repeat(65),
    ] {
        assert_eq!(
            document_takes(&prefix, value),
            VersionPrefix::parse(value).is_ok(),
            "version={value:?}"
        );
    }
    let target = schema("/api/audit", "target");
    for value in [
        "release/1.4.0",
        "release/1.4.0/cluster/prod-east",
        "cluster/prod-east",
        "",
        "/release",
        "release/",
        "release//1",
        "cluster/a_b",
        &format!("release/{}", "9".repeat(200)),
    ] {
        assert_eq!(
            document_takes(&target, value),
            AuditTarget::parse(value).is_ok(),
            "target={value:?}"
        );
    }
    let action = schema("/api/audit", "action");
    assert_eq!(action["enum"].as_array().unwrap().len(), 6);
    let state = schema("/api/releases", "state");
    for value in ["none", "pending", "approved", "rejected"] {
        assert!(document_takes(&state, value));
        let page = App::sqlite().send(get(&format!("/api/releases?state={value}")));
        assert_eq!(page.status, 200, "state={value}");
    }
}
