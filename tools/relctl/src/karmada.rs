//! Waiting on Karmada: its aggregated SpinApp status (the interpreter's AggregateStatus) on the
//! control plane, read with kubectl; every member's Work carrying the SpinApp (with the digest
//! expected there: a staged rollout's clusters not yet moved keep their own) and applied; and
//! on each member judged, through Karmada's cluster proxy, the Deployment the operator made
//! from it rolled out (`rollout`), so that "ready" is never the previous release's pods. A
//! member with no such Deployment (an executor with `createDeployment: false`) is judged by the
//! SpinApp status alone.

use crate::cli;
use crate::failure::Failure;
use crate::rollout;
use ledger::types::Digest;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `relctl wait-ready`.
pub fn wait_ready(args: &cli::WaitReady) -> Result<String, Failure> {
    let karmada = Karmada {
        kubeconfig: &args.kubeconfig,
        context: args.context.as_deref(),
    };
    let timeout = Duration::from_secs(args.timeout);
    let expected = Expected::everywhere(args.digest.as_ref());
    karmada.wait_ready(&args.namespace, &expected, timeout)
}

/// What the members must run before a wait ends: a digest everywhere, or on some clusters a
/// digest of their own (a staged rollout's held clusters), or, with neither, anything ready.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub everywhere: Option<Digest>,
    pub on: BTreeMap<String, Digest>,
    /// The clusters whose readiness counts (a staged rollout's stage: the cluster it moves);
    /// `None`, every cluster's. Every cluster's Work must carry what it should either way.
    pub judged: Option<BTreeSet<String>>,
}

impl Expected {
    pub fn everywhere(digest: Option<&Digest>) -> Self {
        Expected {
            everywhere: digest.cloned(),
            on: BTreeMap::new(),
            judged: None,
        }
    }

    fn judges(&self, cluster: &str) -> bool {
        self.judged.as_ref().is_none_or(|j| j.contains(cluster))
    }

    fn on(&self, cluster: &str) -> Option<&Digest> {
        self.on.get(cluster).or(self.everywhere.as_ref())
    }
}

pub struct Karmada<'a> {
    pub kubeconfig: &'a Path,
    pub context: Option<&'a str>,
}

