//! Starting the app on either runtime on a free loopback port, waiting for it by polling, and
//! stopping it by PID (its whole process group: `spin up` runs its trigger as a child process).

use crate::fixtures::{HMAC_KEY, free_port, host_bin, repo, scratch_dir};
use crate::runtime::{Runtime, spin_bin};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a runtime may take to serve its first 200 (a cold start compiles the components).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running app. Stopped (SIGKILL to its process group) when dropped, unless already stopped.
pub struct Host {
    pub runtime: Runtime,
    pub child: Child,
    pub base: String,
    /// spin-host's `--sqlite-dir`, Spin's `--state-dir`: where `sqlite_db.db` lives.
    pub sqlite_dir: PathBuf,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// From spawning the process to the first 200 from the ready path.
    pub first_response: Duration,
}

pub struct HostBuilder {
    runtime: Runtime,
    manifest: PathBuf,
    sqlite_dir: PathBuf,
    vars: Vec<(String, String)>,
    env: Vec<(String, String)>,
    components: Vec<String>,
    ready_path: String,
    relative_dirs: bool,
    cache_dir: PathBuf,
    /// `spin up --insecure`: the app comes from a plain-HTTP registry.
    insecure_registry: bool,
    /// spin-host's `--admin-listen`: where it serves its request metrics.
    admin_listen: Option<String>,
    /// More `spin up` flags (instance reuse, for the benchmark).
    spin_args: Vec<String>,
}

impl HostBuilder {
    /// The app from the repository's `spin.toml` on spin-host.
    pub fn new(label: &str) -> Self {
        Self::on(Runtime::SpinHost, label)
    }

    /// The app from the repository's `spin.toml` on `runtime`, with the tests' HMAC key.
    pub fn on(runtime: Runtime, label: &str) -> Self {
        Self {
            runtime,
            manifest: repo().join("spin.toml"),
            sqlite_dir: scratch_dir(&format!("{}-{label}", runtime.name())),
            vars: vec![("auth_hmac_key".into(), HMAC_KEY.into())],
            env: Vec::new(),
            components: Vec::new(),
            ready_path: "/api/ready".into(),
            relative_dirs: false,
            cache_dir: repo().join("target/host-test-cache"),
            insecure_registry: false,
            admin_listen: None,
            spin_args: Vec::new(),
        }
    }

    /// Passes ARG to `spin up` (never to spin-host, which has no such flags).
    pub fn spin_arg(mut self, arg: &str) -> Self {
        self.spin_args.push(arg.into());
        self
    }

    /// spin-host serving its request metrics at `http://ADDR/metrics`.
    pub fn admin_listen(mut self, addr: &str) -> Self {
        assert_eq!(self.runtime, Runtime::SpinHost, "a spin-host option");
        self.admin_listen = Some(addr.into());
        self
    }

    /// Real Spin running an OCI artifact (`spin up --from REGISTRY/REPO@DIGEST --insecure`)
    /// from a plain-HTTP registry, as SpinKube's shim pulls it.
    pub fn from_registry(mut self, reference: &str) -> Self {
        assert_eq!(
            self.runtime,
            Runtime::Spin,
            "only real Spin pulls from a registry"
        );
        self.manifest = PathBuf::from(reference);
        self.insecure_registry = true;
        self
    }

    /// Runs spin-host as `make run` does: from a working directory, with a relative SQLite
    /// directory and the default compile cache beneath it.
    pub fn relative_dirs(mut self) -> Self {
        assert_eq!(self.runtime, Runtime::SpinHost, "a spin-host option");
        self.relative_dirs = true;
        self
    }

    /// The path that answers 200 once the app is up (default `/api/ready`).
    pub fn ready_path(mut self, path: &str) -> Self {
        self.ready_path = path.into();
        self
    }

    pub fn manifest(mut self, path: PathBuf) -> Self {
        self.manifest = path;
        self
    }

    pub fn sqlite_dir(mut self, dir: PathBuf) -> Self {
        self.sqlite_dir = dir;
        self
    }

