//! Hostile and careless clients, on real Spin and on spin-host with the same assertions:
//! stalled and broken bodies, look-alike subjects, and the probes that must keep holding
//! (forged tokens, odd bodies, traversal, header tricks, racing writes). After each attack the
//! ledger is checked: nothing recorded that should not be, nothing lost that should be.

use host_harness::{Host, HostBuilder, Runtime, release_body, token};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

fn connect(host: &Host) -> TcpStream {
    let stream = TcpStream::connect(host.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Everything the server writes until it closes the connection (or 30 s pass).
fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

/// The audit log's actions, oldest first.
fn audit_actions(host: &Host) -> Vec<String> {
    let audit = host.get("/api/audit?limit=100").json();
    let mut actions: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    actions.reverse();
    actions
}

fn post_head(path: &str, token: Option<&str>, length: usize) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

/// 150 anonymous clients send the headers of a write and never its body. Each is answered 401
/// at once (the body is read only after authentication), and every route stays up meanwhile.
fn stalled_anonymous_bodies_hold_nothing(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "stalled").start();
    let mut stalled: Vec<TcpStream> = (0..150)
        .map(|_| {
            let mut stream = connect(&host);
            stream
                .write_all(post_head("/api/releases", None, 100).as_bytes())
                .unwrap();
            stream
        })
        .collect();
    for path in ["/api/health", "/api/releases", "/healthz", "/"] {
        assert_eq!(host.get(path).status, 200, "{path} while 150 bodies stall");
    }
    for stream in stalled.iter_mut().step_by(15) {
        let answer = read_answer(stream);
        assert_eq!(
            status_line(&answer),
            "HTTP/1.1 401 Unauthorized",
            "{answer}"
        );
    }
    assert!(audit_actions(&host).is_empty());
}

/// An authenticated write whose body stalls is answered 400 once the body deadline passes,
/// and records nothing.
fn a_stalled_body_is_refused_after_its_deadline(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "slow-body").start();
    let kestra = token("kestra", &["deployer"]);
    let mut stream = connect(&host);
    stream
        .write_all(post_head("/api/releases", Some(&kestra), 400).as_bytes())
        .unwrap();
    stream.write_all(b"{\"version\":\"1.0.0\",").unwrap();
    let answer = read_answer(&mut stream);
    assert_eq!(status_line(&answer), "HTTP/1.1 400 Bad Request", "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    assert!(audit_actions(&host).is_empty());
}

/// A body that parses but ends before its declared length (the client hung up) is never taken
/// for a complete one: a 400 (or no answer), and nothing recorded.
fn a_body_cut_short_records_nothing(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "cut-short").start();
    let kestra = token("kestra", &["deployer"]);
    let body = release_body("1.0.0").to_string();
    let mut stream = connect(&host);
    let head = post_head("/api/releases", Some(&kestra), body.len() + 40);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let answer = read_answer(&mut stream);
    assert!(
        answer.is_empty() || status_line(&answer) == "HTTP/1.1 400 Bad Request",
        "{answer}"
    );
    assert_eq!(host.get("/api/releases/1.0.0").status, 404);
    assert!(audit_actions(&host).is_empty());
}

/// Spellings a person reads as `alice` are `alice`, or are refused: none passes four eyes.
fn look_alike_subjects_are_one_person_or_refused(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "four-eyes").start();
    let alice = token("Alice", &["deployer"]);
    let created = host.post_json("/api/releases", &alice, &release_body("1.0.0"));
    assert_eq!(created.json()["created_by"], "alice", "stored canonical");
    let staging = json!({"cluster": "staging", "status": "succeeded"});
    let path = "/api/releases/1.0.0/deployments";
    assert_eq!(host.post_json(path, &alice, &staging).status, 201);
    let requested = host.post_empty("/api/releases/1.0.0/approval", &alice);
    assert_eq!(requested.status, 201, "{}", requested.body);
    let decide = |sub: &str| {
        host.post_json(
            "/api/releases/1.0.0/approval/decision",
            &token(sub, &["approver"]),
            &json!({"decision": "approve", "comment": "ok"}),
        )
    };
    for same in ["alice", "ALICE", "ａｌｉｃｅ", "Ａlice"] {
        let reply = decide(same);
        assert_eq!(reply.status, 403, "{same:?}: {}", reply.body);
    }
    for ambiguous in [
        "ali\u{200B}ce",
        "\u{202E}ecila",
        "аlice",
        "alicе",
        "al\u{FE0F}ice",
        // All Cyrillic, and it reads as alice.
        "аlісе",
    ] {
        let reply = decide(ambiguous);
        assert_eq!(reply.status, 401, "{ambiguous:?}: {}", reply.body);
    }
    // A name written in Japanese (Han with Hiragana) is a person: its token is accepted.
    let yamada = host.get_as(
        "/api/releases/1.0.0",
        Some(&token("山田たろう", &["viewer"])),
    );
    assert_eq!(yamada.status, 200, "{}", yamada.body);
    let decided = decide("Bob");
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(decided.json()["decided_by"], "bob");
    // The log names the canonical subject, and never a raw invisible character.
    host.wait_for_line(|l| l.contains("\"actor\":\"bob\""));
    let log = host.output();
    assert!(!log.contains('\u{202E}') && !log.contains('\u{200B}'));
}

