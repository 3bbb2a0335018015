//! The Karmada control plane that `scripts/with-control-plane.sh` starts for the suite
//! (`local-dev/control-plane.sh`): kubectl against its contexts, and waiting for it to converge.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The kubeconfig with the contexts `karmada-apiserver`, `staging`, `prod-east`, `prod-west`.
pub fn kubeconfig() -> PathBuf {
    let dir = std::env::var_os("CONTROL_PLANE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::checkout::repo().join("target/control-plane"));
    let file = dir.join("kubeconfig/all");
    assert!(
        file.is_file(),
        "no control plane at {}: run `make test`, or `local-dev/control-plane.sh up` first",
        dir.display()
    );
    file
}

/// One environment changed at a time: a test holding this sees no other test's changes.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `kubectl --context CONTEXT ARGS…` with STDIN; its stdout, or its stderr as the error.
pub fn kubectl(context: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(["--context", context])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut pipe = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut pipe, stdin.unwrap_or("").as_bytes()).unwrap();
    drop(pipe);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // kubectl 1.32 warns about its skew from the 1.36 servers; that is noise, not an error.
    let stderr: String = stderr
        .lines()
        .filter(|line| !line.contains("version difference"))
        .collect::<Vec<_>>()
        .join("\n");
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!("kubectl {}: {stderr}", args.join(" ")))
    }
}

/// `kubectl get … -o json`, or the error when the object does not exist.
pub fn get(context: &str, namespace: &str, what: &str) -> Result<Value, String> {
    let out = kubectl(context, &["-n", namespace, "get", what, "-o", "json"], None)?;
    Ok(serde_json::from_str(&out).unwrap())
}

/// Polls CHECK until it succeeds: Karmada converges asynchronously, in about a second here
/// (a minute is the limit, for a busy machine). The last error says what never happened.
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match check() {
            Ok(value) => return value,
            Err(e) if Instant::now() > deadline => panic!("{what} never happened: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}
