//! A real Prometheus (Debian's package) on a free loopback port, ready when returned and
//! stopped when dropped: for the canary analysis, which asks it what it stored.

use crate::fixtures::free_port;
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
        let deadline = Instant::now() + Duration::from_secs(60);
        while ureq::get(&format!("{}/-/ready", prometheus.base))
            .call()
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "Prometheus not ready within 60 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        prometheus
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
