//! The servers under test: the app on either runtime, a fresh PostgreSQL database, the Flask
//! peer, the same seed on each, and their memory.

use anyhow::{Context, Result, anyhow};
use host_harness::{Host, HostBuilder, Runtime};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `host:port` a started runtime serves on.
pub fn addr(host: &Host) -> &str {
    host.base.trim_start_matches("http://")
}

pub fn scratch(label: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "automatizacion-bench-{label}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A fresh PostgreSQL database for one runtime's rows: its `(db_url, db_outbound_host)`.
pub async fn fresh_postgres(name: &str) -> Result<(String, String)> {
    let admin = std::env::var("LEDGER_TEST_PG_URL")
        .context("LEDGER_TEST_PG_URL: run `make bench`, which starts PostgreSQL")?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("LEDGER_TEST_PG_URL ends in /dbname"))?;
    let db = format!("bench_{name}_{}", std::process::id());
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await?;
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
    let authority = base
        .split('@')
        .nth(1)
        .unwrap_or(base.trim_start_matches("postgres://"));
    Ok((format!("{base}/{db}"), format!("postgres://{authority}")))
}

/// The Flask peer (`target/parts/peers/flask-ledger`, gunicorn with 2 sync workers, SQLite
/// WAL), with the same key, issuer and audience as the app, in its own process group.
pub struct Peer {
    pub child: Child,
    pub addr: String,
}

impl Peer {
    /// The running peer, or `None` (said on stderr) where `scripts/parts.sh` found none: only
    /// the project's `../shared` holds it.
    pub fn start() -> Result<Option<Self>> {
        let repo = host_harness::repo();
        let run = repo.join("target/parts/peers/flask-ledger/run.sh");
        if !run.exists() {
            eprintln!(
                "bench: no Flask peer in target/parts (only ../shared holds it): its column and \
                 the ratios to it are left out"
            );
            return Ok(None);
        }
        let port = host_harness::free_port();
        let db = scratch("flask")?.join("ledger.db");
        let child = Command::new(run)
            .env("VENV", repo.join("target/flask-peer-venv"))
            .env("PORT", port.to_string())
            .env("AUTH_HMAC_KEY", host_harness::HMAC_KEY)
            .env("AUTH_ISSUER", token::DEFAULT_ISSUER)
            .env("AUTH_AUDIENCE", token::DEFAULT_AUDIENCE)
            .env("LEDGER_DB", db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the Flask peer (make bench prepares target/flask-peer-venv with scripts/python-venv.sh)")?;
        let peer = Self {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        host_harness::wait_for_listener(&peer.addr, Duration::from_secs(60))
            .map_err(|e| anyhow!("the Flask peer: {e}"))?;
        Ok(Some(peer))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// The same 100 releases on every server, through its API.
pub fn seed(servers: &[Server]) -> Result<()> {
    for server in servers {
        let versions = (0..100).map(|i| format!("1.{i}.0"));
        host_harness::seed_releases(&format!("http://{}", server.addr), versions)
            .map_err(|e| anyhow!(e))?;
    }
    Ok(())
}

/// One server under test: its name, address, and process group (for memory).
pub struct Server {
    pub name: &'static str,
    pub addr: String,
    pub group: u32,
    /// Serves `/` as the console (the peer has no console).
    pub console: bool,
}

impl Server {
    pub fn of(name: &'static str, host: &Host) -> Self {
        Self {
            name,
            addr: addr(host).to_owned(),
            group: host.child.id(),
            console: true,
        }
    }
}

/// The processes of a process group: Spin runs its trigger as a child process, gunicorn its
/// workers.
pub fn group_pids(group: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let in_group = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2)?.parse::<u32>().ok())
            == Some(group);
        if in_group && let Ok(pid) = entry.file_name().to_string_lossy().parse() {
            pids.push(pid);
        }
    }
    pids
}

/// Peak resident memory of a process group, in KiB.
pub fn group_rss_kib(group: u32) -> u64 {
    group_pids(group)
        .into_iter()
        .map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

pub fn app(runtime: Runtime, label: &str, cache: &std::path::Path) -> Result<HostBuilder> {
    Ok(HostBuilder::on(runtime, label)
        .sqlite_dir(scratch(&format!("{}-{label}", runtime.name()))?)
        .cache_dir(cache.to_path_buf())
        .ready_path("/api/health"))
}
