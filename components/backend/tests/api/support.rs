//! What every API test shares: the app over a real database, requests, tokens and checks.

pub use backend::{AccessLog, ApiRequest, ApiResponse, Body, Host};
pub use ledger::{DbError, Executor, Timestamp};
pub use native_db::testing::{Counting, TestDb};
pub use native_db::{PostgresExecutor, SqliteExecutor};
pub use serde_json::{Value, json};
pub use std::collections::HashMap;

pub const HMAC_KEY: &str = "test-hmac-key-0123456789abcdef0123456789";
pub const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const OTHER_DIGEST: &str =
    "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

pub struct App {
    pub db: TestDb,
    pub vars: HashMap<String, String>,
    /// SQL statements run so far: each is a host call under Spin, its dearest part.
    pub statements: std::cell::Cell<usize>,
    /// Spin's `default` key-value store, which the read model lives in.
    pub key_value: MemoryKeyValue,
    /// The host's clock; `None` reads the wall clock.
    pub clock: std::cell::Cell<Option<i64>>,
    requests: std::cell::Cell<u64>,
}

/// A key-value store in memory, that can be told to fail a key's next write: a process that
/// crashed between a write's commit and its new generation leaves the store just so.
#[derive(Default)]
pub struct MemoryKeyValue {
    pub entries: std::cell::RefCell<HashMap<String, Vec<u8>>>,
    pub fail_next_set_of: std::cell::RefCell<Option<String>>,
    /// Every call fails, as a store that cannot be reached.
    pub broken: std::cell::Cell<bool>,
    /// Host calls that read the store.
    pub reads: std::cell::Cell<usize>,
}

impl backend::KeyValue for &MemoryKeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        if self.broken.get() {
            return Err("the store is unreachable".into());
        }
        self.reads.set(self.reads.get() + 1);
        Ok(self.entries.borrow().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        if self.broken.get() {
            return Err("the store is unreachable".into());
        }
        if self.fail_next_set_of.borrow().as_deref() == Some(key) {
            self.fail_next_set_of.borrow_mut().take();
            return Err("the process stopped".into());
        }
        self.entries.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }
}

impl App {
    pub fn sqlite() -> Self {
        Self::on(TestDb::sqlite())
    }

    pub fn postgres() -> Self {
        let db = TestDb::postgres();
        let url = db.db_url().unwrap().to_owned();
        Self::on(db).var("db_url", &url)
    }

    pub fn on(db: TestDb) -> Self {
        Self {
            db,
            vars: HashMap::new(),
            statements: std::cell::Cell::new(0),
            key_value: MemoryKeyValue::default(),
            clock: std::cell::Cell::new(None),
            requests: std::cell::Cell::new(0),
        }
        .var("auth_hmac_key", HMAC_KEY)
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    pub fn call(&self, req: ApiRequest) -> (ApiResponse, AccessLog) {
        let variable = |name: &str| self.vars.get(name).cloned();
        let open_db = |url: Option<&str>| -> Result<Box<dyn Executor + '_>, DbError> {
            let exec: Box<dyn Executor> = match (url, &self.db) {
                (Some(url), _) => Box::new(PostgresExecutor::connect(url)?),
                (None, TestDb::Sqlite(path)) => Box::new(SqliteExecutor::open(path)?),
                (None, TestDb::Postgres(_)) => panic!("a PostgreSQL test must set db_url"),
            };
            Ok(Box::new(Counting(exec, &self.statements)))
        };
        let open_key_value =
            || -> Result<Box<dyn backend::KeyValue + '_>, String> { Ok(Box::new(&self.key_value)) };
        self.requests.set(self.requests.get() + 1);
        let host = Host {
            variable: &variable,
            open_db: &open_db,
            open_key_value: &open_key_value,
            now: self
                .clock
                .get()
                .map_or_else(Timestamp::now, Timestamp::from_micros),
            fresh_request_id: format!("generated-id-{}", self.requests.get()),
            fresh_trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            // These requests carry their bodies; the end-to-end tests read them lazily.
            read_body: &|| Body::Broken("the test request carries its body".into()),
        };
        backend::handle(&req, &host)
    }

    pub fn send(&self, req: ApiRequest) -> ApiResponse {
        self.call(req).0
    }
}

pub fn get(path: &str) -> ApiRequest {
    ApiRequest::new("GET", path)
}

pub fn post(path: &str, body: Value) -> ApiRequest {
    ApiRequest::new("POST", path).json(&body)
}

pub fn claims(sub: &str, roles: &[&str]) -> token::Claims {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    token::Claims::new(
        sub,
        &roles,
        3600,
        token::DEFAULT_ISSUER,
        token::DEFAULT_AUDIENCE,
    )
}

pub fn hs256(claims: &token::Claims) -> String {
    token::mint_hs256(claims, HMAC_KEY.as_bytes()).unwrap()
}

pub fn bearer(sub: &str, roles: &[&str]) -> String {
    format!("Bearer {}", hs256(&claims(sub, roles)))
}

pub trait As {
    fn by(self, sub: &str, roles: &[&str]) -> Self;
}

impl As for ApiRequest {
    fn by(self, sub: &str, roles: &[&str]) -> Self {
        self.header("authorization", &bearer(sub, roles))
    }
}

pub fn release_body(version: &str, digest: &str) -> Value {
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
pub fn problem(response: &ApiResponse, status: u16) -> Value {
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

pub fn base64url(bytes: &[u8]) -> String {
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
