//! The API router, request in and response out, over real SQLite and PostgreSQL databases.
//! Tokens are minted with the `token` crate (the CLI's own code) or signed here with the test
//! keys in `tests/keys`.

use backend::{AccessLog, ApiRequest, ApiResponse, Body, Host};
use ledger::{DbError, Executor, Timestamp};
use native_db::testing::{Counting, TestDb};
use native_db::{PostgresExecutor, SqliteExecutor};
use serde_json::{Value, json};
use std::collections::HashMap;

const HMAC_KEY: &str = "test-hmac-key-0123456789abcdef0123456789";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_DIGEST: &str =
    "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

struct App {
    db: TestDb,
    vars: HashMap<String, String>,
    /// SQL statements run so far: each is a host call under Spin, its dearest part.
    statements: std::cell::Cell<usize>,
}

impl App {
    fn sqlite() -> Self {
        Self::on(TestDb::sqlite())
    }

    fn postgres() -> Self {
        let db = TestDb::postgres();
        let url = db.db_url().unwrap().to_owned();
        Self::on(db).var("db_url", &url)
    }

    fn on(db: TestDb) -> Self {
        Self {
            db,
            vars: HashMap::new(),
            statements: std::cell::Cell::new(0),
        }
        .var("auth_hmac_key", HMAC_KEY)
    }

    fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    fn call(&self, req: ApiRequest) -> (ApiResponse, AccessLog) {
        let variable = |name: &str| self.vars.get(name).cloned();
        let open_db = |url: Option<&str>| -> Result<Box<dyn Executor + '_>, DbError> {
            let exec: Box<dyn Executor> = match (url, &self.db) {
                (Some(url), _) => Box::new(PostgresExecutor::connect(url)?),
                (None, TestDb::Sqlite(path)) => Box::new(SqliteExecutor::open(path)?),
                (None, TestDb::Postgres(_)) => panic!("a PostgreSQL test must set db_url"),
            };
            Ok(Box::new(Counting(exec, &self.statements)))
        };
        let host = Host {
            variable: &variable,
            open_db: &open_db,
            now: Timestamp::now(),
            fresh_request_id: "generated-id".into(),
            fresh_trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            // These requests carry their bodies; the end-to-end tests read them lazily.
            read_body: &|| Body::Broken("the test request carries its body".into()),
        };
        backend::handle(&req, &host)
    }

    fn send(&self, req: ApiRequest) -> ApiResponse {
        self.call(req).0
    }
}

fn get(path: &str) -> ApiRequest {
    ApiRequest::new("GET", path)
}

fn post(path: &str, body: Value) -> ApiRequest {
    ApiRequest::new("POST", path).json(&body)
}

fn claims(sub: &str, roles: &[&str]) -> token::Claims {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    token::Claims::new(
        sub,
        &roles,
        3600,
        token::DEFAULT_ISSUER,
        token::DEFAULT_AUDIENCE,
    )
}

fn hs256(claims: &token::Claims) -> String {
    token::mint_hs256(claims, HMAC_KEY.as_bytes()).unwrap()
}

fn bearer(sub: &str, roles: &[&str]) -> String {
    format!("Bearer {}", hs256(&claims(sub, roles)))
}

trait As {
    fn by(self, sub: &str, roles: &[&str]) -> Self;
}

impl As for ApiRequest {
    fn by(self, sub: &str, roles: &[&str]) -> Self {
        self.header("authorization", &bearer(sub, roles))
    }
}

fn release_body(version: &str, digest: &str) -> Value {
    json!({
        "version": version,
        "artifact": format!("ghcr.io/acme/automatizacion:{version}"),
        "digest": digest,
        "commit": COMMIT,
        "notes": "First release <script>alert(1)</script>",
    })
}

