//! Waiting on Karmada: its aggregated SpinApp status (the interpreter's AggregateStatus) on the
//! control plane, read with kubectl. With a digest, also until every member's Work carries it
//! and is applied, so that "ready" is never the previous release's readiness.

use crate::cli;
use crate::failure::Failure;
use ledger::types::Digest;
use serde_json::Value;
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
    karmada.wait_ready(&args.namespace, args.digest.as_ref(), timeout)
}

pub struct Karmada<'a> {
    pub kubeconfig: &'a Path,
    pub context: Option<&'a str>,
}

impl Karmada<'_> {
    pub fn get(&self, args: &[&str]) -> Result<Value, String> {
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(self.kubeconfig);
        if let Some(context) = self.context {
            command.args(["--context", context]);
        }
        let output = command
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

    /// Runs `kubectl ARGS` with BODY on its standard input (`create -f -`, `replace -f -`).
    pub fn send(&self, args: &[&str], body: &str) -> Result<(), String> {
        use std::io::Write;
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(self.kubeconfig);
        if let Some(context) = self.context {
            command.args(["--context", context]);
        }
        let mut child = command
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

    /// `Ok(summary)` once every SpinApp of NAMESPACE is ready (and runs DIGEST everywhere).
    pub fn wait_ready(
        &self,
        namespace: &str,
        digest: Option<&Digest>,
        timeout: Duration,
    ) -> Result<String, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let why = match self.readiness(namespace, digest) {
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

    fn readiness(&self, namespace: &str, digest: Option<&Digest>) -> Result<String, String> {
        let apps = self.get(&["-n", namespace, "get", "spinapps.core.spinkube.dev"])?;
        let apps = apps["items"].as_array().cloned().unwrap_or_default();
        if apps.is_empty() {
            return Err(format!("no SpinApps in {namespace}"));
        }
        let works = match digest {
            Some(_) => self.get(&["get", "works.work.karmada.io", "--all-namespaces"])?,
            None => Value::Null,
        };
        let mut summary = Vec::new();
        let mut missing = Vec::new();
        for app in &apps {
            let name = app["metadata"]["name"].as_str().unwrap_or("?");
            match app_ready(app).and_then(|ready| match digest {
                Some(digest) => works_carry(&works, namespace, name, digest).map(|()| ready),
                None => Ok(ready),
            }) {
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

/// Whether every Work that carries NAMESPACE/NAME to a member pins DIGEST and is applied.
fn works_carry(works: &Value, namespace: &str, name: &str, digest: &Digest) -> Result<(), String> {
    let mut count = 0;
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
            count += 1;
            let cluster = work["metadata"]["namespace"]
                .as_str()
                .unwrap_or("?")
                .trim_start_matches("karmada-es-");
            let image = manifest["spec"]["image"].as_str().unwrap_or("");
            if !image.ends_with(&format!("@{digest}")) {
                return Err(format!("{cluster} still has {image}"));
            }
            let applied = work["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Applied" && c["status"] == "True")
            });
            if !applied {
                return Err(format!("not yet applied on {cluster}"));
            }
        }
    }
    if count == 0 {
        Err("Karmada has not scheduled it to any cluster".into())
    } else {
        Ok(())
    }
}
