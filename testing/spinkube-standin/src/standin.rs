//! The stand-in's loop: every second, for each member cluster, read its SpinApps and bring the
//! Spin processes in line, as the operator brings Deployments in line and the kubelet pods.
//!
//! - A SpinApp with no process gets one: `spin up --from IMAGE` on a free loopback port, with
//!   the resolved environment, runtime config and components, pulling from the registry the
//!   image names.
//! - A changed SpinApp (new digest, variable, Secret value) gets a new process beside the old
//!   one; the old one stops only once the new one is ready, like a rolling update with
//!   `maxUnavailable: 0`. A new process that exits is started again after 10 s, as a crash loop.
//! - A deleted SpinApp's process stops.
//!
//! Each SpinApp has a Service (`service`): a loopback address for its life that forwards to
//! the process that is ready, which other apps' variables and people use.
//!
//! Status is what the operator copies from its Deployment: `readyReplicas` is the desired
//! count while a process passes the readiness check (one process stands for every replica),
//! else 0; `Available` says whether any version serves; `Progressing` is False, with the new
//! process's last words, while a change cannot become ready.

use crate::desired::{self, Desired, Lookup, NotYet, Services};
use crate::service::Service;
use base64::Engine;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A crashed process is started again after this long.
const BACKOFF: Duration = Duration::from_secs(10);

pub struct Config {
    /// One kubeconfig per member, named after it.
    pub kubeconfigs: PathBuf,
    pub members: Vec<String>,
    pub spin: PathBuf,
    /// Logs, runtime configs, Spin state and `endpoints.json`.
    pub state: PathBuf,
    /// Pull over plain HTTP (a loopback registry).
    pub insecure_registry: bool,
}

/// (member, namespace, name).
type Key = (String, String, String);

struct Instance {
    child: Child,
    address: String,
    desired: Desired,
    log: PathBuf,
    ready: bool,
}

#[derive(Default)]
struct App {
    /// Its Service: opened when the SpinApp is first seen, closed when it is deleted.
    service: Option<Service>,
    serving: Option<Instance>,
    starting: Option<Instance>,
    /// The change that last failed to start, why, and when.
    failed: Option<(Desired, String, Instant)>,
    /// The status last written, so that an unchanged one is not written again.
    written: Option<Value>,
}

pub struct StandIn {
    config: Config,
    apps: BTreeMap<Key, App>,
}

impl StandIn {
    pub fn new(config: Config) -> Self {
        StandIn {
            config,
            apps: BTreeMap::new(),
        }
    }

    /// One pass over every member; a member that cannot be read is skipped this time.
    pub fn step(&mut self) {
        for member in self.config.members.clone() {
            if let Err(why) = self.reconcile(&member) {
                eprintln!("spinkube-standin: {member}: {why}");
            }
        }
        self.write_endpoints();
    }

    /// Stops every process.
    pub fn stop(&mut self) {
        for app in self.apps.values_mut() {
            for instance in [app.serving.take(), app.starting.take()]
                .into_iter()
                .flatten()
            {
                stop(instance);
            }
        }
    }

    fn kubeconfig(&self, member: &str) -> PathBuf {
        self.config.kubeconfigs.join(member)
    }

    fn reconcile(&mut self, member: &str) -> Result<(), String> {
        let kubeconfig = self.kubeconfig(member);
        let listed = kubectl_json(&kubeconfig, &["get", "spinapps", "--all-namespaces"])?;
        let items = listed["items"].as_array().cloned().unwrap_or_default();
        let mut present = BTreeSet::new();
        for app in &items {
            let namespace = text(&app["metadata"], "namespace");
            let name = text(&app["metadata"], "name");
            let key = (member.to_owned(), namespace.clone(), name.clone());
            present.insert(key.clone());
            let lookup = KubectlLookup::new(&kubeconfig, &namespace);
            let services = self.services(member);
            let resolved = desired::resolve(app, &lookup, &services);
            let state_dir = self.config.state.join(member).join(&namespace).join(&name);
            let entry = self.apps.entry(key).or_default();
            if entry.service.is_none() {
                entry.service = Some(Service::open().map_err(|e| format!("no port: {e}"))?);
            }
            let waiting = match resolved {
                Ok(desired) => {
                    entry.advance(desired, &self.config, &state_dir);
                    None
                }
                Err(NotYet::WaitingFor(what)) => Some(format!("waiting for {what}")),
                Err(NotYet::Invalid(why)) => Some(why),
            };
            entry.check();
            let status = entry.status(app, waiting.as_deref());
            if entry.written.as_ref() != Some(&status) {
                let patch = json!({ "status": status }).to_string();
                kubectl(
                    &kubeconfig,
                    &[
                        "-n",
                        &namespace,
                        "patch",
                        "spinapp",
                        &name,
                        "--subresource=status",
                        "--type=merge",
                        "-p",
                        &patch,
                    ],
                )?;
                entry.written = Some(status);
            }
        }
        let gone: Vec<Key> = self
            .apps
            .keys()
            .filter(|k| k.0 == member && !present.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            let mut app = self.apps.remove(&key).unwrap();
            for instance in [app.serving.take(), app.starting.take()]
                .into_iter()
                .flatten()
            {
                stop(instance);
            }
        }
        Ok(())
    }

