//! The Karmada control plane that `scripts/with-control-plane.sh` starts once for the suite
//! (`local-dev/control-plane.sh`): where its kubeconfigs are, kubectl against its contexts, and
//! waiting for it to converge. The one copy every test on the control plane uses.

use crate::fixtures::repo;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The Karmada API server's context; the members' are their names.
pub const KARMADA: &str = "karmada-apiserver";

/// The control plane's members, as `local-dev/control-plane.sh` starts them.
pub const MEMBERS: [&str; 3] = ["staging", "prod-east", "prod-west"];

/// The control plane's kubeconfigs: `all`, with the contexts `karmada-apiserver`, `staging`,
/// `prod-east` and `prod-west`, and one file per API server (`karmada`, `staging`, …), as
/// relctl's `--kubeconfig` and the SpinKube status stand-in take them.
///
/// # Panics
/// When no control plane runs: the message says how to start one.
pub fn kubeconfigs() -> PathBuf {
    let dir = std::env::var_os("CONTROL_PLANE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/control-plane"));
    let kubeconfigs = dir.join("kubeconfig");
    assert!(
        kubeconfigs.join("all").is_file(),
        "no control plane at {}: run `make test`, or `local-dev/control-plane.sh up` first",
        dir.display()
    );
    kubeconfigs
}

/// The slot of the control plane in `CONTROL_PLANE_DIR` (`local-dev/control-plane.sh`: its
/// members' Service ranges, and so which set of nodes is its own), as its `ports.env` says.
///
/// # Panics
/// When no control plane runs, or its `ports.env` cannot be read.
pub fn slot() -> u8 {
    let ports = kubeconfigs().parent().unwrap().join("ports.env");
    let text =
        std::fs::read_to_string(&ports).unwrap_or_else(|e| panic!("{}: {e}", ports.display()));
    let line = text.lines().find_map(|line| line.strip_prefix("SLOT="));
    line.map_or(0, |slot| {
        slot.parse().expect("SLOT in ports.env is a number")
    })
}

/// One environment changed at a time: a test holding this sees no other test's changes.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `kubectl --context CONTEXT ARGS…` with STDIN: its stdout, or its stderr as the error.
pub fn kubectl(context: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfigs().join("all"))
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
    // kubectl 1.32 warns about its skew from the 1.36 servers; that is noise, not an error.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.contains("version difference"))
        .collect();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("kubectl {}: {}", args.join(" "), stderr.join("\n")))
    }
}

/// [`kubectl`] that must succeed: its stdout, trimmed.
///
/// # Panics
/// With kubectl's error.
pub fn kubectl_ok(context: &str, args: &[&str], stdin: Option<&str>) -> String {
    match kubectl(context, args, stdin) {
        Ok(out) => out.trim().to_owned(),
        Err(why) => panic!("{why}"),
    }
}

/// `kubectl ARGS… -o json` that must succeed, parsed.
pub fn json_of(context: &str, args: &[&str]) -> Value {
    let args = [args, &["-o", "json"]].concat();
    serde_json::from_str(&kubectl_ok(context, &args, None)).unwrap()
}

/// `kubectl get WHAT -o json` in NAMESPACE, or the error when the object does not exist.
pub fn get(context: &str, namespace: &str, what: &str) -> Result<Value, String> {
    let out = kubectl(context, &["-n", namespace, "get", what, "-o", "json"], None)?;
    serde_json::from_str(&out).map_err(|e| format!("kubectl's JSON: {e}"))
}

/// Polls CHECK until it succeeds, for up to WAIT: Karmada converges asynchronously, in about a
/// second here. The last error says what never happened.
pub fn eventually_within<T>(
    wait: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + wait;
    loop {
        match check() {
            Ok(value) => return value,
            Err(why) if Instant::now() > deadline => panic!("{what} never happened: {why}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// [`eventually_within`] a minute, the limit for a busy machine.
pub fn eventually<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    eventually_within(Duration::from_secs(60), what, check)
}

/// Waits until every member Karmada scheduled the Secret NAMESPACE/NAME on holds what Karmada
/// holds. A pod (or a process standing for one) reads a Secret once, when it starts; Karmada
/// takes each object to each member on its own, so a SpinApp changed after the Secret may reach
/// a member first, and start there with the Secret before.
///
/// # Panics
/// When Karmada has no such Secret, or a member still differs after a minute.
pub fn until_members_hold_secret(namespace: &str, name: &str) {
    let data = |context: &str| -> Result<Value, String> {
        Ok(get(context, namespace, &format!("secret/{name}"))?["data"].clone())
    };
    let want = data(KARMADA).unwrap_or_else(|e| panic!("{namespace}/{name} on Karmada: {e}"));
    let what = format!("every member holding {namespace}/{name} as Karmada does");
    eventually(&what, || {
        let binding = get(
            KARMADA,
            namespace,
            &format!("resourcebinding/{name}-secret"),
        )?;
        let clusters = binding["spec"]["clusters"].as_array().cloned();
        for cluster in clusters.into_iter().flatten() {
            let member = cluster["name"].as_str().unwrap_or_default();
            if data(member)? != want {
                return Err(format!("{member} holds another"));
            }
        }
        Ok(())
    });
}
