//! The two runtimes the app is tested on: real Spin, as users (`spin up`) and SpinKube's node
//! shim run it, and `spin-host`, this repository's own host. Every end-to-end test runs on both
//! and names the runtime in its path (`…::spin::story`, `…::spin_host::story`), so a failure
//! says which one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `spin up`: the Spin CLI (3.4 or later).
    Spin,
    /// `spin-host`, as `host_bin` finds it.
    SpinHost,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Spin => "spin",
            Runtime::SpinHost => "spin-host",
        }
    }
}

/// The oldest Spin whose `spin up` this app is tested with (SpinKube's shim embeds 3.6).
const MIN_SPIN: (u64, u64) = (3, 4);

/// The Spin CLI the tests run: the first of `spin` on PATH at version 3.4 or later, then
/// `target/parts/bin/spin`, Spin 3.6.3, which `make tools` puts there (`scripts/parts.sh`).
pub fn spin_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let on_path = PathBuf::from("spin");
        if spin_version(&on_path).is_some_and(|v| v >= MIN_SPIN) {
            return on_path;
        }
        let unpacked = crate::fixtures::repo().join("target/parts/bin/spin");
        match spin_version(&unpacked) {
            Some(v) if v >= MIN_SPIN => unpacked,
            Some(v) => panic!("{} is Spin {v:?}, older than 3.4", unpacked.display()),
            None => panic!(
                "no Spin 3.4+ on PATH and {} is missing: run `make tools`, which fetches \
                 Spin 3.6.3 there",
                unpacked.display()
            ),
        }
    })
}

/// `(major, minor)` of `spin --version`, or `None` when it does not run.
fn spin_version(bin: &Path) -> Option<(u64, u64)> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    parse_spin_version(&String::from_utf8_lossy(&out.stdout))
}

/// Reads `spin 3.6.3 (88d51cf1 2026-04-09)`.
fn parse_spin_version(text: &str) -> Option<(u64, u64)> {
    let mut words = text.split_whitespace();
    if words.next()? != "spin" {
        return None;
    }
    let mut numbers = words.next()?.split(['.', '-']);
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_spin_version_lines() {
        assert_eq!(
            parse_spin_version("spin 3.6.3 (88d51cf1 2026-04-09)\n"),
            Some((3, 6))
        );
        assert_eq!(parse_spin_version("spin 3.4.0-pre0"), Some((3, 4)));
        assert_eq!(parse_spin_version("spin 2.7.0 (abc)"), Some((2, 7)));
        assert!(parse_spin_version("spin 2.7.0").unwrap() < MIN_SPIN);
        assert!(parse_spin_version("spin 3.10.1").unwrap() >= MIN_SPIN);
        assert_eq!(parse_spin_version("wasmtime 48.0.0"), None);
        assert_eq!(parse_spin_version(""), None);
    }
}
