//! The members' API, through kubectl: SpinApps, their ConfigMaps and Secrets, their status.

use crate::desired::Lookup;
use base64::Engine;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

/// ConfigMaps, Secrets and executors of one namespace, each read once per pass.
pub struct KubectlLookup<'a> {
    kubeconfig: &'a Path,
    namespace: String,
    read: RefCell<BTreeMap<(String, String), Result<Value, String>>>,
}

impl<'a> KubectlLookup<'a> {
    pub fn new(kubeconfig: &'a Path, namespace: String) -> Self {
        KubectlLookup {
            kubeconfig,
            namespace,
            read: RefCell::default(),
        }
    }

    fn object(&self, kind: &str, name: &str) -> Result<Value, String> {
        self.read
            .borrow_mut()
            .entry((kind.to_owned(), name.to_owned()))
            .or_insert_with(|| {
                kubectl_json(self.kubeconfig, &["-n", &self.namespace, "get", kind, name])
            })
            .clone()
            .map_err(|_| format!("{kind} {}/{name} not found", self.namespace))
    }

    fn key(&self, kind: &str, name: &str, key: &str) -> Result<String, String> {
        let object = self.object(kind, name)?;
        object["data"][key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{kind} {}/{name} has no key {key}", self.namespace))
    }
}

impl Lookup for KubectlLookup<'_> {
    fn executor(&self, name: &str) -> Option<Value> {
        self.object("spinappexecutor", name).ok()
    }

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

pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    kubectl_with_input(kubeconfig, args, None)
}

/// kubectl with INPUT on its standard input (`-f -`).
pub fn kubectl_with_input(
    kubeconfig: &Path,
    args: &[&str],
    input: Option<&str>,
) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    if let Some(input) = input {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("kubectl's input: {e}"))?;
    }
    drop(stdin);
    let output = child
        .wait_with_output()
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

pub fn kubectl_json(kubeconfig: &Path, args: &[&str]) -> Result<Value, String> {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    let text = kubectl(kubeconfig, &args)?;
    serde_json::from_str(&text).map_err(|e| format!("kubectl's JSON: {e}"))
}
