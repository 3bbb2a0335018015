//! The Spin processes: one `spin up --from IMAGE` per SpinApp per cluster, as the shim runs the
//! artifact in a pod, and the readiness check the kubelet would run against it.

use crate::config::Config;
use crate::desired::Desired;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

pub struct Instance {
    child: Child,
    pub address: String,
    pub desired: Desired,
    log: PathBuf,
    pub ready: bool,
}

pub fn start(desired: &Desired, config: &Config, dir: &Path) -> Result<Instance, String> {
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
    // What this directory's process runs, for whoever reads its log.
    std::fs::write(dir.join("image"), &desired.image).map_err(|e| e.to_string())?;
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
pub fn exited(instance: &mut Instance) -> Option<String> {
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
pub fn stop(mut instance: Instance) {
    let _ = Command::new("pkill")
        .args(["-KILL", "-P", &instance.child.id().to_string()])
        .status();
    let _ = instance.child.kill();
    let _ = instance.child.wait();
}

/// The readiness check: HTTP 2xx on the readiness path, or an open port without one.
pub fn ready(instance: &Instance) -> bool {
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
