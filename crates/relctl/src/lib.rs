//! `relctl`: every step of the release pipeline as one command, so that the Kestra flow and
//! the Rundeck jobs stay one task per step and the logic lives here, tested.
//!
//! Input is parsed into the ledger's own validated types (`Version`, `Digest`, …) before
//! anything is sent, so bad input fails at once with a one-line reason and records nothing.

mod cli;
mod deploy;
mod failure;
mod karmada;
mod ledger_client;
mod overlay;
mod steps;

pub use cli::{Cli, Command};
pub use failure::Failure;

use cli::CurrentField;
use ledger::types::{ArtifactRef, ClusterName, CommitSha, Digest, Version, WebUrl};
use ledger_client::Ledger;
use serde_json::json;
use std::io::Read;
use std::time::Duration;

/// Runs one step; `Ok` carries what it prints.
pub fn run(cli: Cli) -> Result<String, Failure> {
    let ledger = || Ledger::new(&cli.ledger, cli.token.clone());
    match cli.command {
        Command::RecordRelease {
            version,
            artifact,
            digest,
            commit,
            notes,
        } => {
            let release = json!({
                "version": Version::parse(&version)?.as_str(),
                "artifact": ArtifactRef::parse(&artifact)?.as_str(),
                "digest": Digest::parse(&digest)?.as_str(),
                "commit": CommitSha::parse(&commit)?.as_str(),
                "notes": notes,
            });
            let recorded = ledger()?.record_release(&release)?;
            Ok(format!(
                "{}@{}",
                recorded["version"].as_str().unwrap_or(&version),
                recorded["digest"].as_str().unwrap_or(&digest)
            ))
        }
        Command::RecordDeployment {
            version,
            cluster,
            status,
            message,
            execution_url,
        } => {
            let version = Version::parse(&version)?;
            let mut event = json!({"cluster": ClusterName::parse(&cluster)?.as_str(), "status": status.as_str()});
            if let Some(message) = message {
                event["message"] = message.into();
            }
            if let Some(url) = execution_url {
                event["execution_url"] = WebUrl::parse(&url)?.as_str().into();
            }
            ledger()?.record_deployment(version.as_str(), &event)?;
            Ok(format!("{version} {} on {cluster}", status.as_str()))
        }
        Command::RequestApproval { version } => {
            let version = Version::parse(&version)?;
            let approval = ledger()?.request_approval(version.as_str())?;
            Ok(approval["state"].as_str().unwrap_or("pending").to_owned())
        }
        Command::Decide {
            version,
            decision,
            comment,
        } => {
            let version = Version::parse(&version)?;
            if comment.trim().is_empty() {
                return Err(Failure::Invalid("--comment is empty: say why".into()));
            }
            let body = json!({"decision": decision.as_str(), "comment": comment});
            let approval = ledger()?.decide(version.as_str(), &body)?;
            Ok(approval["state"].as_str().unwrap_or("").to_owned())
        }
        Command::ApprovalState { version } => {
            let release = ledger()?.release(Version::parse(&version)?.as_str())?;
            Ok(release["approval"]["state"]
                .as_str()
                .unwrap_or("none")
                .to_owned())
        }
        Command::ReleaseArtifact { version } => {
            let release = ledger()?.release(Version::parse(&version)?.as_str())?;
            Ok(format!(
                "{}@{}",
                repository(release["artifact"].as_str().unwrap_or("")),
                release["digest"].as_str().unwrap_or("")
            ))
        }
        Command::CurrentRelease { cluster, field } => {
            let cluster = ClusterName::parse(&cluster)?;
            let clusters = ledger()?.clusters()?;
            let entry = clusters
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"] == cluster.as_str())
                .ok_or_else(|| {
                    Failure::Invalid(format!("the ledger knows no cluster {cluster}"))
                })?;
            let current = &entry["current"];
            if current.is_null() {
                return Err(Failure::Refused {
                    status: 404,
                    reason: format!("no release runs on {cluster}"),
                });
            }
            let key = match field {
                CurrentField::Version => "version",
                CurrentField::Digest => "digest",
                CurrentField::Artifact => "artifact",
            };
            Ok(current[key].as_str().unwrap_or("").to_owned())
        }
        Command::SetDigest {
            overlay,
            image,
            new_name,
            digest,
        } => overlay::set_image(
            &overlay,
            &image,
            new_name.as_deref(),
            &Digest::parse(&digest)?,
        ),
        Command::Deploy {
            version,
            environment,
            digest,
            target,
            new_name,
            smoke,
            execution_url,
        } => {
            let version = Version::parse(&version)?;
            let digest = Digest::parse(&digest)?;
            let env = environment_of(environment, target, execution_url)?;
            deploy::deploy(
                &ledger()?,
                &env,
                &version,
                &digest,
                new_name.as_deref(),
                &smoke,
            )
        }
        Command::RollBack {
            to_version,
            environment,
            target,
            execution_url,
        } => {
            let version = Version::parse(&to_version)?;
            let env = environment_of(environment, target, execution_url)?;
            deploy::roll_back_to(&ledger()?, &env, &version)
        }
        Command::WaitReady {
            kubeconfig,
            context,
            namespace,
            digest,
            timeout,
        } => {
            let digest = digest.as_deref().map(Digest::parse).transpose()?;
            let karmada = karmada::Karmada {
                kubeconfig: &kubeconfig,
                context: context.as_deref(),
            };
            karmada.wait_ready(&namespace, digest.as_ref(), Duration::from_secs(timeout))
        }
        Command::PushDigest => {
            let mut output = String::new();
            std::io::stdin()
                .read_to_string(&mut output)
                .map_err(|e| Failure::Invalid(format!("cannot read stdin: {e}")))?;
            Ok(steps::pushed_digest(&output)?.to_string())
        }
        Command::Smoke {
            url,
            cluster,
            version,
            timeout,
        } => {
            let version = Version::parse(&version)?;
            steps::smoke(
                &url,
                ClusterName::parse(&cluster)?.as_str(),
                version.as_str(),
                Duration::from_secs(timeout),
            )
        }
        Command::ResumeKestra {
            url,
            tenant,
            execution,
            kestra_token,
        } => steps::resume_kestra(&url, &tenant, &execution, kestra_token.as_deref()),
        Command::Token {
            sub,
            role,
            ttl,
            key_file,
        } => steps::mint(&sub, &role, &ttl, key_file.as_deref()),
    }
}