    /// The Service address of every SpinApp on MEMBER.
    fn services(&self, member: &str) -> Services {
        self.apps
            .iter()
            .filter(|((m, _, _), _)| m == member)
            .filter_map(|((_, ns, name), app)| {
                let service = app.service.as_ref()?;
                Some(((ns.clone(), name.clone()), service.address.clone()))
            })
            .collect()
    }

    /// `endpoints.json`: member → `namespace/name` → the Service's URL, for each SpinApp with
    /// a ready process; for people and scripts.
    fn write_endpoints(&self) {
        let mut endpoints: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
        for ((member, ns, name), app) in &self.apps {
            if let Some(service) = app.service.as_ref().filter(|s| s.routes()) {
                endpoints.entry(member).or_default().insert(
                    format!("{ns}/{name}"),
                    format!("http://{}", service.address),
                );
            }
        }
        let path = self.config.state.join("endpoints.json");
        let partial = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(&endpoints).unwrap();
        if std::fs::write(&partial, text).is_ok() {
            let _ = std::fs::rename(partial, path);
        }
    }
}

impl App {
    /// Starts a process for DESIRED unless one runs or starts for it, or it crashed lately.
    fn advance(&mut self, desired: Desired, config: &Config, dir: &Path) {
        if self.serving.as_ref().is_some_and(|i| i.desired == desired) {
            if let Some(stale) = self.starting.take() {
                stop(stale); // the change was taken back
            }
            self.failed = None;
            return;
        }
        if self.starting.as_ref().is_some_and(|i| i.desired == desired) {
            return;
        }
        if let Some((failed, _, at)) = &self.failed
            && *failed == desired
            && at.elapsed() < BACKOFF
        {
            return;
        }
        if let Some(stale) = self.starting.take() {
            stop(stale);
        }
        // A crash loop keeps saying why; a different change starts with a clean slate.
        if self
            .failed
            .as_ref()
            .is_some_and(|(failed, _, _)| *failed != desired)
        {
            self.failed = None;
        }
        match start(&desired, config, dir) {
            Ok(instance) => self.starting = Some(instance),
            Err(why) => self.failed = Some((desired, why, Instant::now())),
        }
    }

    /// Notes exits and readiness; a ready new process replaces the old one.
    fn check(&mut self) {
        if let Some(instance) = self.starting.as_mut() {
            if let Some(why) = exited(instance) {
                let instance = self.starting.take().unwrap();
                self.failed = Some((instance.desired.clone(), why, Instant::now()));
                stop(instance);
            } else if ready(instance) {
                let mut new = self.starting.take().unwrap();
                new.ready = true;
                if let Some(service) = &self.service {
                    service.route_to(Some(&new.address)); // before the old one stops
                }
                if let Some(old) = self.serving.replace(new) {
                    stop(old);
                }
                self.failed = None;
            }
        }
        if let Some(instance) = self.serving.as_mut() {
            if let Some(why) = exited(instance) {
                let instance = self.serving.take().unwrap();
                self.failed = Some((instance.desired.clone(), why, Instant::now()));
                stop(instance);
            } else {
                instance.ready = ready(instance);
            }
        }
        let ready = self.serving.as_ref().filter(|i| i.ready);
        if let Some(service) = &self.service {
            service.route_to(ready.map(|i| i.address.as_str()));
        }
    }

