//! Building and pushing the app as an OCI artifact with the Spin CLI, once per version.
//!
//! The ledger is asked first: a version it already holds from this commit was built and pushed
//! by an earlier run, so a re-run takes that digest and pushes nothing (re-pushing would move the
//! `:VERSION` tag to a new digest before the ledger could refuse it). The same version from
//! another commit is refused before anything is built.

use crate::cli;
use crate::failure::Failure;
use crate::ledger_client::LedgerClient;
use ledger::types::{ArtifactRef, Digest};
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// Prints the digest VERSION has in the registry: recorded, or just pushed.
pub fn build_and_push(ledger: &LedgerClient, args: &cli::BuildAndPush) -> Result<String, Failure> {
    let (version, commit, repository) = (&args.version, &args.commit, &args.repository);
    let push_flags = &args.push_flag;
    if repository.as_str() != repository.repository() {
        return Err(Failure::Invalid(format!(
            "--repository {repository} carries a tag or digest: give the repository only"
        )));
    }
    if let Some(recorded) = ledger.find_release(version)? {
        if &recorded.commit != commit {
            return Err(Failure::Refused {
                status: 409,
                reason: format!(
                    "release {version} is recorded from commit {}, not {commit}: a version \
                     names one artifact, so nothing was built or pushed",
                    recorded.commit
                ),
            });
        }
        eprintln!(
            "relctl: {version} is recorded from this commit as {}; nothing to build or push",
            recorded.digest
        );
        return Ok(recorded.digest.to_string());
    }
    log_in(repository)?;
    let build = Command::new("spin")
        .arg("build")
        .env("APP_VERSION", version.as_str())
        .env("GIT_COMMIT", commit.as_str())
        // The build's own output is a log, not this step's answer.
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| Failure::Unreachable(format!("cannot run spin: {e}")))?;
    if !build.success() {
        return Err(Failure::Unreachable(format!("spin build failed ({build})")));
    }
    let reference = format!("{repository}:{version}");
    let pushed = Command::new("spin")
        .args(["registry", "push"])
        .args(push_flags)
        .arg(&reference)
        .output()
        .map_err(|e| Failure::Unreachable(format!("cannot run spin: {e}")))?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&pushed.stdout),
        String::from_utf8_lossy(&pushed.stderr)
    );
    eprint!("{printed}");
    if !pushed.status.success() {
        let last = printed.lines().rev().find(|l| !l.trim().is_empty());
        return Err(Failure::Unreachable(format!(
            "spin registry push {reference} failed: {}",
            last.unwrap_or("no output")
        )));
    }
    Ok(pushed_digest(&printed)?.to_string())
}

/// `spin registry login` with REGISTRY_USER and REGISTRY_PASSWORD from the environment, the
/// password on stdin; nothing when no user is set (a registry that takes no login).
fn log_in(repository: &ArtifactRef) -> Result<(), Failure> {
    let user = std::env::var("REGISTRY_USER").unwrap_or_default();
    if user.is_empty() {
        return Ok(());
    }
    let password = std::env::var("REGISTRY_PASSWORD").unwrap_or_default();
    let registry = repository
        .as_str()
        .split_once('/')
        .map(|(first, _)| first)
        .filter(|first| first.contains(['.', ':']) || *first == "localhost")
        .ok_or_else(|| {
            Failure::Invalid(format!(
                "REGISTRY_USER is set but {repository} names no registry host to log in to"
            ))
        })?;
    let mut login = Command::new("spin")
        .args([
            "registry",
            "login",
            "--username",
            &user,
            "--password-stdin",
            registry,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::from(std::io::stderr()))
        .spawn()
        .map_err(|e| Failure::Unreachable(format!("cannot run spin: {e}")))?;
    if let Some(mut stdin) = login.stdin.take() {
        let _ = stdin.write_all(password.as_bytes());
    }
    let status = login
        .wait()
        .map_err(|e| Failure::Unreachable(format!("spin registry login: {e}")))?;
    if !status.success() {
        return Err(Failure::Refused {
            status: 401,
            reason: format!("spin registry login {registry} failed as {user}"),
        });
    }
    Ok(())
}

/// `relctl push-digest`: the digest in `spin registry push` output read from stdin.
pub fn push_digest_from_stdin() -> Result<String, Failure> {
    let mut output = String::new();
    std::io::stdin()
        .read_to_string(&mut output)
        .map_err(|e| Failure::Invalid(format!("cannot read stdin: {e}")))?;
    Ok(pushed_digest(&output)?.to_string())
}

/// The digest `spin registry push` reports ("Pushed with digest sha256:…"): the last
/// `sha256:` + 64 hex in its output.
pub fn pushed_digest(output: &str) -> Result<Digest, Failure> {
    let candidate = output
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .rfind(|word| word.starts_with("sha256:"))
        .ok_or_else(|| {
            Failure::Invalid("no digest in the output of `spin registry push`".into())
        })?;
    Ok(Digest::parse(candidate)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_comes_from_spins_output() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let output = format!("Pushing app to the Registry.\nPushed with digest {digest}\n");
        assert_eq!(pushed_digest(&output).unwrap().as_str(), digest);
        assert!(pushed_digest("Pushing app to the Registry.\nError: unauthorized").is_err());
        assert!(pushed_digest("Pushed with digest sha256:abc").is_err());
    }
}
