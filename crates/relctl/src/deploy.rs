//! Putting a release on an environment's clusters through Karmada, and taking it back. The
//! ledger hears every step: `started` before anything changes, `succeeded` only after Karmada's
//! aggregated status is ready with the new digest and the smoke check passed; on any failure
//! after the start, `failed`, the previous release put back by its digest, and `rolled_back`.

use crate::failure::Failure;
use crate::karmada::{Karmada, kubectl_error};
use crate::ledger_client::Ledger;
use crate::overlay;
use crate::steps;
use ledger::types::{Digest, Version};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Where an environment lives in the repository and on the Karmada control plane.
pub struct Environment {
    pub name: String,
    pub root: PathBuf,
    pub image: String,
    pub kubeconfig: PathBuf,
    pub timeout: Duration,
    pub execution_url: Option<String>,
}

impl Environment {
    fn overlay(&self) -> PathBuf {
        self.root.join("k8s/overlays").join(&self.name)
    }
    fn workload(&self) -> PathBuf {
        self.root.join("karmada/workloads").join(&self.name)
    }
    /// The namespace the environment's objects have on the control plane (karmada/namespaces.yaml).
    fn namespace(&self) -> String {
        if self.name == "production" {
            "automatizacion".into()
        } else {
            format!("automatizacion-{}", self.name)
        }
    }

    /// Pins DIGEST, applies the workload to Karmada and waits until it is ready everywhere.
    fn roll_out(&self, digest: &Digest, new_name: Option<&str>) -> Result<String, Failure> {
        overlay::set_image(&self.overlay(), &self.image, new_name, digest)?;
        let output = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["apply", "-k"])
            .arg(self.workload())
            .output()
            .map_err(|e| Failure::Unreachable(format!("cannot run kubectl: {e}")))?;
        if !output.status.success() {
            return Err(Failure::Unreachable(format!(
                "kubectl apply -k {}: {}",
                self.workload().display(),
                kubectl_error(&output)
            )));
        }
        let karmada = Karmada {
            kubeconfig: &self.kubeconfig,
            context: None,
        };
        karmada.wait_ready(&self.namespace(), Some(digest), self.timeout)
    }
}

/// The environment's clusters, each with what it runs now (`current`), from the ledger.
fn clusters_of(ledger: &Ledger, environment: &str) -> Result<Vec<Value>, Failure> {
    let clusters: Vec<Value> = ledger
        .clusters()?
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["environment"] == environment)
        .cloned()
        .collect();
    if clusters.is_empty() {
        return Err(Failure::Invalid(format!(
            "the ledger knows no cluster in environment {environment:?}"
        )));
    }
    Ok(clusters)
}

fn record(
    ledger: &Ledger,
    env: &Environment,
    version: &str,
    cluster: &str,
    status: &str,
    message: Option<&str>,
) -> Result<(), Failure> {
    let mut event = json!({"cluster": cluster, "status": status});
    if let Some(message) = message {
        event["message"] = message.chars().take(2000).collect::<String>().into();
    }
    if let Some(url) = &env.execution_url {
        event["execution_url"] = url.as_str().into();
    }
    ledger.record_deployment(version, &event).map(|_| ())
}