impl Karmada<'_> {
    pub fn get(&self, args: &[&str]) -> Result<Value, String> {
        let output = self
            .kubectl()
            .args(args)
            .args(["-o", "json"])
            .output()
            .map_err(|e| format!("cannot run kubectl: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "kubectl get {}: {}",
                args.join(" "),
                kubectl_error(&output)
            ));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| format!("kubectl's JSON: {e}"))
    }

    /// `kubectl get --raw PATH`: the object, or `None` when the server says it is not found.
    fn raw(&self, path: &str) -> Result<Option<Value>, String> {
        let output = self
            .kubectl()
            .args(["get", "--raw", path])
            .output()
            .map_err(|e| format!("cannot run kubectl: {e}"))?;
        if !output.status.success() {
            let why = kubectl_error(&output);
            return if why.contains("NotFound") {
                Ok(None)
            } else {
                Err(format!("kubectl get --raw {path}: {why}"))
            };
        }
        serde_json::from_slice(&output.stdout)
            .map(Some)
            .map_err(|e| format!("kubectl's JSON: {e}"))
    }

    fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(self.kubeconfig);
        if let Some(context) = self.context {
            command.args(["--context", context]);
        }
        command
    }

    /// Runs `kubectl ARGS` with BODY on its standard input (`create -f -`, `replace -f -`).
    pub fn send(&self, args: &[&str], body: &str) -> Result<(), String> {
        use std::io::Write;
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run kubectl: {e}"))?;
        let written = child.stdin.take().unwrap().write_all(body.as_bytes());
        let output = child
            .wait_with_output()
            .map_err(|e| format!("kubectl: {e}"))?;
        if !output.status.success() || written.is_err() {
            return Err(format!(
                "kubectl {}: {}",
                args.join(" "),
                kubectl_error(&output)
            ));
        }
        Ok(())
    }

    /// `Ok(summary)` once every SpinApp of NAMESPACE is ready and runs what is EXPECTED.
    pub fn wait_ready(
        &self,
        namespace: &str,
        expected: &Expected,
        timeout: Duration,
    ) -> Result<String, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let why = match self.readiness(namespace, expected) {
                Ok(summary) => return Ok(summary),
                Err(why) => why,
            };
            if Instant::now() >= deadline {
                return Err(Failure::TimedOut(format!(
                    "SpinApps in {namespace} not ready after {}s: {why}",
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn readiness(&self, namespace: &str, expected: &Expected) -> Result<String, String> {
        let apps = self.get(&["-n", namespace, "get", "spinapps.core.spinkube.dev"])?;
        let apps = apps["items"].as_array().cloned().unwrap_or_default();
        if apps.is_empty() {
            return Err(format!("no SpinApps in {namespace}"));
        }
        let works = self.get(&["get", "works.work.karmada.io", "--all-namespaces"])?;
        let mut summary = Vec::new();
        let mut missing = Vec::new();
        for app in &apps {
            let name = app["metadata"]["name"].as_str().unwrap_or("?");
            // The members' rollouts first: they say why, where the aggregated count only
            // says how many.
            let ready = clusters_carrying(&works, namespace, name, expected).and_then(|clusters| {
                for cluster in clusters.iter().filter(|c| expected.judges(c)) {
                    self.rolled_out(cluster, namespace, name, expected.on(cluster))
                        .map_err(|why| format!("on {cluster}, {why}"))?;
                }
                match &expected.judged {
                    None => app_ready(app),
                    Some(judged) => clusters_available(app, judged),
                }
            });
            match ready {
                Ok(ready) => summary.push(format!("{name} {ready}")),
                Err(why) => missing.push(format!("{name}: {why}")),
            }
        }
        if missing.is_empty() {
            Ok(summary.join(", "))
        } else {
            Err(missing.join("; "))
        }
    }

    /// Whether the Deployment of NAMESPACE/NAME on CLUSTER has rolled out (DIGEST, when
    /// given), read through Karmada's cluster proxy; with its pods' waiting reasons if not.
    fn rolled_out(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
        digest: Option<&Digest>,
    ) -> Result<(), String> {
        let member = format!("/apis/cluster.karmada.io/v1alpha1/clusters/{cluster}/proxy");
        let path = format!("{member}/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
        let Some(deployment) = self.raw(&path)? else {
            return Ok(());
        };
        let why = match rollout::judge(&deployment, digest) {
            Ok(_) => return Ok(()),
            Err(why) => why,
        };
        let selector = format!("core.spinkube.dev/app-name={name}");
        let pods = format!("{member}/api/v1/namespaces/{namespace}/pods?labelSelector={selector}");
        let reasons = match self.raw(&pods) {
            Ok(Some(pods)) => rollout::waiting_reasons(&pods),
            _ => Vec::new(),
        };
        if reasons.is_empty() {
            Err(why)
        } else {
            Err(format!("{why}; pods waiting: {}", reasons.join(", ")))
        }
    }
}

/// The last line of kubectl's stderr that says something: kubectl 1.32 warns about its skew
/// from newer servers first, which is noise.
pub fn kubectl_error(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .rfind(|l| !l.contains("version difference"))
        .unwrap_or("")
        .to_owned()
}

/// `ready/desired` when the aggregated status says the SpinApp is ready, else why not, with
/// its conditions (each message starts with the cluster it came from).
fn app_ready(app: &Value) -> Result<String, String> {
    let spec = &app["spec"];
    let desired = if spec["enableAutoscaling"] == true {
        1
    } else {
        spec["replicas"].as_i64().unwrap_or(1)
    };
    let ready = app["status"]["readyReplicas"].as_i64().unwrap_or(0);
    let conditions: Vec<&Value> = app["status"]["conditions"]
        .as_array()
        .map(|c| c.iter().filter(|c| c["type"] == "Available").collect())
        .unwrap_or_default();
    let available = !conditions.is_empty() && conditions.iter().all(|c| c["status"] == "True");
    if ready >= desired && available {
        return Ok(format!("{ready}/{desired}"));
    }
    let described: Vec<String> = conditions
        .iter()
        .map(|c| {
            format!(
                "Available={} ({})",
                c["status"].as_str().unwrap_or("?"),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let conditions = if described.is_empty() {
        "no Available condition yet".to_owned()
    } else {
        described.join(", ")
    };
    Err(format!("{ready}/{desired} ready, {conditions}"))
}

/// `available on CLUSTERS` when the aggregated status says each of JUDGED is available (the
/// interpreter starts each condition's message with its cluster), else why not.
fn clusters_available(app: &Value, judged: &BTreeSet<String>) -> Result<String, String> {
    let conditions = app["status"]["conditions"].as_array();
    for cluster in judged {
        let prefix = format!("{cluster}:");
        let available = conditions.into_iter().flatten().find(|c| {
            c["type"] == "Available"
                && c["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&prefix))
        });
        match available {
            Some(c) if c["status"] == "True" => {}
            Some(c) => {
                let message = c["message"].as_str().unwrap_or("");
                return Err(format!(
                    "Available={} ({message})",
                    c["status"].as_str().unwrap_or("?")
                ));
            }
            None => return Err(format!("no Available condition from {cluster} yet")),
        }
    }
    let names: Vec<&str> = judged.iter().map(String::as_str).collect();
    Ok(format!("available on {}", names.join(", ")))
}

/// The members whose Work carries NAMESPACE/NAME, once every such Work is applied and pins
/// what is EXPECTED there.
fn clusters_carrying(
    works: &Value,
    namespace: &str,
    name: &str,
    expected: &Expected,
) -> Result<Vec<String>, String> {
    let mut clusters = Vec::new();
    for work in works["items"].as_array().into_iter().flatten() {
        for manifest in work["spec"]["workload"]["manifests"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let meta = &manifest["metadata"];
            if manifest["kind"] != "SpinApp"
                || meta["name"] != name
                || meta["namespace"] != namespace
            {
                continue;
            }
            let cluster = work["metadata"]["namespace"]
                .as_str()
                .unwrap_or("?")
                .trim_start_matches("karmada-es-");
            let image = manifest["spec"]["image"].as_str().unwrap_or("");
            let digest = expected.on(cluster);
            if digest.is_some_and(|digest| !image.ends_with(&format!("@{digest}"))) {
                return Err(format!("{cluster} still has {image}"));
            }
            let applied = work["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Applied" && c["status"] == "True")
            });
            if !applied {
                return Err(format!("not yet applied on {cluster}"));
            }
            clusters.push(cluster.to_owned());
        }
    }
    if clusters.is_empty() {
        Err("Karmada has not scheduled it to any cluster".into())
    } else {
        Ok(clusters)
    }
}
