//! Starting the real `spin-host` binary (built with `make build`) on a free loopback port, and
//! talking to it over HTTP: shared by the host's end-to-end tests, the console's, and the
//! benchmark.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const HMAC_KEY: &str = "e2e-hmac-key-0123456789abcdef0123456789";

/// The address in spin-host's start-up line, `spin-host: serving http://ADDR (app `name`)`.
pub fn serving_address(line: &str) -> Option<&str> {
    line.strip_prefix("spin-host: serving http://")?
        .split_whitespace()
        .next()
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The host binary: `SPIN_HOST_BIN`, else the `host` profile build that `make build` makes.
pub fn host_bin() -> PathBuf {
    let path = std::env::var_os("SPIN_HOST_BIN")
        .map_or_else(|| repo().join("target/host/spin-host"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run `make build` first",
        path.display()
    );
    path
}

pub fn wasm(name: &str) -> PathBuf {
    let path = repo().join(format!("target/wasm32-wasip2/release/{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `make build` first",
        path.display()
    );
    path
}

pub fn scratch_dir(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "spin-host-e2e-{label}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running host. Stopped (SIGKILL) when dropped, unless already stopped.
pub struct Host {
    pub child: Child,
    pub base: String,
    pub sqlite_dir: PathBuf,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

pub struct HostBuilder {
    manifest: PathBuf,
    sqlite_dir: PathBuf,
    vars: Vec<(String, String)>,
    env: Vec<(String, String)>,
    ready_path: String,
    relative_dirs: bool,
    listen: String,
}

impl HostBuilder {
    pub fn new(label: &str) -> Self {
        Self {
            manifest: repo().join("spin.toml"),
            sqlite_dir: scratch_dir(label),
            vars: vec![("auth_hmac_key".into(), HMAC_KEY.into())],
            env: Vec::new(),
            ready_path: "/api/ready".into(),
            relative_dirs: false,
            listen: "127.0.0.1:0".into(),
        }
    }

    /// Runs the host as `make run` does: from a working directory, with a relative SQLite
    /// directory and the default compile cache beneath it.
    pub fn relative_dirs(mut self) -> Self {
        self.relative_dirs = true;
        self
    }

    /// The path that answers 200 once the app is up (default `/api/ready`).
    pub fn ready_path(mut self, path: &str) -> Self {
        self.ready_path = path.into();
        self
    }

    /// Listens on this port instead of a free one the host picks.
    pub fn port(mut self, port: u16) -> Self {
        self.listen = format!("127.0.0.1:{port}");
        self
    }

    pub fn manifest(mut self, path: PathBuf) -> Self {
        self.manifest = path;
        self
    }

    pub fn sqlite_dir(mut self, dir: PathBuf) -> Self {
        self.sqlite_dir = dir;
        self
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(host_bin());
        command
            .args(["--listen", &self.listen, "--manifest"])
            .arg(&self.manifest);
        if self.relative_dirs {
            command
                .current_dir(&self.sqlite_dir)
                .args(["--sqlite-dir", ".spin"]);
        } else {
            command.arg("--sqlite-dir").arg(&self.sqlite_dir);
            command
                .arg("--cache-dir")
                .arg(repo().join("target/spin-host-test-cache"));
        }
        for (name, value) in &self.vars {
            command.arg("--var").arg(format!("{name}={value}"));
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs the host expecting it to refuse to start; returns its exit code and stderr.
    pub fn fail(&self) -> (Option<i32>, String) {
        let out = self.command().stdin(Stdio::null()).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts the host and waits until it serves.
    pub fn start(self) -> Host {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        let sink = stdout.clone();
        std::thread::spawn(move || {
            out.lines()
                .map_while(Result::ok)
                .for_each(|l| sink.lock().unwrap().push(l))
        });
        let err = BufReader::new(child.stderr.take().unwrap());
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                if let Some(addr) = serving_address(&line) {
                    let _ = tx.send(addr.to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "spin-host did not start:\n{}",
                    stderr.lock().unwrap().join("\n")
                )
            });
        let host = Host {
            child,
            base: format!("http://{addr}"),
            sqlite_dir: self.sqlite_dir,
            stdout,
            stderr,
        };
        host.wait_ready(&self.ready_path);
        host
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.expect("HTTP exchange");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

impl Host {
    pub fn get(&self, path: &str) -> Reply {
        self.get_as(path, None)
    }

    pub fn get_as(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = agent().get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        reply(request.call())
    }

    pub fn post(&self, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Reply {
        let mut request = agent()
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        reply(request.send(body))
    }

    pub fn post_json(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.post(
            path,
            Some(token),
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    fn wait_ready(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if agent()
                .get(format!("{}{path}", self.base))
                .call()
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "spin-host never became ready:\n{}",
            self.stderr.lock().unwrap().join("\n")
        );
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}

pub fn token(sub: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let claims = token::Claims::new(
        sub,
        &roles,
        3600,
        token::DEFAULT_ISSUER,
        token::DEFAULT_AUDIENCE,
    );
    token::mint_hs256(&claims, HMAC_KEY.as_bytes()).unwrap()
}

pub fn release_body(version: &str) -> Value {
    serde_json::json!({
        "version": version,
        "artifact": format!("ghcr.io/acme/automatizacion:{version}"),
        "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "notes": "e2e",
    })
}

impl Host {
    /// Like `post_json`, but a transport failure (the host died) is `None`, not a panic.
    pub fn try_post_json(&self, path: &str, token: &str, body: &Value) -> Option<u16> {
        agent()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .send(body.to_string().as_bytes())
            .ok()
            .map(|r| r.status().as_u16())
    }
}

impl Host {
    /// GET with extra request headers, as a browser would send them.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = agent().get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.call())
    }

    /// Records, through the API, a release that succeeded on staging and waits for its
    /// production approval: the story the console's tests look at.
    pub fn pending_release_story(&self, version: &str, notes: &str) {
        let kestra = token("kestra", &["deployer"]);
        let mut release = release_body(version);
        release["notes"] = Value::from(notes);
        let created = self.post_json("/api/releases", &kestra, &release);
        assert_eq!(created.status, 201, "{}", created.body);
        for status in ["started", "succeeded"] {
            let event = serde_json::json!({
                "cluster": "staging",
                "status": status,
                "execution_url": "https://kestra.example/executions/1",
            });
            let path = format!("/api/releases/{version}/deployments");
            let recorded = self.post_json(&path, &kestra, &event);
            assert_eq!(recorded.status, 201, "{}", recorded.body);
        }
        let path = format!("/api/releases/{version}/approval");
        let requested = self.post(&path, Some(&kestra), "application/json", b"");
        assert_eq!(requested.status, 201, "{}", requested.body);
    }

    /// Decides the release's approval through the API, as `alice` (an approver).
    pub fn decide(&self, version: &str, decision: &str, comment: &str) {
        let alice = token("alice", &["approver"]);
        let body = serde_json::json!({"decision": decision, "comment": comment});
        let path = format!("/api/releases/{version}/approval/decision");
        let decided = self.post_json(&path, &alice, &body);
        assert_eq!(decided.status, 200, "{}", decided.body);
    }

    /// Every line the host and its components printed to stdout so far.
    pub fn stdout_text(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }
}

/// A free loopback port, for a host that another host must know the address of in advance.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository's `spin.toml`, parsed.
pub fn spin_toml() -> toml::Value {
    let text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    toml::Value::Table(toml::from_str(&text).unwrap())
}

/// Checks that `spin.toml` declares each `(name, default, secret)` the component reads, with
/// that default and secrecy, and passes exactly those to the component as `{{ name }}`.
pub fn assert_variables_declared_and_passed(component: &str, variables: &[(&str, &str, bool)]) {
    let manifest = spin_toml();
    let declared = manifest["variables"].as_table().unwrap();
    let passed = manifest["component"][component]["variables"]
        .as_table()
        .unwrap();
    for &(name, default, secret) in variables {
        let entry = declared
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not declared"));
        assert_eq!(
            entry["default"].as_str(),
            Some(default),
            "default of {name}"
        );
        let declared_secret = entry
            .get("secret")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        assert_eq!(declared_secret, secret, "secrecy of {name}");
        let template = format!("{{{{ {name} }}}}");
        assert_eq!(
            passed.get(name).and_then(toml::Value::as_str),
            Some(template.as_str()),
            "{name} passed to {component}"
        );
    }
    assert_eq!(
        passed.len(),
        variables.len(),
        "{component} is passed variables it never reads"
    );
}
