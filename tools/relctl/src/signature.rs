//! `relctl verify-tag`: the person behind a release, from the SSH signature on its tag.
//!
//! Nothing a caller says names the person: not a webhook's body (anyone with the webhook's
//! key can send one, and Kestra cannot check a git host's HMAC), not a manual run's input
//! (Kestra OSS has one shared login and no variable naming who started an execution). A tag
//! signed with a key that the administrator's allowed-signers file lists does: git checks the
//! signature with `ssh-keygen -Y verify` (`gpg.format=ssh`), and the principal the file gives
//! that key is the person, in the same canonical form the ledger gives every subject, so that
//! it is the name their Rundeck user becomes too (kestra/README.md, "Identity").
//!
//! Prints one line of JSON, `{"signer": …, "notes": …}` (the notes are the tag's message), for
//! the flow's outputs. An unsigned tag, a key nobody is allowed to sign with, or a signature
//! that does not verify stops the release with one line, before anything is built.

use crate::cli;
use crate::failure::Failure;
use ledger::types::Subject;
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// What git's SSH signature check said of a tag.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by a key the allowed-signers file gives to this principal.
    Signed(String),
    Unsigned,
    /// A good signature by a key the allowed-signers file does not list (its fingerprint).
    UnknownSigner(String),
    /// The signature does not match the tag.
    Forged,
    /// Anything else git said (no such tag, ssh-keygen missing), first line.
    Unreadable(String),
}

/// Reads `git verify-tag --raw`'s stderr (and whether it succeeded).
pub fn verdict(succeeded: bool, said: &str) -> Verdict {
    let fingerprint = |line: &str| line.rsplit(' ').next().unwrap_or("").to_owned();
    for line in said.lines() {
        if let Some(rest) = line.strip_prefix("Good \"git\" signature for ")
            && succeeded
        {
            let principal = rest.split(" with ").next().unwrap_or("");
            return Verdict::Signed(principal.to_owned());
        }
    }
    if said.contains("No principal matched") {
        let key = said
            .lines()
            .find(|l| l.starts_with("Good \"git\" signature with"))
            .map(fingerprint)
            .unwrap_or_default();
        return Verdict::UnknownSigner(key);
    }
    if said.contains("no signature found") || said.contains("cannot verify a non-tag object") {
        return Verdict::Unsigned;
    }
    if said.contains("incorrect signature") || said.contains("Could not verify signature") {
        return Verdict::Forged;
    }
    let first = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Verdict::Unreadable(first.trim_start_matches("error: ").to_owned())
}

pub fn verify_tag(args: &cli::VerifyTag) -> Result<String, Failure> {
    let tag = &args.tag;
    let signers = std::fs::canonicalize(&args.allowed_signers).map_err(|e| {
        Failure::Invalid(format!(
            "the allowed signers file {}: {e}",
            args.allowed_signers.display()
        ))
    })?;
    let out = git(
        &args.root,
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", signers.display()),
            "verify-tag",
            "--raw",
            tag,
        ],
    )?;
    let said = String::from_utf8_lossy(&out.stderr);
    let principal = match verdict(out.status.success(), &said) {
        Verdict::Signed(principal) => principal,
        Verdict::Unsigned => {
            return Err(untrusted(format!(
                "tag {tag} is not signed: sign it with an SSH key the allowed signers list \
                 (git tag -s, gpg.format=ssh); nothing was built"
            )));
        }
        Verdict::UnknownSigner(key) => {
            return Err(untrusted(format!(
                "tag {tag} is signed with a key no allowed signer holds ({key}); nothing was built"
            )));
        }
        Verdict::Forged => {
            return Err(untrusted(format!(
                "tag {tag}'s signature does not verify: the tag was changed after it was signed; \
                 nothing was built"
            )));
        }
        Verdict::Unreadable(why) => {
            return Err(untrusted(format!(
                "cannot verify tag {tag}: {why}; nothing was built"
            )));
        }
    };
    let signer = Subject::parse(&principal)
        .ok()
        .filter(|s| s.as_str() == principal)
        .ok_or_else(|| {
            untrusted(format!(
                "tag {tag}'s signer is `{principal}` in the allowed signers, which is not a \
                 subject in canonical form (lowercase, as the ledger compares people)"
            ))
        })?;
    let field = |format: &str| -> Result<String, Failure> {
        let out = git(&args.root, &["tag", "-l", format, tag])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // The message as written: its contents, less the signature git keeps at their end.
    let (contents, signature) = (
        field("--format=%(contents)")?,
        field("--format=%(contents:signature)")?,
    );
    let notes = contents
        .strip_suffix(&format!("{signature}\n"))
        .or_else(|| contents.strip_suffix(&signature))
        .unwrap_or(&contents)
        .trim()
        .to_owned();
    Ok(json!({"signer": signer.as_str(), "notes": notes}).to_string())
}

fn untrusted(reason: String) -> Failure {
    Failure::Untrusted(reason)
}

fn git(root: &Path, args: &[&str]) -> Result<std::process::Output, Failure> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| Failure::Invalid(format!("cannot run git: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_git_says_of_each_kind_of_tag() {
        let good = "Good \"git\" signature for alice with ED25519 key SHA256:G7wx\n";
        assert_eq!(verdict(true, good), Verdict::Signed("alice".into()));
        assert!(
            matches!(verdict(false, good), Verdict::Unreadable(_)),
            "git's exit status decides, not the text alone"
        );
        let stranger =
            "Good \"git\" signature with ED25519 key SHA256:4Edw\nNo principal matched.\n";
        assert_eq!(
            verdict(false, stranger),
            Verdict::UnknownSigner("SHA256:4Edw".into())
        );
        assert_eq!(
            verdict(false, "error: no signature found\n"),
            Verdict::Unsigned
        );
        assert_eq!(
            verdict(
                false,
                "error: v1.3.0: cannot verify a non-tag object of type commit.\n"
            ),
            Verdict::Unsigned
        );
        let forged =
            "Could not verify signature.\nSignature verification failed: incorrect signature\n";
        assert_eq!(verdict(false, forged), Verdict::Forged);
        assert_eq!(
            verdict(false, "error: tag 'v9' not found.\n"),
            Verdict::Unreadable("tag 'v9' not found.".into())
        );
    }
}
