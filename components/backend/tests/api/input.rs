//! Bad input gets a precise 4xx naming its field; versions with build metadata work in paths.

use super::support::*;

#[test]
fn bad_input_gets_a_precise_answer() {
    let app = App::sqlite();
    let as_kestra = |req: ApiRequest| app.send(req.by("kestra", &["deployer"]));
    let raw = |body: &str, content_type: &str| {
        ApiRequest::new("POST", "/api/releases")
            .header("content-type", content_type)
            .body(body.as_bytes().to_vec())
    };
    problem(&as_kestra(raw("{\"version\": ", "application/json")), 400);
    problem(
        &as_kestra(raw(
            &release_body("1.0.0", DIGEST).to_string(),
            "text/plain",
        )),
        415,
    );
    problem(&as_kestra(raw("{}", "")), 415);
    let huge = json!({"notes": "x".repeat(70 * 1024)}).to_string();
    problem(&as_kestra(raw(&huge, "application/json")), 413);

    let field_of =
        |body: Value| problem(&as_kestra(post("/api/releases", body)), 422)["field"].clone();
    let mut unknown = release_body("1.0.0", DIGEST);
    unknown["colour"] = json!("blue");
    assert_eq!(field_of(unknown), "colour");
    let mut missing = release_body("1.0.0", DIGEST);
    missing.as_object_mut().unwrap().remove("commit");
    assert_eq!(field_of(missing), "commit");
    assert_eq!(field_of(release_body("1.0.0", "sha256:abc")), "digest");
    assert_eq!(field_of(release_body("v1", DIGEST)), "version");
    let mut mistyped = release_body("1.0.0", DIGEST);
    mistyped["notes"] = json!(42);
    assert_eq!(field_of(mistyped), "notes");
    assert_eq!(field_of(json!([1, 2])), "body");

    assert_eq!(
        as_kestra(post("/api/releases", release_body("1.0.0", DIGEST))).status,
        201
    );
    let deploy = |body: Value| {
        problem(
            &as_kestra(post("/api/releases/1.0.0/deployments", body)),
            422,
        )["field"]
            .clone()
    };
    assert_eq!(
        deploy(json!({"cluster": "mars", "status": "started"})),
        "cluster"
    );
    assert_eq!(
        deploy(json!({"cluster": "Prod_East", "status": "started"})),
        "cluster"
    );
    assert_eq!(
        deploy(json!({"cluster": "staging", "status": "done"})),
        "status"
    );
    assert_eq!(
        deploy(json!({"cluster": "staging", "status": "started", "execution_url": "ftp://x"})),
        "execution_url"
    );
    problem(
        &as_kestra(post(
            "/api/releases/1.0.0/approval",
            json!({"please": true}),
        )),
        422,
    );

    for (path, field) in [
        ("/api/releases?limit=500", "limit"),
        ("/api/releases?cursor=x", "cursor"),
        ("/api/approvals?state=maybe", "state"),
        ("/api/audit?page=2", "page"),
    ] {
        assert_eq!(problem(&app.send(get(path)), 422)["field"], field, "{path}");
    }
    // None of it changed anything but the one good release.
    assert_eq!(
        app.send(get("/api/audit")).json_body()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn versions_with_build_metadata_work_in_paths() {
    let app = App::sqlite();
    let mut body = release_body("1.0.0-rc.1+build.7", DIGEST);
    body["artifact"] = json!("ghcr.io/acme/automatizacion:1.0.0-rc.1_build.7");
    assert_eq!(
        app.send(post("/api/releases", body).by("kestra", &["deployer"]))
            .status,
        201
    );
    assert_eq!(
        app.send(get("/api/releases/1.0.0-rc.1%2Bbuild.7"))
            .json_body()["version"],
        "1.0.0-rc.1+build.7"
    );
    assert_eq!(
        app.send(get("/api/releases/1.0.0-rc.1+build.7")).status,
        200
    );
}
