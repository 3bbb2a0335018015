//! The members' API, through kubectl: SpinApps and their status, Secrets.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::null())
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

pub fn kubectl_json(kubeconfig: &Path, args: &[&str]) -> Result<Value, String> {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    let text = kubectl(kubeconfig, &args)?;
    serde_json::from_str(&text).map_err(|e| format!("kubectl's JSON: {e}"))
}