/// A JWT with the given header, claims and HS256 signature over them.
fn hand_made_jwt(header: &Value, claims: &Value) -> String {
    use base64::Engine;
    let encode = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let message = format!("{}.{}", encode(header), encode(claims));
    let key = EncodingKey::from_secret(host_harness::HMAC_KEY.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}

fn claims(now_offset: i64) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + now_offset;
    json!({
        "sub": "kestra", "roles": ["deployer"], "iss": token::DEFAULT_ISSUER,
        "aud": token::DEFAULT_AUDIENCE, "iat": now, "nbf": now, "exp": now + 600,
    })
}

/// Tokens that must be refused, each with a 401, and nothing written by any of them.
fn forged_and_odd_tokens_are_refused(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "tokens").start();
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let mut wrong_issuer = claims(0);
    wrong_issuer["iss"] = json!("someone-else");
    let mut role_as_text = claims(0);
    role_as_text["roles"] = json!("admin");
    let mut roles_as_numbers = claims(0);
    roles_as_numbers["roles"] = json!([1, 2]);
    let cases = [
        (
            "valid claims under a crit header",
            hand_made_jwt(&json!({"alg": "HS256", "crit": ["exp"]}), &claims(0)),
        ),
        (
            "RS256 named, HMAC signed",
            hand_made_jwt(&json!({"alg": "RS256"}), &claims(0)),
        ),
        (
            "not valid for an hour yet",
            hand_made_jwt(&hs256, &claims(3600)),
        ),
        ("wrong issuer", hand_made_jwt(&hs256, &wrong_issuer)),
        ("roles as text", hand_made_jwt(&hs256, &role_as_text)),
        ("roles as numbers", hand_made_jwt(&hs256, &roles_as_numbers)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, jwt) in &cases {
        let reply = host.post_json("/api/releases", jwt, &release_body("1.0.0"));
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    }
    // The same claims under a plain header are fine: the refusals above are about the header.
    let plain = hand_made_jwt(&hs256, &claims(0));
    host.create_release(&plain, "1.0.0");
    // Two Authorization headers are ambiguous: refused even when both carry the good token.
    let mut stream = connect(&host);
    let body = release_body("2.0.0").to_string();
    let head = post_head("/api/releases", Some(&plain), body.len()).replace(
        "Content-Type",
        &format!("Authorization: Bearer {plain}\r\nContent-Type"),
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let answer = read_answer(&mut stream);
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 401 Unauthorized",
        "{answer}"
    );
    assert_eq!(audit_actions(&host), ["release.created"]);
}