fn environment_of(
    name: String,
    target: cli::Target,
    execution_url: Option<String>,
) -> Result<deploy::Environment, Failure> {
    if !["staging", "production"].contains(&name.as_str()) {
        return Err(Failure::Invalid(format!(
            "--environment {name:?}: use staging or production"
        )));
    }
    if let Some(url) = &execution_url {
        WebUrl::parse(url)?;
    }
    Ok(deploy::Environment {
        name,
        root: target.root,
        image: target.image,
        kubeconfig: target.kubeconfig,
        timeout: Duration::from_secs(target.timeout),
        execution_url,
    })
}

/// An artifact reference without its tag or digest: `registry/repo:1.0` → `registry/repo`.
pub(crate) fn repository(artifact: &str) -> &str {
    let artifact = artifact.split('@').next().unwrap_or(artifact);
    match artifact.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => artifact,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn repository_drops_tag_and_digest_but_not_a_port() {
        assert_eq!(
            super::repository("localhost:5001/acme/app:1.0"),
            "localhost:5001/acme/app"
        );
        assert_eq!(
            super::repository("ghcr.io/acme/app@sha256:ab"),
            "ghcr.io/acme/app"
        );
        assert_eq!(
            super::repository("localhost:5001/app"),
            "localhost:5001/app"
        );
    }
}