    /// Where compiled components are cached between starts (default `target/host-test-cache`).
    pub fn cache_dir(mut self, dir: PathBuf) -> Self {
        self.cache_dir = dir;
        self
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs only this component (repeatable), as `spin up -c` and a SpinApp's `components:` do.
    pub fn component(mut self, id: &str) -> Self {
        self.components.push(id.into());
        self
    }

    fn command(&self) -> Command {
        let mut command = match self.runtime {
            // spin-host takes a free port itself and prints it.
            Runtime::SpinHost => self.spin_host_command("127.0.0.1:0"),
            Runtime::Spin => {
                let mut command = self.spin_command(&format!("127.0.0.1:{}", free_port()));
                // Another test may take the port picked above first; Spin then moves on.
                command.arg("--find-free-port");
                command
            }
        };
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        // Its own process group, so that stopping it stops whatever it started.
        command.process_group(0);
        command
    }

    fn spin_host_command(&self, listen: &str) -> Command {
        let mut command = Command::new(host_bin());
        command
            .args(["--listen", listen, "--manifest"])
            .arg(&self.manifest);
        if self.relative_dirs {
            command
                .current_dir(&self.sqlite_dir)
                .args(["--sqlite-dir", ".spin"]);
        } else {
            command.arg("--sqlite-dir").arg(&self.sqlite_dir);
            command
                .arg("--cache-dir")
                .arg(self.cache_dir.join("spin-host"));
        }
        if let Some(admin) = &self.admin_listen {
            command.args(["--admin-listen", admin]);
        }
        self.pass_vars_and_components(&mut command, "--var", "--component");
        command
    }

    /// `spin up` with its state (SQLite, logs) in the test's directory, its compile cache in
    /// `target/`, and nothing read from the user's Spin plugins or templates.
    fn spin_command(&self, listen: &str) -> Command {
        let mut command = Command::new(spin_bin());
        command
            .args(["up", "--from"])
            .arg(&self.manifest)
            .args(["--listen", listen, "--state-dir"])
            .arg(&self.sqlite_dir)
            .arg("--cache")
            .arg(wasmtime_cache_config(&self.cache_dir.join("spin")))
            .arg("--cache-dir")
            .arg(self.sqlite_dir.join("oci-cache"));
        if self.insecure_registry {
            command.arg("--insecure");
        }
        command.args(&self.spin_args);
        self.pass_vars_and_components(&mut command, "--variable", "-c");
        command
    }

    /// Adds the variables and the component selection, spelled with the runtime's own flags.
    fn pass_vars_and_components(&self, command: &mut Command, var: &str, component: &str) {
        for (name, value) in &self.vars {
            command.arg(var).arg(format!("{name}={value}"));
        }
        for id in &self.components {
            command.args([component, id]);
        }
    }

    fn spawn(&self) -> Child {
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.runtime.name()))
    }

    /// Runs the app expecting it to refuse to start; returns its exit code and what it printed
    /// (stdout and stderr: Spin prints some refusals on one, some on the other).
    pub fn fail(&self) -> (Option<i32>, String) {
        let mut child = self.spawn();
        // Read both pipes while it runs, so that a long message cannot block it.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.unwrap().read_to_string(&mut text);
                text
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
        let deadline = Instant::now() + START_TIMEOUT;
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "{} started when it should have refused",
                self.runtime.name()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let printed = format!("{}\n{}", stdout.join().unwrap(), stderr.join().unwrap());
        (child.wait().unwrap().code(), printed)
    }

    /// Starts the app and waits until the ready path answers 200.
    pub fn start(self) -> Host {
        let started = Instant::now();
        let mut child = self.spawn();
        let (tx, serving) = std::sync::mpsc::channel();
        let stdout = collect_lines(child.stdout.take().unwrap(), tx.clone());
        let stderr = collect_lines(child.stderr.take().unwrap(), tx);
        let mut host = Host {
            runtime: self.runtime,
            child,
            base: String::new(),
            sqlite_dir: self.sqlite_dir,
            stdout,
            stderr,
            first_response: Duration::ZERO,
        };
        host.base = format!("http://{}", host.wait_serving(&serving));
        host.wait_ready(&self.ready_path);
        host.first_response = started.elapsed();
        host
    }
}

/// The address in a runtime's start-up line: spin-host's `spin-host: serving http://ADDR (app
/// `name`)`, Spin's `Serving http://ADDR`.
fn serving_address(line: &str) -> Option<&str> {
    line.strip_prefix("spin-host: serving http://")
        .or_else(|| line.strip_prefix("Serving http://"))?
        .split_whitespace()
        .next()
}

/// Keeps reading a pipe into lines (a full pipe would stall the host's logging), and sends on
/// the address of the start-up line.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    serving: Sender<String>,
) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(addr) = serving_address(&line) {
                let _ = serving.send(addr.to_owned());
            }
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// A wasmtime cache configuration for `spin up --cache` that keeps compiled components in
/// `dir`, so that only the first start of a test run compiles them.
fn wasmtime_cache_config(dir: &std::path::Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("wasmtime-cache.toml");
    let text = format!("[cache]\ndirectory = {:?}\n", dir.join("compiled"));
    // Tests start runtimes in parallel: write aside, then rename, so none reads half a file.
    let partial = scratch_dir("cache-config").join("wasmtime-cache.toml");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, &path)
        .or_else(|_| std::fs::copy(&partial, &path).map(drop))
        .unwrap();
    path
}

impl Host {
    fn wait_serving(&mut self, serving: &Receiver<String>) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(addr) = serving.recv_timeout(Duration::from_millis(50)) {
                return addr;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before serving:\n{}",
                    self.runtime.name(),
                    self.output()
                );
            }
        }
        panic!("{} did not start:\n{}", self.runtime.name(), self.output());
    }

    fn wait_ready(&mut self, path: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before serving:\n{}",
                    self.runtime.name(),
                    self.output()
                );
            }
            if crate::agent::status_of(&format!("{}{path}", self.base)) == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} never answered 200 on {path}:\n{}",
            self.runtime.name(),
            self.output()
        );
    }

    /// The first line printed (on either stream) that `matches`, waiting up to 60 s for it:
    /// a component's log line may reach the harness a moment after its HTTP answer.
    pub fn wait_for_line(&self, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let output = self.output();
            if let Some(line) = output.lines().find(|l| matches(l)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{}: no such line in:\n{output}",
                self.runtime.name()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the runtime and the components printed so far, stdout then stderr (Spin
    /// prints the components' output on its stderr, spin-host on its stdout).
    pub fn output(&self) -> String {
        format!(
            "{}\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// SIGKILL to the runtime's process group, without waiting for it (others may be using it).
    pub fn sigkill(&self) {
        self.signal("-KILL");
    }

    /// SIGKILL to the runtime's process group, and waits for it.
    pub fn kill(&mut self) {
        self.sigkill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM");
        self.child.wait().unwrap()
    }

    /// The runtime's own SQLite file for the `default` database.
    pub fn sqlite_file(&self) -> PathBuf {
        self.sqlite_dir.join("sqlite_db.db")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        } else {
            // The leader is gone; make sure nothing it started keeps the port.
            self.signal("-KILL");
        }
    }
}
