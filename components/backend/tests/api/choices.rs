//! Releases as Rundeck's remote option values (`valuesUrl`): a bare JSON list of `name` and
//! `value`, answered as `application/json` (Rundeck refuses any other type), one list per
//! approval state, read under the same rule as every other read.

use super::support::*;
use serde_json::Value;

fn choices(app: &App, state: &str) -> Vec<(String, String)> {
    let response = app.send(get(&format!("/api/choices/releases?state={state}")));
    assert_eq!(response.status, 200, "{state}: {}", response.json_body());
    assert_eq!(response.header("content-type"), Some("application/json"));
    let entries = response.json_body();
    entries
        .as_array()
        .unwrap_or_else(|| panic!("a bare list, as Rundeck reads it: {entries}"))
        .iter()
        .map(|c| {
            let text = |key: &str| c[key].as_str().unwrap().to_owned();
            (text("name"), text("value"))
        })
        .collect()
}

#[test]
fn each_approval_state_lists_its_releases_newest_first() {
    let app = App::sqlite();
    let as_kestra = |req: ApiRequest| app.send(req.by("kestra", &["deployer"]));
    for (version, digit) in [
        ("1.4.0", '4'),
        ("1.5.0", '5'),
        ("1.6.0", '6'),
        ("1.7.0", '7'),
    ] {
        let digest = format!("sha256:{}", digit.to_string().repeat(64));
        assert_eq!(
            as_kestra(post("/api/releases", release_body(version, &digest))).status,
            201
        );
    }
    for version in ["1.4.0", "1.5.0", "1.6.0"] {
        let staging = serde_json::json!({"cluster": "staging", "status": "succeeded"});
        let path = format!("/api/releases/{version}/deployments");
        assert_eq!(as_kestra(post(&path, staging)).status, 201);
        let path = format!("/api/releases/{version}/approval");
        assert_eq!(as_kestra(post(&path, serde_json::json!({}))).status, 201);
    }
    let decide = |version: &str, decision: &str| {
        let body = serde_json::json!({"decision": decision, "comment": "read the staging check"});
        let path = format!("/api/releases/{version}/approval/decision");
        app.send(post(&path, body).by("carol", &["approver"]))
    };
    assert_eq!(decide("1.4.0", "approve").status, 200);
    assert_eq!(decide("1.5.0", "reject").status, 200);

    let values =
        |list: &[(String, String)]| list.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let pending = choices(&app, "pending");
    assert_eq!(
        values(&pending),
        ["1.6.0"],
        "1.7.0 has no approval to decide"
    );
    assert!(
        pending[0]
            .0
            .starts_with("1.6.0 (pending: requested by kestra, 20"),
        "{pending:?}"
    );
    let approved = choices(&app, "approved");
    assert_eq!(values(&approved), ["1.4.0"]);
    assert!(
        approved[0].0.starts_with("1.4.0 (approved: by carol, 20"),
        "{approved:?}"
    );
    assert_eq!(values(&choices(&app, "rejected")), ["1.5.0"]);

    assert_eq!(decide("1.6.0", "approve").status, 200);
    assert!(
        choices(&app, "pending").is_empty(),
        "an empty list, not an error"
    );
    assert_eq!(values(&choices(&app, "approved")), ["1.6.0", "1.4.0"]);
}

#[test]
fn a_missing_or_unknown_state_is_refused_naming_it() {
    let app = App::sqlite();
    for query in ["", "?state=", "?state=open", "?state=pending&limit=5"] {
        let response = app.send(get(&format!("/api/choices/releases{query}")));
        let body: Value = problem(&response, 422);
        let field = if query.contains("limit") {
            "limit"
        } else {
            "state"
        };
        assert_eq!(body["field"], field, "{query}: {body}");
    }
}
