//! The release pipeline, end to end, with everything real that can run here: real Spin 3.6.3
//! (`spin build`, `spin registry push`, `spin up --from REGISTRY@DIGEST`), a real OCI registry
//! (`scripts/with-registry.sh`), the real Karmada control plane (`scripts/with-control-plane.sh`)
//! and the ledger on spin-host, on SQLite and PostgreSQL.
//!
//! Kestra and Rundeck cannot run here, so a **stand-in for Kestra** executes the flow file's
//! steps in order — their real commands, with the flow's expressions filled in — and a
//! **stand-in for Rundeck** runs the `approve-release` job's real script as a named user. A
//! **stand-in for SpinKube** runs the pushed artifact with real Spin for each cluster's smoke
//! check, and a **Kestra API double** answers the resume call.
//!
//! The build and push run once (`built()`); each scenario then runs the flow from
//! `record_release` on, with a fresh ledger and a fresh clone for its overlays.

use host_harness::{Host, HostBuilder, Runtime, repo, scratch_dir, spin_bin, token};
use native_db::testing::TestDb;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

const VERSION: &str = "1.4.0";
const PREVIOUS: &str = "1.3.0";
/// The digests the repository's overlays pin: what runs before a release.
const STAGING_BEFORE: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const PRODUCTION_BEFORE: &str =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn registry() -> String {
    std::env::var("TEST_REGISTRY")
        .expect("TEST_REGISTRY: run through scripts/with-registry.sh (make test does)")
}

fn control_plane() -> PathBuf {
    let dir =
        PathBuf::from(std::env::var("CONTROL_PLANE_DIR").expect(
            "CONTROL_PLANE_DIR: run through scripts/with-control-plane.sh (make test does)",
        ));
    dir.join("kubeconfig")
}