/// Bodies and requests that are odd but not forged: each a clear 4xx, nothing written.
fn odd_requests_get_clear_refusals(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "odd").start();
    let kestra = token("kestra", &["deployer"]);
    let post = |content_type: &str, body: &[u8]| {
        host.post("/api/releases", Some(&kestra), content_type, body)
    };
    let duplicated = br#"{"version":"1.0.0","version":"9.9.9","artifact":"ghcr.io/a/b:1","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","commit":"0123456789abcdef0123456789abcdef01234567"}"#;
    let reply = post("application/json", duplicated);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("duplicate key"), "{}", reply.body);
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(post("application/json", nested.as_bytes()).status, 400);
    assert_eq!(post("application/json", &[0xff, 0xfe, 0x7b]).status, 400);
    host.assert_release_refused(
        &kestra,
        "version",
        json!(format!("1.0.0-{}", "a".repeat(123))),
    );
    host.create_release(&kestra, "1.0.0");
    for url in [
        "javascript:alert(1)",
        "data:text/html,<script>1</script>",
        "JaVaScRiPt:x",
    ] {
        let event = json!({"cluster": "staging", "status": "started", "execution_url": url});
        let reply = host.post_json("/api/releases/1.0.0/deployments", &kestra, &event);
        assert_eq!(
            (reply.status, reply.json()["field"].clone()),
            (422, json!("execution_url")),
            "{url}"
        );
    }
    // Methods are case-sensitive: `post` is not POST.
    let body = release_body("3.0.0").to_string();
    let lowercase =
        post_head("/api/releases", Some(&kestra), body.len()).replacen("POST", "post", 1);
    let answer =
        String::from_utf8_lossy(&host.raw(format!("{lowercase}{body}").as_bytes())).into_owned();
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 405 Method Not Allowed",
        "{answer}"
    );
    // HEAD is GET without a body.
    let answer = String::from_utf8_lossy(
        &host.raw(b"HEAD /api/releases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .into_owned();
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "no body: {answer:?}");
    // Every API answer says not to cache or sniff it.
    let listed = host.get("/api/releases");
    assert_eq!(listed.header("cache-control"), Some("no-store"));
    assert_eq!(listed.header("x-content-type-options"), Some("nosniff"));
    // An id a caller sends is echoed only when short and plain.
    for id in ["a b\"c", &"x".repeat(200), "<script>"] {
        let reply = host.get_with("/api/health", &[("x-request-id", id)]);
        let echoed = reply.header("x-request-id").unwrap();
        assert!(
            echoed.len() == 32 && echoed.bytes().all(|b| b.is_ascii_hexdigit()),
            "{echoed}"
        );
    }
    assert_eq!(audit_actions(&host), ["release.created"]);
}

/// Paths that try to climb out of their route, on the API and the console.
fn traversal_finds_nothing(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "traversal").start();
    for path in [
        "/api/releases/..%2F..%2Fapi%2Faudit",
        "/releases/..%2F..%2Fetc%2Fpasswd",
        "/releases/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2F..%2FCargo.toml",
        "/static/../../Cargo.toml",
    ] {
        let reply = host.get(path);
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert!(
            !reply.body.contains("[package]") && !reply.body.contains("root:"),
            "{path}"
        );
    }
    // A cursor the console passes on but the ledger refuses is the reader's mistake: a 400.
    let page = host.get("/releases?cursor=0");
    assert_eq!(page.status, 400, "{}", page.body);
}

/// 60 clients that send half a request line and stop do not stop anyone else.
fn slow_headers_hold_nothing(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "slow-headers").start();
    let _slow: Vec<TcpStream> = (0..60)
        .map(|_| {
            let mut stream = connect(&host);
            stream
                .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();
    for path in ["/api/health", "/api/releases", "/healthz"] {
        assert_eq!(host.get(path).status, 200, "{path} while 60 clients dawdle");
    }
}

/// Sixteen clients send the same release at once: one creates it, the rest are told it exists;
/// sixteen send the same version with different digests: one wins, the rest conflict. The
/// audit log holds exactly one entry per change.
fn racing_writes_record_each_change_once(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "racing").start();
    let kestra = token("kestra", &["deployer"]);
    let race = |bodies: Vec<Value>| -> Vec<u16> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|body| scope.spawn(|| host.post_json("/api/releases", &kestra, body).status))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let mut same = race(vec![release_body("1.0.0"); 16]);
    same.sort_unstable();
    assert_eq!(same, [vec![200; 15], vec![201]].concat());
    let conflicting: Vec<Value> = (0..16)
        .map(|i| {
            let mut body = release_body("2.0.0");
            body["digest"] = json!(format!("sha256:{i:064x}"));
            body
        })
        .collect();
    let mut statuses = race(conflicting);
    statuses.sort_unstable();
    assert_eq!(statuses, [vec![201], vec![409; 15]].concat());
    assert_eq!(audit_actions(&host), ["release.created", "release.created"]);
}

host_harness::on_both_runtimes!(
    stalled_anonymous_bodies_hold_nothing,
    a_stalled_body_is_refused_after_its_deadline,
    a_body_cut_short_records_nothing,
    look_alike_subjects_are_one_person_or_refused,
    forged_and_odd_tokens_are_refused,
    odd_requests_get_clear_refusals,
    traversal_finds_nothing,
    slow_headers_hold_nothing,
    racing_writes_record_each_change_once,
);
