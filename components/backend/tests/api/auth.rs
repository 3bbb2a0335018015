//! Tokens and roles: who may write, which keys verify, and when reads need a token.

use super::support::*;

#[test]
fn writes_need_a_valid_token() {
    let app = App::sqlite();
    let create = || post("/api/releases", release_body("1.0.0", DIGEST));
    let missing = app.send(create());
    problem(&missing, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    problem(
        &app.send(create().header("authorization", "Basic a2VzdHJhOnB3")),
        401,
    );

    let mut expired = claims("kestra", &["deployer"]);
    (expired.exp, expired.nbf, expired.iat) =
        (expired.iat - 600, expired.iat - 700, expired.iat - 700);
    let detail = problem(
        &app.send(create().header("authorization", &format!("Bearer {}", hs256(&expired)))),
        401,
    );
    assert!(
        detail["detail"].as_str().unwrap().contains("expired"),
        "{detail}"
    );

    let mut early = claims("kestra", &["deployer"]);
    early.nbf += 3600;
    early.exp += 3600;
    problem(
        &app.send(create().header("authorization", &format!("Bearer {}", hs256(&early)))),
        401,
    );

    let forged = token::mint_hs256(
        &claims("kestra", &["deployer"]),
        b"another-key-0123456789abcdef0123456789",
    )
    .unwrap();
    let detail = problem(
        &app.send(create().header("authorization", &format!("Bearer {forged}"))),
        401,
    );
    assert!(
        detail["detail"].as_str().unwrap().contains("signature"),
        "{detail}"
    );

    let mut tampered = hs256(&claims("kestra", &["viewer"]));
    let payload = base64url(
        serde_json::to_string(&claims("kestra", &["admin"]))
            .unwrap()
            .as_bytes(),
    );
    let parts: Vec<&str> = tampered.split('.').collect();
    tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    problem(
        &app.send(create().header("authorization", &format!("Bearer {tampered}"))),
        401,
    );

    let mut wrong_audience = claims("kestra", &["deployer"]);
    wrong_audience.aud = "someone-else".into();
    let detail = problem(
        &app.send(create().header(
            "authorization",
            &format!("Bearer {}", hs256(&wrong_audience)),
        )),
        401,
    );
    assert!(
        detail["detail"].as_str().unwrap().contains("audience"),
        "{detail}"
    );

    let mut wrong_issuer = claims("kestra", &["deployer"]);
    wrong_issuer.iss = "evil".into();
    problem(
        &app.send(create().header("authorization", &format!("Bearer {}", hs256(&wrong_issuer)))),
        401,
    );

    let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let body = base64url(
        serde_json::to_string(&claims("kestra", &["admin"]))
            .unwrap()
            .as_bytes(),
    );
    for unsigned in [format!("{header}.{body}."), format!("{header}.{body}")] {
        problem(
            &app.send(create().header("authorization", &format!("Bearer {unsigned}"))),
            401,
        );
    }
    problem(
        &app.send(create().header("authorization", "Bearer not.a.jwt")),
        401,
    );

    // Valid tokens without the right role.
    problem(&app.send(create().by("vera", &["viewer"])), 403);
    problem(&app.send(create().by("alice", &["approver"])), 403);
    problem(&app.send(create().by("nobody", &[])), 403);
    assert_eq!(app.send(create().by("root", &["admin"])).status, 201);
    let decision = json!({"decision": "approve", "comment": ""});
    problem(
        &app.send(
            post("/api/releases/1.0.0/approval/decision", decision).by("kestra", &["deployer"]),
        ),
        403,
    );
    // Nothing refused above left a trace.
    let audit = app.send(get("/api/audit")).json_body();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[test]
fn public_keys_verify_eddsa_and_rs256_but_never_hmac() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/");
    let read = |name: &str| std::fs::read(format!("{keys}{name}")).unwrap();
    let cases = [
        (
            Algorithm::EdDSA,
            "ed25519",
            EncodingKey::from_ed_pem(&read("ed25519-private.pem")).unwrap(),
        ),
        (
            Algorithm::RS256,
            "rsa",
            EncodingKey::from_rsa_pem(&read("rsa-private.pem")).unwrap(),
        ),
    ];
    for (alg, name, private) in cases {
        let public = String::from_utf8(read(&format!("{name}-public.pem"))).unwrap();
        // Only the public key: HS256 is off.
        let app = App::sqlite()
            .var("auth_hmac_key", "")
            .var("auth_public_key", &public);
        let signed = encode(
            &Header::new(alg),
            &claims("kestra", &["deployer"]),
            &private,
        )
        .unwrap();
        let create = |auth: String| {
            post("/api/releases", release_body("2.0.0", DIGEST)).header("authorization", &auth)
        };
        assert_eq!(
            app.send(create(format!("Bearer {signed}"))).status,
            201,
            "{name}"
        );
        // Algorithm confusion: an HS256 token whose "secret" is the public key itself.
        let confused = encode(
            &Header::new(Algorithm::HS256),
            &claims("mallory", &["admin"]),
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .unwrap();
        problem(&app.send(create(format!("Bearer {confused}"))), 401);
        // With an HMAC key configured too, the public key still never verifies HS256.
        let both = App::sqlite().var("auth_public_key", &public);
        problem(&both.send(create(format!("Bearer {confused}"))), 401);
        // The other asymmetric algorithm is refused for this key.
        let other = if alg == Algorithm::EdDSA {
            Algorithm::RS256
        } else {
            Algorithm::EdDSA
        };
        let mut header = Header::new(other);
        header.alg = other;
        let forged = format!(
            "{}.{}.{}",
            base64url(&serde_json::to_vec(&header).unwrap()),
            signed.split('.').nth(1).unwrap(),
            signed.split('.').nth(2).unwrap()
        );
        problem(&app.send(create(format!("Bearer {forged}"))), 401);
    }
}

#[test]
fn reads_are_public_by_default_and_need_a_role_when_not() {
    let open = App::sqlite();
    assert_eq!(open.send(get("/api/releases")).status, 200);
    problem(
        &open.send(get("/api/releases").header("authorization", "Bearer junk")),
        401,
    );

    let closed = App::sqlite().var("public_read", "false");
    for path in [
        "/api/releases",
        "/api/clusters",
        "/api/approvals",
        "/api/audit",
        "/api/releases/1.0.0",
        "/api/choices/releases?state=pending",
        "/metrics",
    ] {
        problem(&closed.send(get(path)), 401);
        problem(&closed.send(get(path).by("nobody", &[])), 403);
    }
    assert_eq!(
        closed
            .send(get("/metrics").by("prometheus", &["viewer"]))
            .status,
        200
    );
    assert_eq!(
        closed
            .send(get("/api/releases").by("vera", &["viewer"]))
            .status,
        200
    );
    assert_eq!(
        closed
            .send(get("/api/clusters").by("kestra", &["deployer"]))
            .status,
        200
    );
    for path in [
        "/api/health",
        "/api/ready",
        "/api/info",
        "/api/openapi.json",
    ] {
        assert_eq!(closed.send(get(path)).status, 200, "{path}");
    }
}