/// One scenario at a time: they share the Karmada control plane's environments.
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// relctl and Spin on PATH, as in the builder image.
fn path_with_tools() -> String {
    let relctl = PathBuf::from(env!("CARGO_BIN_EXE_relctl"));
    let spin = spin_bin();
    format!(
        "{}:{}:{}",
        relctl.parent().unwrap().display(),
        spin.parent().unwrap().canonicalize().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn kubectl(context: &str, args: &[&str]) -> Value {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(control_plane().join("all"))
        .args(["--context", context])
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every production SpinApp's image on prod-east, then on prod-west.
fn production_images() -> Vec<String> {
    let mut images = images_on("prod-east", "automatizacion");
    images.extend(images_on("prod-west", "automatizacion"));
    images
}

fn images_on(member: &str, namespace: &str) -> Vec<String> {
    let apps = kubectl(member, &["-n", namespace, "get", "spinapps"]);
    apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["spec"]["image"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The stand-in for Kestra
// ---------------------------------------------------------------------------------------------

/// What a stand-in (SpinKube, Rundeck) does before a task runs.
type Hook = Box<dyn FnMut(&mut StandIn)>;

struct StandIn {
    flow: Value,
    inputs: BTreeMap<String, String>,
    vars: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    workdir: PathBuf,
    execution: String,
    /// Runs before a task (by id): the SpinKube and Rundeck stand-ins hook in here.
    hooks: BTreeMap<&'static str, Hook>,
    /// Task ids in the order they ran (skipped ones are not listed).
    ran: Vec<String>,
}

impl StandIn {
    fn new(workdir: PathBuf, vars: &[(&str, String)], secrets: &[(&str, String)]) -> Self {
        let flow: Value = serde_yaml::from_str(
            &std::fs::read_to_string(repo().join("kestra/flows/automatizacion.release.yml"))
                .unwrap(),
        )
        .unwrap();
        let mut all_vars: BTreeMap<String, String> = flow["variables"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect();
        for (k, v) in vars {
            assert!(all_vars.contains_key(*k), "the flow has no variable {k}");
            all_vars.insert((*k).into(), v.clone());
        }
        let mut inputs = BTreeMap::new();
        for input in flow["inputs"].as_array().unwrap() {
            if let Some(default) = input["defaults"].as_str() {
                inputs.insert(input["id"].as_str().unwrap().to_owned(), default.to_owned());
            }
        }
        StandIn {
            flow,
            inputs,
            vars: all_vars,
            secrets: secrets
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect(),
            outputs: BTreeMap::new(),
            workdir,
            execution: format!("standin{}", std::process::id()),
            hooks: BTreeMap::new(),
            ran: Vec::new(),
        }
    }

    fn value_of(&self, expression: &str) -> Result<String, String> {
        let e = expression.trim();
        for (op, equal) in [(" != ", false), (" == ", true)] {
            if let Some((left, right)) = e.split_once(op) {
                let right = right.trim().trim_matches('\'');
                return Ok(((self.value_of(left)? == right) == equal).to_string());
            }
        }
        if let Some(name) = e.strip_prefix("inputs.") {
            return self
                .inputs
                .get(name)
                .cloned()
                .ok_or(format!("no input {name}"));
        }
        if let Some(name) = e.strip_prefix("vars.") {
            return self
                .vars
                .get(name)
                .cloned()
                .ok_or(format!("no variable {name}"));
        }
        if let Some(rest) = e.strip_prefix("outputs.") {
            let (task, key) = rest
                .split_once(".vars.")
                .ok_or(format!("unsupported output {e}"))?;
            return self
                .outputs
                .get(task)
                .and_then(|o| o.get(key))
                .cloned()
                .ok_or(format!("no output {rest}"));
        }
        if let Some(name) = e
            .strip_prefix("secret('")
            .and_then(|r| r.strip_suffix("')"))
        {
            return self
                .secrets
                .get(name)
                .cloned()
                .ok_or(format!("the stand-in has no secret {name}"));
        }
        match e {
            "execution.id" => Ok(self.execution.clone()),
            "flow.id" => Ok(self.flow["id"].as_str().unwrap().to_owned()),
            "flow.namespace" => Ok(self.flow["namespace"].as_str().unwrap().to_owned()),
            _ => Err(format!("the stand-in does not evaluate {{{{ {e} }}}}")),
        }
    }

    fn render(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").ok_or("an unclosed {{")? + start;
            out.push_str(&self.value_of(&rest[start + 2..end])?);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The whole flow: its tasks, then on failure its `errors` branch. `Err` names the task
    /// that failed and why.
    fn run(&mut self, from: Option<&str>) -> Result<(), String> {
        let tasks = self.flow["tasks"].clone();
        let mut skipping = from.is_some();
        let outcome = self.tasks(&tasks, &mut skipping, from);
        if outcome.is_err() {
            let errors = self.flow["errors"].clone();
            let mut no_skip = false;
            self.tasks(&errors, &mut no_skip, None)
                .expect("the errors branch itself fails");
        }
        outcome
    }

    fn tasks(
        &mut self,
        tasks: &Value,
        skipping: &mut bool,
        from: Option<&str>,
    ) -> Result<(), String> {
        for task in tasks.as_array().unwrap() {
            let id = task["id"].as_str().unwrap();
            if Some(id) == from {
                *skipping = false;
            }
            let kind = task["type"].as_str().unwrap();
            if kind == "io.kestra.plugin.core.flow.WorkingDirectory" {
                self.tasks(&task["tasks"], skipping, from)?;
                continue;
            }
            if *skipping {
                continue;
            }
            if let Some(condition) = task["runIf"].as_str()
                && self.render(condition)? != "true"
            {
                continue;
            }
            if let Some(mut hook) = self.hooks.remove(id) {
                hook(self);
            }
            self.ran.push(id.to_owned());
            self.task(id, kind, task)
                .map_err(|e| format!("{id}: {e}"))?;
        }
        Ok(())
    }

    fn task(&mut self, id: &str, kind: &str, task: &Value) -> Result<(), String> {
        match kind {
            // Stand-in for the git plugin's Clone: the repository is the test's own checkout.
            "io.kestra.plugin.git.Clone" => {
                let out = Command::new("git")
                    .args([
                        "clone",
                        "-q",
                        "--depth",
                        "1",
                        "--branch",
                        &self.render(task["branch"].as_str().unwrap())?,
                    ])
                    .arg(format!(
                        "file://{}",
                        repo().canonicalize().unwrap().display()
                    ))
                    .arg(&self.workdir)
                    .output()
                    .unwrap();
                if !out.status.success() {
                    return Err(String::from_utf8_lossy(&out.stderr).into_owned());
                }
                Ok(())
            }
            "io.kestra.plugin.scripts.shell.Commands" => self.commands(id, task),
            // Kestra pauses here until resumed; the Rundeck stand-in has decided in the hook.
            "io.kestra.plugin.core.flow.Pause" => Ok(()),
            "io.kestra.plugin.core.execution.Fail" => {
                if self.render(task["condition"].as_str().unwrap_or("true"))? == "true" {
                    return Err(self.render(task["errorMessage"].as_str().unwrap_or("failed"))?);
                }
                Ok(())
            }
            "io.kestra.plugin.core.log.Log" => Ok(()),
            other => Err(format!(
                "the stand-in cannot run {other} (notifications are off in the tests)"
            )),
        }
    }

    fn commands(&mut self, id: &str, task: &Value) -> Result<(), String> {
        for (name, content) in task["inputFiles"].as_object().into_iter().flatten() {
            std::fs::write(
                self.workdir.join(name),
                self.render(content.as_str().unwrap())?,
            )
            .unwrap();
        }
        let mut script = String::from("set -e\n");
        for command in task["commands"].as_array().unwrap() {
            script.push_str(&self.render(command.as_str().unwrap())?);
            script.push('\n');
        }
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&script)
            .current_dir(&self.workdir)
            .env("PATH", path_with_tools());
        for (name, value) in task["env"].as_object().into_iter().flatten() {
            command.env(name, self.render(value.as_str().unwrap())?);
        }
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in stdout.lines() {
            if let Some(json) = line
                .trim()
                .strip_prefix("::")
                .and_then(|l| l.strip_suffix("::"))
            {
                let value: Value = serde_json::from_str(json)
                    .map_err(|e| format!("bad outputs line {line}: {e}"))?;
                let vars = self.outputs.entry(id.to_owned()).or_default();
                for (k, v) in value["outputs"].as_object().unwrap() {
                    vars.insert(k.clone(), v.as_str().unwrap().to_owned());
                }
            }
        }
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "exit {:?}: {}{}",
                out.status.code(),
                stdout,
                stderr
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The build, once
// ---------------------------------------------------------------------------------------------

struct Built {
    digest: String,
    commit: String,
    artifact: String,
    clone: PathBuf,
}

/// Runs the flow's clone, commit and build_and_push steps once for the whole test binary.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let workdir = scratch_dir("pipeline-build").join("work");
        let mut standin = StandIn::new(workdir.clone(), &vars_for(None), &secrets_for(None, ""));
        standin.inputs.insert("version".into(), VERSION.into());
        standin.inputs.insert("git_ref".into(), current_branch());
        for id in ["clone", "commit", "build_and_push"] {
            if id == "commit" {
                seed_cargo_cache(&workdir);
            }
            let task = find_task(&standin.flow, id);
            let kind = task["type"].as_str().unwrap().to_owned();
            standin
                .task(id, &kind, &task)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
        }
        Built {
            digest: standin.outputs["build_and_push"]["digest"].clone(),
            commit: standin.outputs["commit"]["sha"].clone(),
            artifact: format!("{}/automatizacion", registry()),
            clone: workdir,
        }
    })
}

/// What the builder image's Cargo cache would hold: the checkout's release builds, linked into
/// the clone's `target/`, so the clone compiles only the workspace's own crates (its paths are
/// new) and not every dependency again.
fn seed_cargo_cache(clone: &std::path::Path) {
    let target = repo().join("target");
    std::fs::create_dir_all(clone.join("target/wasm32-wasip2")).unwrap();
    for dir in ["wasm32-wasip2/release", "release"] {
        if target.join(dir).exists() {
            let linked = Command::new("cp")
                .arg("-al")
                .arg(target.join(dir))
                .arg(clone.join("target").join(dir))
                .status()
                .unwrap();
            assert!(linked.success(), "cp -al {dir}");
        }
    }
}

fn current_branch() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .current_dir(repo())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn find_task(flow: &Value, id: &str) -> Value {
    fn walk(list: &Value, id: &str) -> Option<Value> {
        list.as_array()?.iter().find_map(|t| {
            if t["id"] == id {
                Some(t.clone())
            } else {
                walk(&t["tasks"], id)
            }
        })
    }
    walk(&flow["tasks"], id).unwrap_or_else(|| panic!("the flow has no task {id}"))
}

fn vars_for(ledger: Option<&Host>) -> Vec<(&'static str, String)> {
    vec![
        ("registry_host", registry()),
        ("artifact", format!("{}/automatizacion", registry())),
        ("spin_registry_flags", "--insecure".into()),
        (
            "ledger_url",
            ledger.map(|l| l.base.clone()).unwrap_or_default(),
        ),
        ("kestra_url", "http://127.0.0.1:9".into()),
        ("deploy_timeout", "60".into()),
    ]
}

fn secrets_for(deployer: Option<&str>, kubeconfig: &str) -> Vec<(&'static str, String)> {
    vec![
        // The test registry takes no login (and `spin registry login` speaks only HTTPS).
        ("REGISTRY_USER", String::new()),
        ("REGISTRY_PASSWORD", String::new()),
        ("LEDGER_DEPLOYER_TOKEN", deployer.unwrap_or("").to_owned()),
        ("KARMADA_KUBECONFIG", kubeconfig.to_owned()),
    ]
}

#[test]
fn the_build_pushes_the_exact_artifact_spinkube_runs() {
    let built = built();
    let reference = format!("{}/automatizacion", registry());
    // The digest from Spin's output is the registry's own digest of the manifest.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!(
        "http://{}/v2/automatizacion/manifests/{VERSION}",
        registry()
    );
    let mut response = agent
        .get(&url)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["docker-content-digest"]
            .to_str()
            .unwrap(),
        built.digest
    );
    let manifest: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    // One wasm layer per component, byte for byte what the clone built.
    let layers: Vec<&Value> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["mediaType"] == "application/vnd.wasm.content.layer.v1+wasm")
        .collect();
    for component in ["backend", "frontend"] {
        let path = format!("target/wasm32-wasip2/release/{component}.wasm");
        let wasm = std::fs::read(built.clone.join(path)).unwrap();
        let digest = format!("sha256:{}", sha256_hex(&wasm));
        assert!(
            layers.iter().any(|l| l["digest"] == digest.as_str()),
            "no layer holds {component}.wasm ({digest})"
        );
    }
    // Real Spin runs it from the registry by digest, as SpinKube does, and it knows its release.
    let instance = HostBuilder::on(Runtime::Spin, "pipeline-artifact")
        .from_registry(&format!("{reference}@{}", built.digest))
        .var("cluster_name", "staging")
        .start();
    let info = instance.get("/api/info").json();
    assert_eq!(info["version"], VERSION);
    assert_eq!(info["commit"], built.commit.as_str());
    assert_eq!(info["cluster_name"], "staging");
    assert!(built.clone.join("spin.toml").exists());
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// The Kestra API double and the Rundeck stand-in
// ---------------------------------------------------------------------------------------------

/// A test double of Kestra's API: answers `POST /api/v1/main/executions/{id}/resume` with 204
/// when the bearer token matches, and records each call's path.
struct KestraApiDouble {
    base: String,
    calls: Arc<Mutex<Vec<String>>>,
}

impl KestraApiDouble {
    fn start(token: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut authorized = false;
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim().to_ascii_lowercase();
                    if header.is_empty() {
                        break;
                    }
                    authorized |= header == format!("authorization: bearer {token}");
                    if let Some(n) = header.strip_prefix("content-length:") {
                        length = n.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                let resumable = request_line.starts_with("POST ") && path.ends_with("/resume");
                let status = if !authorized {
                    "401 Unauthorized"
                } else if resumable {
                    "204 No Content"
                } else {
                    "404 Not Found"
                };
                seen.lock().unwrap().push(path);
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        KestraApiDouble { base, calls }
    }
}

/// Runs the `approve-release` job's script as USER, as Rundeck would with these options.
fn rundeck_approve(
    user: &str,
    ledger: &str,
    kestra: &KestraApiDouble,
    execution: &str,
    decision: &str,
) -> (bool, String) {
    let job: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("rundeck/jobs/approve-release.yaml")).unwrap(),
    )
    .unwrap();
    let script = job[0]["sequence"]["commands"][0]["script"]
        .as_str()
        .unwrap();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env("PATH", path_with_tools())
        .env("RD_JOB_USERNAME", user)
        .env("RD_OPTION_VERSION", VERSION)
        .env("RD_OPTION_DECISION", decision)
        .env(
            "RD_OPTION_COMMENT",
            format!("{decision}d after reading the staging check"),
        )
        .env("RD_OPTION_KESTRA_EXECUTION", execution)
        .env("RD_OPTION_LEDGER_URL", ledger)
        .env("RD_OPTION_KESTRA_URL", &kestra.base)
        .env("RD_OPTION_LEDGER_KEY", host_harness::HMAC_KEY)
        .env("RD_OPTION_KESTRA_TOKEN", "kestra-api-token")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

struct Scenario {
    ledger: Host,
    _db: Option<TestDb>,
    kestra: KestraApiDouble,
    deployer: String,
    instances: Arc<Mutex<Vec<Host>>>,
}

impl Scenario {
    fn new(label: &str, postgres: bool) -> Self {
        let builder = HostBuilder::new(label);
        let (ledger, db) = if postgres {
            let db = TestDb::postgres();
            let url = db.db_url().unwrap().to_owned();
            let authority = format!(
                "postgres://{}",
                url.split('@').nth(1).unwrap().split('/').next().unwrap()
            );
            (
                builder
                    .var("db_url", &url)
                    .var("db_outbound_host", &authority)
                    .start(),
                Some(db),
            )
        } else {
            (builder.start(), None)
        };
        Scenario {
            ledger,
            _db: db,
            kestra: KestraApiDouble::start("kestra-api-token"),
            deployer: token("kestra", &["deployer"]),
            instances: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A release that already ran on ENVIRONMENT with DIGEST (the overlays' pinned digests).
    fn seed_previous(&self, staging: bool, production: bool) {
        let mut body = host_harness::release_body(PREVIOUS);
        body["digest"] = if production {
            PRODUCTION_BEFORE
        } else {
            STAGING_BEFORE
        }
        .into();
        assert_eq!(
            self.ledger
                .post_json("/api/releases", &self.deployer, &body)
                .status,
            201
        );
        let event = |cluster: &str| {
            let reply = self.ledger.post_json(
                &format!("/api/releases/{PREVIOUS}/deployments"),
                &self.deployer,
                &json!({"cluster": cluster, "status": "succeeded"}),
            );
            assert_eq!(reply.status, 201, "{}", reply.body);
        };
        if staging || production {
            event("staging");
        }
        if production {
            assert_eq!(
                self.ledger
                    .post_json(
                        &format!("/api/releases/{PREVIOUS}/approval"),
                        &self.deployer,
                        &json!({})
                    )
                    .status,
                201
            );
            self.ledger.decide(PREVIOUS, "approve", "the last good one");
            event("prod-east");
            event("prod-west");
        }
    }

    /// The stand-in for Kestra over a fresh clone, resuming after the build.
    fn standin(&self, label: &str) -> StandIn {
        let built = built();
        let workdir = scratch_dir(label).join("work");
        let kubeconfig = std::fs::read_to_string(control_plane().join("karmada")).unwrap();
        let mut standin = StandIn::new(
            workdir,
            &vars_for(Some(&self.ledger)),
            &secrets_for(Some(&self.deployer), &kubeconfig),
        );
        standin.inputs.insert("version".into(), VERSION.into());
        standin.inputs.insert("git_ref".into(), current_branch());
        standin
            .inputs
            .insert("notes".into(), "Faster console".into());
        standin.outputs.insert(
            "commit".into(),
            [("sha".to_owned(), built.commit.clone())].into(),
        );
        standin.outputs.insert(
            "build_and_push".into(),
            [("digest".to_owned(), built.digest.clone())].into(),
        );
        // A fresh clone for this scenario's overlays; the build is the shared one.
        let clone = find_task(&standin.flow, "clone");
        standin
            .task("clone", clone["type"].as_str().unwrap(), &clone)
            .unwrap();
        standin
    }

    /// The stand-in for SpinKube: before TASK, real Spin runs the pushed artifact for each
    /// CLUSTER (or, with `wrong`, an instance that reports another version), and the flow's
    /// URL variable for it points there.
    fn spinkube_before(
        &self,
        standin: &mut StandIn,
        task: &'static str,
        clusters: &[(&'static str, &'static str)],
        wrong: bool,
    ) {
        let instances = self.instances.clone();
        let clusters = clusters.to_vec();
        let ledger_base = self.ledger.base.clone();
        standin.hooks.insert(
            task,
            Box::new(move |standin: &mut StandIn| {
                for (cluster, var) in &clusters {
                    let url = if wrong {
                        ledger_base.clone() // the ledger's own /api/info: cluster `local`, another version
                    } else {
                        let built = built();
                        let host = HostBuilder::on(Runtime::Spin, &format!("pipeline-{cluster}"))
                            .from_registry(&format!("{}@{}", built.artifact, built.digest))
                            .var("cluster_name", cluster)
                            .start();
                        let base = host.base.clone();
                        instances.lock().unwrap().push(host);
                        base
                    };
                    standin.vars.insert((*var).to_owned(), url);
                }
            }),
        );
    }

    /// The stand-ins a release meets on its way: SpinKube runs the artifact for staging's check,
    /// USER decides in Rundeck, and SpinKube runs it for production's checks (or, with
    /// `broken_production`, the checks reach an instance with another version).
    fn standins_on_the_way(
        &self,
        standin: &mut StandIn,
        user: &'static str,
        decision: &'static str,
        broken_production: bool,
    ) {
        self.spinkube_before(
            standin,
            "deploy_staging",
            &[("staging", "staging_url")],
            false,
        );
        self.rundeck_before_resume(standin, user, decision);
        let production = [
            ("prod-east", "prod_east_url"),
            ("prod-west", "prod_west_url"),
        ];
        self.spinkube_before(standin, "deploy_production", &production, broken_production);
    }

    fn rundeck_before_resume(
        &self,
        standin: &mut StandIn,
        user: &'static str,
        decision: &'static str,
    ) {
        let ledger = self.ledger.base.clone();
        let kestra_base = self.kestra.base.clone();
        let calls = self.kestra.calls.clone();
        standin.hooks.insert(
            "wait_for_decision",
            Box::new(move |standin: &mut StandIn| {
                let kestra = KestraApiDouble {
                    base: kestra_base.clone(),
                    calls: calls.clone(),
                };
                let (ok, output) =
                    rundeck_approve(user, &ledger, &kestra, &standin.execution, decision);
                assert!(ok, "the approve-release job failed: {output}");
            }),
        );
    }

    fn release(&self) -> Value {
        self.ledger.get(&format!("/api/releases/{VERSION}")).json()
    }

    fn events(&self) -> Vec<(String, String)> {
        self.release()["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["cluster"].as_str().unwrap().to_owned(),
                    d["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn audit_actions(&self) -> Vec<String> {
        self.ledger.get("/api/audit?limit=100").json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Puts the control plane's workloads back as the repository pins them.
fn restore_workloads() {
    for environment in ["staging", "production"] {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(control_plane().join("karmada"))
            .args(["apply", "-k"])
            .arg(repo().join(format!("karmada/workloads/{environment}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_release_goes_from_build_to_both_production_clusters_with_an_approval() {
    release_reaches_production(false);
}

#[test]
fn a_release_goes_from_build_to_both_production_clusters_on_postgres() {
    release_reaches_production(true);
}

fn release_reaches_production(postgres: bool) {
    let _lock = exclusive();
    let scenario = Scenario::new("pipeline-happy", postgres);
    let mut standin = scenario.standin("pipeline-happy");
    scenario.standins_on_the_way(&mut standin, "alice", "approve", false);
    let outcome = standin.run(Some("record_release"));
    let production = production_images();
    restore_workloads();
    outcome.unwrap();

    let built = built();
    let pinned = format!("{}@{}", built.artifact, built.digest);
    assert!(production.iter().all(|i| *i == pinned), "{production:?}");
    let release = scenario.release();
    assert_eq!(release["digest"], built.digest.as_str());
    assert_eq!(release["commit"], built.commit.as_str());
    assert_eq!(release["artifact"], format!("{}:{VERSION}", built.artifact));
    assert_eq!(release["approval"]["state"], "approved");
    assert_eq!(release["approval"]["decided_by"], "alice");
    assert_eq!(
        scenario.events(),
        pairs(&[
            ("staging", "started"),
            ("staging", "succeeded"),
            ("prod-east", "started"),
            ("prod-west", "started"),
            ("prod-east", "succeeded"),
            ("prod-west", "succeeded"),
        ])
    );
    for deployment in release["deployments"].as_array().unwrap() {
        let url = deployment["execution_url"].as_str().unwrap();
        assert!(
            url.ends_with(&format!("/automatizacion/release/{}", standin.execution)),
            "{url}"
        );
    }
    let clusters = scenario.ledger.get("/api/clusters").json();
    for cluster in clusters.as_array().unwrap() {
        assert_eq!(
            cluster["current"]["version"], VERSION,
            "{}",
            cluster["name"]
        );
    }
    // Kestra was resumed once, for this execution, after the decision.
    let calls = scenario.kestra.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [format!(
            "/api/v1/main/executions/{}/resume",
            standin.execution
        )]
    );
    let actions = scenario.audit_actions();
    for action in [
        "release.created",
        "approval.requested",
        "approval.decided",
        "deployment.recorded",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "the audit log lacks {action}: {actions:?}"
        );
    }
}

#[test]
fn a_rejected_release_never_reaches_production() {
    let _lock = exclusive();
    let scenario = Scenario::new("pipeline-rejected", true);
    let before = production_images();
    let mut standin = scenario.standin("pipeline-rejected");
    scenario.standins_on_the_way(&mut standin, "bob", "reject", false);
    let outcome = standin.run(Some("record_release"));
    let after = production_images();
    restore_workloads();

    let error = outcome.expect_err("a rejected release fails the execution");
    assert!(
        error.starts_with("rejected:") && error.contains("production is unchanged"),
        "{error}"
    );
    assert_eq!(before, after, "production changed");
    assert!(!standin.ran.contains(&"deploy_production".to_owned()));
    let release = scenario.release();
    assert_eq!(release["approval"]["state"], "rejected");
    assert_eq!(release["approval"]["decided_by"], "bob");
    assert_eq!(
        scenario.events(),
        pairs(&[("staging", "started"), ("staging", "succeeded")])
    );
    // The Rundeck job resumed Kestra; the flow then read "rejected" from the ledger.
    assert_eq!(scenario.kestra.calls.lock().unwrap().len(), 1);
}

#[test]
fn a_failed_staging_check_puts_the_previous_release_back() {
    let _lock = exclusive();
    let scenario = Scenario::new("pipeline-staging-fails", false);
    scenario.seed_previous(true, false);
    let mut standin = scenario.standin("pipeline-staging-fails");
    standin.vars.insert("deploy_timeout".into(), "5".into());
    scenario.spinkube_before(
        &mut standin,
        "deploy_staging",
        &[("staging", "staging_url")],
        true,
    );
    let outcome = standin.run(Some("record_release"));
    let staging_after = images_on("staging", "automatizacion-staging");
    restore_workloads();

    let error = outcome.expect_err("the staging check fails");
    assert!(
        error.contains(&format!("{PREVIOUS} was put back")),
        "{error}"
    );
    assert!(
        staging_after.iter().all(|i| *i
            == format!("registry.staging.internal:5000/acme/automatizacion@{STAGING_BEFORE}")),
        "{staging_after:?}"
    );
    assert_eq!(
        scenario.events(),
        pairs(&[
            ("staging", "started"),
            ("staging", "failed"),
            ("staging", "rolled_back")
        ])
    );
    let release = scenario.release();
    assert!(
        release["approval"].is_null(),
        "no approval is requested after a failed staging check"
    );
    let failed = &release["deployments"][1]["message"];
    assert!(
        failed
            .as_str()
            .unwrap()
            .contains("did not show staging running 1.4.0"),
        "{failed}"
    );
    let staging = &scenario.ledger.get("/api/clusters").json()[0];
    assert_eq!(staging["current"]["version"], PREVIOUS);
    // The errors branch ran (and its notifications stayed off).
    assert!(standin.ran.contains(&"log_failure".to_owned()));
}

#[test]
fn a_failed_production_rollout_is_rolled_back_on_both_clusters() {
    let _lock = exclusive();
    let scenario = Scenario::new("pipeline-production-fails", true);
    scenario.seed_previous(true, true);
    let mut standin = scenario.standin("pipeline-production-fails");
    standin.vars.insert("deploy_timeout".into(), "5".into());
    scenario.standins_on_the_way(&mut standin, "alice", "approve", true);
    let outcome = standin.run(Some("record_release"));
    let after = production_images();
    restore_workloads();

    let error = outcome.expect_err("the production check fails");
    assert!(
        error.starts_with("deploy_production:")
            && error.contains(&format!("{PREVIOUS} was put back")),
        "{error}"
    );
    assert!(
        after.iter().all(|i| i.ends_with(PRODUCTION_BEFORE)),
        "{after:?}"
    );
    let events = scenario.events();
    for cluster in ["prod-east", "prod-west"] {
        let of: Vec<&str> = events
            .iter()
            .filter(|(c, _)| c == cluster)
            .map(|(_, s)| s.as_str())
            .collect();
        assert_eq!(of, ["started", "failed", "rolled_back"], "{cluster}");
    }
    for cluster in scenario
        .ledger
        .get("/api/clusters")
        .json()
        .as_array()
        .unwrap()
    {
        let want = if cluster["name"] == "staging" {
            VERSION
        } else {
            PREVIOUS
        };
        assert_eq!(cluster["current"]["version"], want, "{}", cluster["name"]);
    }
}

#[test]
fn waiting_for_readiness_times_out_with_each_clusters_conditions() {
    let _lock = exclusive();
    let kubeconfig = control_plane().join("karmada");
    let wait = |timeout: &str| {
        Command::new(env!("CARGO_BIN_EXE_relctl"))
            .args([
                "wait-ready",
                "--namespace",
                "automatizacion",
                "--timeout",
                timeout,
            ])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()
            .unwrap()
    };
    let ready = wait("30");
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    assert_eq!(
        String::from_utf8(ready.stdout).unwrap().trim(),
        "automatizacion-backend 6/6, automatizacion-frontend 6/6"
    );

    // What the SpinKube operator would report when prod-west's replicas are down.
    let down = json!({"status": {"readyReplicas": 0, "conditions": [{
        "type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
        "message": "0 of 2 replicas ready", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    let patched = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(control_plane().join("all"))
        .args([
            "--context",
            "prod-west",
            "-n",
            "automatizacion",
            "patch",
            "spinapp",
            "automatizacion-frontend",
        ])
        .args([
            "--subresource=status",
            "--type=merge",
            "-p",
            &down.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        patched.status.success(),
        "{}",
        String::from_utf8_lossy(&patched.stderr)
    );
    // Karmada aggregates the report within a second or two; wait until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while kubectl(
        "karmada-apiserver",
        &[
            "-n",
            "automatizacion",
            "get",
            "spinapp",
            "automatizacion-frontend",
        ],
    )["status"]["readyReplicas"]
        != 4
    {
        assert!(
            std::time::Instant::now() < deadline,
            "Karmada never aggregated prod-west's report"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let timed_out = wait("4");
    // The operator stand-in reports every member SpinApp ready again.
    let restored = Command::new(repo().join("local-dev/control-plane.sh"))
        .arg("report-ready")
        .env("CONTROL_PLANE_DIR", control_plane().parent().unwrap())
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );

    assert_eq!(timed_out.status.code(), Some(3));
    let line = String::from_utf8(timed_out.stderr).unwrap();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains("automatizacion-frontend: 4/6 ready"),
        "{line}"
    );
    assert!(line.contains("Available=False (prod-west"), "{line}");
}

#[test]
fn resuming_kestra_with_a_wrong_token_is_refused_in_one_line() {
    let kestra = KestraApiDouble::start("the-right-token");
    let resume = |token: &str| {
        Command::new(env!("CARGO_BIN_EXE_relctl"))
            .args([
                "resume-kestra",
                "--url",
                &kestra.base,
                "--execution",
                "abc123",
                "--kestra-token",
                token,
            ])
            .output()
            .unwrap()
    };
    let refused = resume("a-wrong-token");
    assert_eq!(refused.status.code(), Some(1));
    let line = String::from_utf8(refused.stderr).unwrap();
    assert!(
        line.starts_with("relctl: refused (401)") && line.lines().count() == 1,
        "{line}"
    );
    let resumed = resume("the-right-token");
    assert!(resumed.status.success());
    assert_eq!(
        String::from_utf8(resumed.stdout).unwrap().trim(),
        "resumed abc123"
    );
    let calls = kestra.calls.lock().unwrap().clone();
    assert_eq!(calls, ["/api/v1/main/executions/abc123/resume"; 2]);
}