/// Deploys VERSION (pushed as DIGEST) to the environment; SMOKE_URLS are `cluster=url` pairs
/// checked after Karmada says ready.
pub fn deploy(
    ledger: &Ledger,
    env: &Environment,
    version: &Version,
    digest: &Digest,
    new_name: Option<&str>,
    smoke_urls: &[String],
) -> Result<String, Failure> {
    let clusters = clusters_of(ledger, &env.name)?;
    let names: Vec<&str> = clusters.iter().filter_map(|c| c["name"].as_str()).collect();
    let smoke: Vec<(&str, &str)> = smoke_urls
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .ok_or_else(|| Failure::Invalid(format!("--smoke {pair:?} is not CLUSTER=URL")))
        })
        .collect::<Result<_, _>>()?;
    if let Some((cluster, _)) = smoke.iter().find(|(c, _)| !names.contains(c)) {
        return Err(Failure::Invalid(format!(
            "--smoke names {cluster}, which is not in {}",
            env.name
        )));
    }
    // What to put back if this fails: the release the environment runs now, from where it
    // was pushed.
    let previous = clusters.iter().find_map(|c| {
        let current = &c["current"];
        (current["version"].as_str()? != version.as_str()).then(|| Previous {
            version: current["version"].as_str().unwrap_or("").to_owned(),
            digest: current["digest"].as_str().unwrap_or("").to_owned(),
            repository: crate::repository(current["artifact"].as_str().unwrap_or("")).to_owned(),
        })
    });
    for cluster in &names {
        record(ledger, env, version.as_str(), cluster, "started", None)?;
    }
    let outcome = env.roll_out(digest, new_name).and_then(|ready| {
        for (cluster, url) in &smoke {
            steps::smoke(url, cluster, version.as_str(), env.timeout)?;
        }
        Ok(ready)
    });
    match outcome {
        Ok(ready) => {
            for cluster in &names {
                record(ledger, env, version.as_str(), cluster, "succeeded", None)?;
            }
            Ok(format!("{version} runs on {} ({ready})", names.join(", ")))
        }
        Err(failure) => {
            let reason = failure.to_string();
            for cluster in &names {
                record(
                    ledger,
                    env,
                    version.as_str(),
                    cluster,
                    "failed",
                    Some(&reason),
                )?;
            }
            let Some(previous) = previous else {
                return Err(Failure::DeployFailed(format!(
                    "{version} failed on {} and no earlier release ran there to put back: {reason}",
                    env.name
                )));
            };
            let digest = Digest::parse(&previous.digest)?;
            if let Err(again) = env.roll_out(&digest, Some(&previous.repository)) {
                return Err(Failure::DeployFailed(format!(
                    "{version} failed on {}: {reason}; putting {} back failed too: {again}",
                    env.name, previous.version
                )));
            }
            for cluster in &names {
                let message = format!("{} put back", previous.version);
                record(
                    ledger,
                    env,
                    version.as_str(),
                    cluster,
                    "rolled_back",
                    Some(&message),
                )?;
            }
            Err(Failure::DeployFailed(format!(
                "{version} failed on {} and {} was put back: {reason}",
                env.name, previous.version
            )))
        }
    }
}

/// The release an environment ran before a deployment: what a failure puts back.
struct Previous {
    version: String,
    digest: String,
    /// Where it was pushed, without tag or digest (the overlay's `newName:`).
    repository: String,
}

/// Puts TO_VERSION back on the environment (Rundeck's rollback-production): its recorded
/// digest through Karmada; then `rolled_back` for what ran there and `succeeded` for it.
pub fn roll_back_to(
    ledger: &Ledger,
    env: &Environment,
    to_version: &Version,
) -> Result<String, Failure> {
    let release = ledger.release(to_version.as_str())?;
    let digest = Digest::parse(release["digest"].as_str().unwrap_or(""))?;
    let repository = crate::repository(release["artifact"].as_str().unwrap_or(""));
    let clusters = clusters_of(ledger, &env.name)?;
    env.roll_out(&digest, Some(repository))?;
    for cluster in &clusters {
        let name = cluster["name"].as_str().unwrap_or("");
        if let Some(current) = cluster["current"]["version"]
            .as_str()
            .filter(|v| *v != to_version.as_str())
        {
            record(
                ledger,
                env,
                current,
                name,
                "rolled_back",
                Some(&format!("{to_version} put back")),
            )?;
        }
        record(
            ledger,
            env,
            to_version.as_str(),
            name,
            "succeeded",
            Some("put back by rollback"),
        )?;
    }
    Ok(format!("{to_version} runs on {} again", env.name))
}
