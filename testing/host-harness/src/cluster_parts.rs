//! What the clusters' apps need besides Spin, for tests that run them (on the real nodes): the
//! read model's Redis on loopback, and this checkout's build pushed to the test registry.

use crate::client::wait_for_listener;
use crate::fixtures::{free_port, repo};
use crate::runtime::spin_bin;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A Redis with a password on a free loopback port, stopped when dropped.
pub struct Redis {
    child: Child,
    /// `redis://:PASSWORD@127.0.0.1:PORT`, as `kv_url` names it.
    pub url: String,
}

impl Redis {
    /// # Panics
    /// When `redis-server` is missing (`make tools` installs it) or does not listen.
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--requirepass", "read-model"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (make tools installs it)");
        let address = format!("127.0.0.1:{port}");
        wait_for_listener(&address, std::time::Duration::from_secs(60)).unwrap();
        Redis {
            child,
            url: format!("redis://:read-model@{address}"),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pushes this checkout's build (`spin.toml`, as `make build` left it) to REGISTRY as
/// `automatizacion:TAG`; returns `REGISTRY/automatizacion@DIGEST`.
pub fn push_checkout(registry: &str, tag: &str) -> String {
    push_manifest(registry, tag, &repo().join("spin.toml"))
}

/// As [`push_checkout`], with the manifest changed by EDIT and the same built components: a
/// release that differs from this checkout's only in what its `spin.toml` says.
pub fn push_checkout_edited(
    registry: &str,
    tag: &str,
    edit: impl FnOnce(&str) -> String,
) -> String {
    let dir = crate::fixtures::scratch_dir(&format!("push-{tag}"));
    let text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    std::fs::write(dir.join("spin.toml"), edit(&text)).unwrap();
    // The components' paths are relative to the manifest.
    std::os::unix::fs::symlink(repo().join("target"), dir.join("target")).unwrap();
    push_manifest(registry, tag, &dir.join("spin.toml"))
}

fn push_manifest(registry: &str, tag: &str, manifest: &Path) -> String {
    let repository = format!("{registry}/automatizacion");
    let out = Command::new(spin_bin())
        .args(["registry", "push", "--insecure", "--from"])
        .arg(manifest)
        .arg(format!("{repository}:{tag}"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = printed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .expect("spin registry push prints the digest");
    format!("{repository}@{digest}")
}