    fn status(&self, app: &Value, waiting: Option<&str>) -> Value {
        let desired = app["spec"]["replicas"].as_i64().unwrap_or(1);
        let serving = self.serving.as_ref().filter(|i| i.ready);
        let ready = if serving.is_some() { desired } else { 0 };
        let available = match serving {
            Some(i) => condition(
                "Available",
                true,
                "MinimumReplicasAvailable",
                &format!(
                    "SpinKube stand-in: Spin serves {} at http://{}",
                    i.desired.image, i.address
                ),
            ),
            None => condition(
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "SpinKube stand-in: no Spin process is ready",
            ),
        };
        let progressing = match (&self.failed, waiting, &self.starting) {
            (Some((d, why, _)), _, _) => condition(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                &format!("SpinKube stand-in: {} does not start: {why}", d.image),
            ),
            (None, Some(why), _) => condition(
                "Progressing",
                false,
                "ReplicaSetCreateError",
                &format!("SpinKube stand-in: {why}"),
            ),
            (None, None, Some(i)) => condition(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                &format!("SpinKube stand-in: starting {}", i.desired.image),
            ),
            (None, None, None) => condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                "SpinKube stand-in: up to date",
            ),
        };
        json!({"readyReplicas": ready, "activeScheduler": "containerd-shim-spin",
               "conditions": [available, progressing]})
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    // One fixed time: a status that says the same thing is the same status.
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason,
           "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn start(desired: &Desired, config: &Config, dir: &Path) -> Result<Instance, String> {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = dir.join(format!("{nanos}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let address = format!("127.0.0.1:{port}");
    let log = dir.join("spin.log");
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut command = Command::new(&config.spin);
    command
        .args(["up", "--from", &desired.image, "--listen", &address])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--cache-dir")
        .arg(config.state.join("oci-cache"))
        .arg("--cache")
        .arg(compile_cache(&config.state)?);
    if config.insecure_registry {
        command.arg("--insecure");
    }
    if let Some(runtime_config) = &desired.runtime_config {
        let file = dir.join("runtime-config.toml");
        std::fs::write(&file, runtime_config).map_err(|e| e.to_string())?;
        command.arg("--runtime-config-file").arg(file);
    }
    for component in &desired.components {
        command.args(["--component-id", component]);
    }
    let child = command
        .envs(&desired.env)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", config.spin.display()))?;
    Ok(Instance {
        child,
        address,
        desired: desired.clone(),
        log,
        ready: false,
    })
}

/// Wasmtime's cache of compiled components, shared by every process: a node's shim compiles
/// an artifact once, not once per pod.
fn compile_cache(state: &Path) -> Result<PathBuf, String> {
    let path = state.join("wasmtime-cache.toml");
    if !path.exists() {
        let text = format!("[cache]\ndirectory = {:?}\n", state.join("compiled"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(path)
}

/// Why the process is gone, if it is: its exit and the last line it printed.
fn exited(instance: &mut Instance) -> Option<String> {
    let status = instance.child.try_wait().ok()??;
    let log = std::fs::read_to_string(&instance.log).unwrap_or_default();
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Some(format!("spin exited ({status}): {}", last.trim()))
}

/// Stops `spin up` and the trigger process it runs (children first: once the parent is gone
/// they belong to init). They stay in the stand-in's process group, so stopping the group
/// from outside stops them all too.
fn stop(mut instance: Instance) {
    let _ = Command::new("pkill")
        .args(["-KILL", "-P", &instance.child.id().to_string()])
        .status();
    let _ = instance.child.kill();
    let _ = instance.child.wait();
}

/// The readiness check: HTTP 2xx on the readiness path, or an open port without one.
fn ready(instance: &Instance) -> bool {
    let Ok(mut stream) = TcpStream::connect(&instance.address) else {
        return false;
    };
    let Some(path) = &instance.desired.readiness_path else {
        return true;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", instance.address);
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && head[9] == b'2'
}

/// ConfigMaps and Secrets of one namespace, each read once per pass.
struct KubectlLookup<'a> {
    kubeconfig: &'a Path,
    namespace: &'a str,
    read: RefCell<BTreeMap<(String, String), Result<Value, String>>>,
}

impl<'a> KubectlLookup<'a> {
    fn new(kubeconfig: &'a Path, namespace: &'a str) -> Self {
        KubectlLookup {
            kubeconfig,
            namespace,
            read: RefCell::default(),
        }
    }

    fn key(&self, kind: &str, name: &str, key: &str) -> Result<String, String> {
        let object = self
            .read
            .borrow_mut()
            .entry((kind.to_owned(), name.to_owned()))
            .or_insert_with(|| {
                kubectl_json(self.kubeconfig, &["-n", self.namespace, "get", kind, name])
            })
            .clone()
            .map_err(|_| format!("{kind} {}/{name} not found", self.namespace))?;
        object["data"][key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{kind} {}/{name} has no key {key}", self.namespace))
    }
}

impl Lookup for KubectlLookup<'_> {
    fn config_map(&self, name: &str, key: &str) -> Result<String, String> {
        self.key("configmap", name, key)
    }

    fn secret(&self, name: &str, key: &str) -> Result<String, String> {
        let encoded = self.key("secret", name, key)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("secret {name}: {e}"))?;
        String::from_utf8(bytes).map_err(|e| format!("secret {name}: {e}"))
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr
            .lines()
            .rfind(|l| !l.contains("version difference"))
            .unwrap_or("");
        return Err(format!("kubectl {}: {why}", args.join(" ")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn kubectl_json(kubeconfig: &Path, args: &[&str]) -> Result<Value, String> {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    let text = kubectl(kubeconfig, &args)?;
    serde_json::from_str(&text).map_err(|e| format!("kubectl's JSON: {e}"))
}

fn text(record: &Value, key: &str) -> String {
    record[key].as_str().unwrap_or_default().to_owned()
}
