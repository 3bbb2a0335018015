//! Several token issuers, each trusted for some roles only (`auth_issuers`), and the person a
//! service account acts for: the pipeline's path through the four-eyes rule.

use super::support::*;

fn key(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn jwk(public: &str, kid: &str) -> Value {
    serde_json::from_str(&token::ed25519_jwk(&key(public), kid).unwrap()).unwrap()
}

/// Rundeck may grant `approver` with key A; Kestra `deployer` with key B, whose key was
/// rotated: both its old (`kestra-1`, key A's public half here) and new kid verify. Kestra
/// alone acts for others (it names the tag's signer); Rundeck's admins deploy as themselves.
fn issuers() -> String {
    json!([
        {"issuer": "rundeck", "roles": ["approver"],
         "jwks": {"keys": [jwk("ed25519-public.pem", "rundeck-1")]}},
        {"issuer": "kestra", "roles": ["deployer"], "acts_for_others": true,
         "jwks": {"keys": [jwk("ed25519-b-public.pem", "kestra-2"),
                           jwk("ed25519-public.pem", "kestra-1")]}},
        {"issuer": "rundeck-admins", "roles": ["deployer"],
         "jwks": {"keys": [jwk("ed25519-public.pem", "rundeck-admins-1")]}},
    ])
    .to_string()
}

/// A bearer token from ISSUER for SUB, signed with the key in the file PRIVATE (or, for
/// `hmac`, the local HMAC key).
/// Who signs a token: its issuer, the private key (a file under `tests/keys`, or `hmac` for
/// the local HMAC key) and the `kid` it names.
struct Signer(&'static str, &'static str, Option<&'static str>);

const KESTRA: Signer = Signer("kestra", "ed25519-b-private.pem", Some("kestra-2"));
/// Kestra's rotated-out key, still published under its own kid.
const KESTRA_OLD: Signer = Signer("kestra", "ed25519-private.pem", Some("kestra-1"));
const RUNDECK: Signer = Signer("rundeck", "ed25519-private.pem", Some("rundeck-1"));
const RUNDECK_ADMINS: Signer = Signer(
    "rundeck-admins",
    "ed25519-private.pem",
    Some("rundeck-admins-1"),
);

/// A bearer token for SUB with ROLES, signed by SIGNER.
fn signed(signer: Signer, sub: &str, roles: &[&str]) -> String {
    let Signer(issuer, private, kid) = signer;
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let claims = token::Claims::new(sub, &roles, 600, issuer, token::DEFAULT_AUDIENCE);
    let key = if private == "hmac" {
        HMAC_KEY.to_owned()
    } else {
        key(private)
    };
    format!("Bearer {}", token::mint(&claims, &key, kid).unwrap())
}

fn staged(app: &App, version: &str, by: &str) {
    let create = post("/api/releases", release_body(version, DIGEST)).header("authorization", by);
    assert_eq!(app.send(create).status, 201);
    let event = json!({"cluster": "staging", "status": "succeeded"});
    let deployed =
        post(&format!("/api/releases/{version}/deployments"), event).header("authorization", by);
    assert_eq!(app.send(deployed).status, 201);
}

#[test]
fn each_issuer_grants_only_its_roles_with_its_own_keys() {
    let app = App::sqlite().var("auth_issuers", &issuers());
    let kestra = signed(KESTRA, "kestra", &["deployer"]);
    staged(&app, "1.0.0", &kestra);
    // The rotated-out key still verifies under its own kid.
    let old = signed(KESTRA_OLD, "kestra", &["deployer"]);
    staged(&app, "1.0.1", &old);

    // A Rundeck-signed token that claims more than approver gets approver only: it cannot
    // deploy (403, a valid token without the role), nor act as admin.
    let greedy = signed(RUNDECK, "mallory", &["deployer", "admin", "approver"]);
    let event = json!({"cluster": "staging", "status": "started"});
    let deploy = post("/api/releases/1.0.0/deployments", event).header("authorization", &greedy);
    let refused = problem(&app.send(deploy), 403);
    assert!(
        refused["detail"].as_str().unwrap().contains("deployer"),
        "{refused}"
    );
    let request = post("/api/releases/1.0.0/approval", json!({})).header("authorization", &kestra);
    assert_eq!(app.send(request).status, 201);
    let decide = post(
        "/api/releases/1.0.0/approval/decision",
        json!({"decision": "approve", "comment": "green"}),
    );
    let approver = signed(RUNDECK, "carol", &["approver"]);
    assert_eq!(
        app.send(decide.clone().header("authorization", &approver))
            .status,
        200
    );

    // Keys belong to their issuer: Kestra's key cannot sign for Rundeck, a kid names one key,
    // and no trusted issuer takes HS256 (the local HMAC key signs only for the local issuer).
    let create = || post("/api/releases", release_body("2.0.0", DIGEST));
    let b_key = "ed25519-b-private.pem";
    let forgers = [
        (
            Signer("rundeck", b_key, Some("rundeck-1")),
            "carol",
            "approver",
        ),
        (
            Signer("kestra", b_key, Some("kestra-1")),
            "kestra",
            "deployer",
        ),
        (
            Signer("kestra", b_key, Some("kestra-9")),
            "kestra",
            "deployer",
        ),
        (Signer("kestra", "hmac", None), "kestra", "deployer"),
        (
            Signer("someone", b_key, Some("kestra-2")),
            "kestra",
            "deployer",
        ),
    ];
    for (signer, sub, role) in forgers {
        let forged = signed(signer, sub, &[role]);
        problem(&app.send(create().header("authorization", &forged)), 401);
    }
    // The local issuer still grants every role.
    assert_eq!(
        app.send(create().header("authorization", &bearer("admin", &["admin"])))
            .status,
        201
    );
}

#[test]
fn a_broken_issuer_list_is_a_configuration_error_that_names_the_variable() {
    for broken in [
        "not json",
        r#"[{"issuer": "automatizacion", "roles": ["viewer"], "jwks": {"keys": []}}]"#,
        r#"[{"issuer": "x", "roles": ["owner"], "jwks": {"keys": []}}]"#,
        r#"[{"issuer": "x", "roles": ["viewer"], "jwks": {"keys": []}}]"#,
    ] {
        let app = App::sqlite().var("auth_issuers", broken);
        let body = problem(&app.send(get("/api/ready")), 503);
        assert!(
            !body.to_string().contains("auth_issuers"),
            "no detail to clients: {body}"
        );
        let (_, log) = app.call(get("/api/ready"));
        assert!(
            log.error.as_deref().unwrap_or("").contains("auth_issuers"),
            "{broken}: {:?}",
            log.error
        );
    }
}

/// The pipeline's account records the release and asks for its approval for the person who
/// signed the tag: that person is refused as an approver, and the record says for whom.
#[test]
fn a_service_account_acts_for_a_person_whom_four_eyes_then_see() {
    let app = App::sqlite().var("auth_issuers", &issuers());
    let kestra = signed(KESTRA, "kestra", &["deployer"]);
    let body = {
        let mut body = release_body("1.0.0", DIGEST);
        body["on_behalf_of"] = "Dave".into();
        body
    };
    let created = app.send(post("/api/releases", body).header("authorization", &kestra));
    assert_eq!(created.status, 201);
    assert_eq!(created.json_body()["on_behalf_of"], "dave", "canonical");
    let event = json!({"cluster": "staging", "status": "succeeded"});
    app.send(post("/api/releases/1.0.0/deployments", event).header("authorization", &kestra));
    let requested = app.send(
        post(
            "/api/releases/1.0.0/approval",
            json!({"on_behalf_of": "dave"}),
        )
        .header("authorization", &kestra),
    );
    assert_eq!(requested.status, 201);
    assert_eq!(requested.json_body()["on_behalf_of"], "dave");
    let choices = app
        .send(get("/api/choices/releases?state=pending"))
        .json_body();
    let name = choices[0]["name"].as_str().unwrap();
    assert!(
        name.starts_with("1.0.0 (pending: requested by kestra for dave, "),
        "{name}"
    );
    let decide = |who: &str| {
        app.send(
            post(
                "/api/releases/1.0.0/approval/decision",
                json!({"decision": "approve", "comment": "mine"}),
            )
            .by(who, &["approver"]),
        )
    };
    let refused = problem(&decide("DAVE"), 403);
    assert!(
        refused["detail"].as_str().unwrap().contains("requested"),
        "{refused}"
    );
    assert_eq!(decide("erin").status, 200);
    let audit = app.send(get("/api/audit")).json_body();
    let created = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "release.created")
        .unwrap();
    assert_eq!(
        (&created["actor"], &created["on_behalf_of"]),
        (&json!("kestra"), &json!("dave"))
    );

    // Someone who cannot be shown unambiguously is refused, naming the field.
    let mut look_alike = release_body("1.0.1", DIGEST);
    look_alike["on_behalf_of"] = "d\u{0430}ve".into();
    let refused = problem(
        &app.send(post("/api/releases", look_alike).header("authorization", &kestra)),
        422,
    );
    assert_eq!(refused["field"], "on_behalf_of");
}

/// Only an issuer configured to act for others may name `on_behalf_of`. A person's deployer
/// token (the local issuer), an admin's, or an issuer that deploys as itself (Rundeck's
/// admins) naming someone else is refused with 403, and nothing is recorded: otherwise a
/// deployer could attribute a release to anyone, and steer the four-eyes rule with it.
#[test]
fn only_an_issuer_that_acts_for_others_may_name_someone_else() {
    for (who, token) in [
        (
            "a person's deployer token",
            bearer("mallory", &["deployer"]),
        ),
        ("an admin's", bearer("root", &["admin"])),
        (
            "Rundeck's admins",
            signed(RUNDECK_ADMINS, "mallory", &["deployer"]),
        ),
    ] {
        let app = App::sqlite().var("auth_issuers", &issuers());
        let mut body = release_body("1.0.0", DIGEST);
        body["on_behalf_of"] = "bob".into();
        let create = post("/api/releases", body).header("authorization", &token);
        let refused = problem(&app.send(create), 403);
        assert!(
            refused["detail"]
                .as_str()
                .unwrap()
                .contains("may not record on behalf of `bob`"),
            "{who}: {refused}"
        );
        assert_eq!(app.send(get("/api/releases/1.0.0")).status, 404, "{who}");

        staged(&app, "0.9.0", &token);
        let request = post(
            "/api/releases/0.9.0/approval",
            json!({"on_behalf_of": "bob"}),
        )
        .header("authorization", &token);
        problem(&app.send(request), 403);
        let release = app.send(get("/api/releases/0.9.0")).json_body();
        assert!(release["approval"].is_null(), "{who}: {release}");
        // Recording for themselves is what they may do.
        let own = post("/api/releases/0.9.0/approval", json!({})).header("authorization", &token);
        assert_eq!(app.send(own).status, 201, "{who}");
        let audit = app.send(get("/api/audit?limit=100")).json_body();
        let items = audit["items"].as_array().unwrap();
        assert!(
            items.iter().all(|e| e["on_behalf_of"].is_null()),
            "{who}: {audit}"
        );
    }
}