/// Asserts an RFC 9457 problem with this status, and returns its body.
#[track_caller]
fn problem(response: &ApiResponse, status: u16) -> Value {
    let body = response.json_body();
    assert_eq!(response.status, status, "{body}");
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["detail"].is_string() && body["request_id"].is_string(),
        "{body}"
    );
    body
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

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
        "ledger_deployment_events{cluster=\"prod-east\",status=\"succeeded\"} 1",
        "ledger_deployment_events{cluster=\"staging\",status=\"started\"} 1",
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
/// `Ledger::read`): one per list, two for every cluster's status however many clusters there
/// are. Under Spin each statement is a host call on a connection opened for the request, the
/// dearest part of a read. The bounds keep a route from quietly growing more.
#[test]
fn reads_run_few_statements() {
    let app = App::sqlite();
    story(&app);
    let mut counted = Vec::new();
    for (path, most) in [
        ("/api/releases", 1),
        ("/api/releases?limit=100", 1),
        ("/api/clusters", 2),
        ("/api/approvals?state=pending", 1),
        ("/api/audit", 1),
        ("/api/releases/1.4.0", 3),
        ("/api/overview", 4),
        ("/metrics", 7),
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

#[test]
fn request_ids_are_echoed_or_generated() {
    let app = App::sqlite();
    let given = app.send(get("/api/health").header("x-request-id", "kestra-run-7"));
    assert_eq!(given.header("x-request-id"), Some("kestra-run-7"));
    let unusable = app.send(get("/api/nope").header("x-request-id", "has spaces"));
    assert_eq!(unusable.header("x-request-id"), Some("generated-id"));
    assert_eq!(problem(&unusable, 404)["request_id"], "generated-id");
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
    ] {
        problem(&closed.send(get(path)), 401);
        problem(&closed.send(get(path).by("nobody", &[])), 403);
    }
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
        "/metrics",
    ] {
        assert_eq!(closed.send(get(path)).status, 200, "{path}");
    }
}

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

    assert_eq!(
        problem(&app.send(get("/api/releases?limit=500")), 422)["field"],
        "limit"
    );
    assert_eq!(
        problem(&app.send(get("/api/releases?cursor=x")), 422)["field"],
        "cursor"
    );
    assert_eq!(
        problem(&app.send(get("/api/approvals?state=maybe")), 422)["field"],
        "state"
    );
    assert_eq!(
        problem(&app.send(get("/api/audit?page=2")), 422)["field"],
        "page"
    );
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

#[test]
fn the_openapi_document_covers_every_route_and_error() {
    let app = App::sqlite();
    let doc = app.send(get("/api/openapi.json")).json_body();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], backend::VERSION);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    let routes = backend::routes::all();
    let patterns: std::collections::BTreeSet<&str> =
        routes.iter().map(|r| r.pattern.as_str()).collect();
    assert_eq!(
        paths
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        patterns
    );
    for route in &routes {
        let method = route.method;
        let operation = &paths[&route.pattern][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {} is not documented",
            route.pattern
        );
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/Problem",
                    "{method} {} {status}",
                    route.pattern
                );
            }
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Release",
        "ReleaseDetail",
        "Deployment",
        "Approval",
        "ClusterStatus",
        "AuditEvent",
        "Problem",
        "ReleaseInput",
        "DeploymentInput",
        "DecisionInput",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    // Every status the router can return for a write is documented on the write routes.
    let create = &paths["/api/releases"]["post"]["responses"];
    for status in [
        "200", "201", "400", "401", "403", "409", "413", "415", "422",
    ] {
        assert!(
            create[status].is_object(),
            "POST /api/releases lacks {status}"
        );
    }
    assert_eq!(
        schemas["ReleaseInput"]["required"],
        json!(["version", "artifact", "digest", "commit"])
    );
    // One maximum per text field: the document states the limits the server enforces.
    for (schema, field, limit) in [
        ("ReleaseInput", "version", ledger::types::MAX_VERSION_CHARS),
        ("ReleaseInput", "notes", backend::MAX_NOTES),
        ("DeploymentInput", "message", backend::MAX_MESSAGE),
        ("DecisionInput", "comment", backend::MAX_COMMENT),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["maxLength"],
            json!(limit),
            "{schema}.{field}"
        );
    }
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
            anonymous.actor.as_str(),
            anonymous.route.as_str(),
            anonymous.status
        ),
        ("-", "/api/releases/{version}", 422)
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
