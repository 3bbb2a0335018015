//! A real Prometheus (Debian's package) on a free loopback port, ready when returned and
//! stopped when dropped: for the canary analysis, which asks it what it stored, and for the
//! tests of the alerts and dashboards, which ask it themselves.

use crate::fixtures::free_port;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Prometheus {
    child: Child,
    pub base: String,
}

impl Prometheus {
    /// Prometheus with CONFIG (its YAML) and its storage under DIR, where `data` may already
    /// hold backfilled blocks.
    pub fn start(dir: &Path, config: &str) -> Self {
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg("--config.file=prometheus.yml")
            .arg("--storage.tsdb.path=data")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian's package; make tools installs it)");
        let prometheus = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        // "Prometheus Server is Ready." (older releases say "ok"), not merely a 200.
        let ready = |p: &Self| {
            p.get("/-/ready")
                .filter(|r| r == "ok" || r.contains("Ready"))
        };
        prometheus.eventually("Prometheus ready", |p| ready(p).map(drop));
        prometheus
    }

    /// The body of a 200 answer to PATH, trimmed; None for any other answer or none.
    pub fn get(&self, path: &str) -> Option<String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut response = agent.get(&format!("{}{path}", self.base)).call().ok()?;
        (response.status() == 200).then(|| {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            body.trim().to_owned()
        })
    }

    /// What an instant query of EXPR answers now: the API's whole JSON reply.
    pub fn query(&self, expr: &str) -> Value {
        self.query_at(expr, None)
    }

    /// EXPR evaluated at AT (a Unix time), or now.
    pub fn query_at(&self, expr: &str, at: Option<&str>) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent
            .get(&format!("{}/api/v1/query", self.base))
            .query("query", expr);
        if let Some(at) = at {
            request = request.query("time", at);
        }
        let mut response = request.call().expect("Prometheus answers");
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// CHECK's first Some, asked every 250 ms; WHAT fails the test after 60 s without one
    /// (scrapes and rule evaluations come on Prometheus's own clock).
    pub fn eventually<T>(&self, what: &str, check: impl Fn(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(value) = check(self) {
                return value;
            }
            assert!(Instant::now() < deadline, "{what}: not within 60 s");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
