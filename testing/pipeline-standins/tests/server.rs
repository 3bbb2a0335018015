//! `kestra-standin`, the Kestra stand-in as a server (the playground's): it refuses an account
//! Kestra OSS refuses, saves flows through the API under Kestra's rules, starts an execution for
//! a Webhook whose key and `when` match, runs it to its Pause, and finishes it once resumed.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FLOW: &str = r#"
id: gate
namespace: demo
triggers:
  - id: pushed
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('HOOK_KEY') }}"
    when: "{{ trigger.body.ref | startsWith('refs/tags/v') }}"
    inputs:
      who: "{{ trigger.body.pusher.name }}"
inputs:
  - id: who
    type: STRING
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "resumed for {{ inputs.who }}"
"#;

const USER: &str = "bot@example.com";
const PASSWORD: &str = "Passw0rdX";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn standin(user: &str, password: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kestra-standin"));
    let workdirs = std::env::temp_dir().join(format!("kestra-standin-{}", std::process::id()));
    command
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--user", user, "--password", password])
        .args(["--tools-path", "/usr/bin:/bin"])
        .arg("--workdirs")
        .arg(workdirs)
        // base64("hook-key-1"), as Kestra OSS reads SECRET_* variables.
        .env("SECRET_HOOK_KEY", "aG9vay1rZXktMQ==");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn start() -> Server {
    let port = free_port();
    let child = standin(USER, PASSWORD, port)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent()
        .get(&format!("{}/ping", server.base))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "kestra-standin did not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

const BASIC: &str = "Basic Ym90QGV4YW1wbGUuY29tOlBhc3N3MHJkWA==";

/// Status and JSON body (null when empty).
fn call(method: &str, url: &str, auth: bool, content_type: &str, body: &str) -> (u16, Value) {
    let agent = agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", content_type);
    if auth {
        request = request.header("authorization", BASIC);
    }
    let mut response = agent.run(request.body(body.to_owned()).unwrap()).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn execution(server: &Server, id: &str) -> Value {
    let url = format!("{}/api/v1/main/executions/{id}", server.base);
    let (status, body) = call("GET", &url, true, "application/json", "");
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the execution until its state is STATE.
fn until_state(server: &Server, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = execution(server, id);
        if body["state"]["current"] == state {
            return body;
        }
        assert!(Instant::now() < deadline, "never {state}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tasks(execution: &Value) -> Vec<&str> {
    execution["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap())
        .collect()
}

#[test]
fn an_account_kestra_oss_refuses_stops_the_server() {
    for (user, password, why) in [
        ("bot", PASSWORD, "valid email address"),
        (USER, "password", "8 chars, one upper"),
    ] {
        let out = standin(user, password, free_port()).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{stderr}");
    }
}

#[test]
fn a_webhook_starts_an_execution_that_pauses_until_resumed() {
    let server = start();
    let flows = format!("{}/api/v1/main/flows", server.base);
    let yaml = "application/x-yaml";
    assert_eq!(call("POST", &flows, false, yaml, FLOW).0, 401);
    assert_eq!(call("POST", &flows, true, "application/json", FLOW).0, 415);
    let (status, body) = call("POST", &flows, true, yaml, FLOW);
    assert_eq!((status, body["id"].as_str()), (200, Some("gate")), "{body}");
    let (status, body) = call("POST", &flows, true, yaml, FLOW);
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().contains("already exists"));
    let doubled = FLOW.replace("id: after", "id: wait");
    let (status, body) = call("PUT", &format!("{flows}/demo/gate"), true, yaml, &doubled);
    assert_eq!(status, 422, "Kestra's save-time rules hold: {body}");
    assert_eq!(
        call("PUT", &format!("{flows}/demo/other"), true, yaml, FLOW).0,
        404
    );
    assert_eq!(
        call("PUT", &format!("{flows}/demo/gate"), true, yaml, FLOW).0,
        200
    );

    let hook = |key: &str, body: &str| {
        let url = format!(
            "{}/api/v1/main/executions/webhook/demo/gate/{key}",
            server.base
        );
        call("POST", &url, false, "application/json", body)
    };
    let tag = r#"{"ref": "refs/tags/v1.0.0", "pusher": {"name": "alice"}}"#;
    let (status, body) = hook("wrong-key", tag);
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Not Found: Webhook not found");
    let branch = r#"{"ref": "refs/heads/main", "pusher": {"name": "alice"}}"#;
    assert_eq!(hook("hook-key-1", branch).0, 204, "`when` is false");

    let (status, created) = hook("hook-key-1", tag);
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap();
    let paused = until_state(&server, id, "PAUSED");
    assert_eq!(tasks(&paused), ["wait"]);
    let url = format!("{}/api/v1/main/executions/{id}", server.base);
    assert_eq!(call("GET", &url, false, "application/json", "").0, 401);

    let resume = format!("{url}/actions/resume");
    let multipart = "multipart/form-data; boundary=b";
    assert_eq!(call("POST", &resume, true, multipart, "--b--\r\n").0, 200);
    let done = until_state(&server, id, "SUCCESS");
    assert_eq!(tasks(&done), ["wait", "after"]);
    assert_eq!(
        call("POST", &resume, true, multipart, "--b--\r\n").0,
        409,
        "not paused any more"
    );
}

/// The CI script `kestra/SCRIPT` against the stand-in's API, with FILES as its arguments.
fn ci_script(script: &str, server: &Server, files: &[&std::path::Path]) -> std::process::Output {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Command::new(repo.join("kestra").join(script))
        .args(files)
        .env("KESTRA_URL", &server.base)
        .env("KESTRA_USER", USER)
        .env("KESTRA_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

/// `kestra/deploy-flows.sh` with FILES (flow files).
fn deploy_flows(server: &Server, files: &[&std::path::Path]) -> std::process::Output {
    ci_script("deploy-flows.sh", server, files)
}

#[test]
fn ci_deploys_the_repositorys_flows_read_only_then_replaces_them_and_stops_on_a_refusal() {
    let server = start();
    let flows = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kestra/flows");
    let release = flows.join("automatizacion.release.yml");
    let observe = flows.join("automatizacion.observe.yml");
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let first = deploy_flows(&server, &[&release, &observe]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        text(&first),
        "automatizacion.release: created\nautomatizacion.observe: created\n"
    );
    let again = deploy_flows(&server, &[&release]);
    assert_eq!(text(&again), "automatizacion.release: replaced\n");
    // Each carries the one system label a flow may carry, which makes it read-only in the UI
    // (and the stand-in checks labels as Kestra does at save, as the refusal below shows).
    for flow in [&release, &observe] {
        let yaml = std::fs::read_to_string(flow).unwrap();
        assert!(
            yaml.contains("labels:\n  system.readOnly: \"true\"\n"),
            "{}",
            flow.display()
        );
    }

    // A flow Kestra refuses stops the script with one line, and nothing after it is sent.
    let dir = std::env::temp_dir().join(format!("deploy-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let refused = dir.join("refused.yml");
    let labelled = "id: refused\nnamespace: demo\nlabels:\n  system.owner: me\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    std::fs::write(&refused, labelled).unwrap();
    let stopped = deploy_flows(&server, &[&refused, &observe]);
    let why = String::from_utf8_lossy(&stopped.stderr).into_owned();
    assert_eq!(stopped.status.code(), Some(1), "{why}");
    assert_eq!(why.lines().count(), 1, "{why}");
    assert!(why.starts_with("deploy-flows: Kestra refused"), "{why}");
    assert!(
        why.contains("System labels can only be set by Kestra itself"),
        "{why}"
    );
    assert_eq!(text(&stopped), "");
}

/// `kestra/put-settings.sh` with FILE.
fn put_settings(server: &Server, file: &std::path::Path) -> std::process::Output {
    ci_script("put-settings.sh", server, &[file])
}

/// CI loads each installation's settings into the KV store, where `kv()` reads them: one line
/// per setting, booleans and numbers typed as such, text as text; a key Kestra refuses stops it
/// with Kestra's reason and one line.
#[test]
fn ci_puts_the_installation_settings_where_the_flows_kv_reads_them() {
    let server = start();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kestra/settings.example");
    let out = put_settings(&server, &example);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("automatizacion/ledger_url: set\n"),
        "{stdout}"
    );
    let kv = |key: &str| {
        let url = format!(
            "{}/api/v1/main/namespaces/automatizacion/kv/{key}",
            server.base
        );
        call("GET", &url, true, "application/json", "")
    };
    assert_eq!(
        kv("ledger_url"),
        (
            200,
            serde_json::json!({"type": "STRING", "value": "https://ledger.automatizacion.example.com"})
        )
    );
    assert_eq!(
        kv("deploy_timeout").1,
        serde_json::json!({"type": "NUMBER", "value": 600})
    );
    assert_eq!(
        kv("notify_slack").1,
        serde_json::json!({"type": "BOOLEAN", "value": false})
    );
    assert_eq!(
        kv("spin_registry_flags").1["value"],
        "",
        "an empty setting is empty text"
    );
    assert_eq!(kv("missing").0, 404);
    let put = |key: &str, content_type: &str| {
        let url = format!(
            "{}/api/v1/main/namespaces/automatizacion/kv/{key}",
            server.base
        );
        call("PUT", &url, true, content_type, "\"x\"")
    };
    assert_eq!(put("ledger_url", "application/json").0, 415);
    let (status, refused) = put("_hidden", "text/plain");
    assert_eq!(status, 422);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .starts_with("Illegal argument: Key must start with an alphanumeric character"),
        "{refused}"
    );

    let dir = std::env::temp_dir().join(format!("put-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("settings");
    std::fs::write(
        &broken,
        "ledger_url=\"quoted\" \\ text\n_hidden=x\nlater=y\n",
    )
    .unwrap();
    let stopped = put_settings(&server, &broken);
    let why = String::from_utf8_lossy(&stopped.stderr).into_owned();
    assert_eq!(stopped.status.code(), Some(1), "{why}");
    assert_eq!(why.lines().count(), 1, "{why}");
    assert!(why.contains("_hidden is not a KV key"), "{why}");
    assert_eq!(
        kv("ledger_url").1["value"],
        "\"quoted\" \\ text",
        "quotes kept as text"
    );
    assert_eq!(kv("later").0, 404, "nothing after the refusal");
}
