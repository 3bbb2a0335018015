//! `relctl`: every step of the release pipeline as one command, so that the Kestra flow and
//! the Rundeck jobs stay one task per step and the logic lives here, tested.
//!
//! Arguments arrive already parsed into the ledger's validated types (`cli`), so bad input
//! fails at once with a one-line reason and records nothing. Each command is one function;
//! [`run`] only dispatches.

mod build;
mod cli;
mod deploy;
mod failure;
mod karmada;
mod kestra;
mod ledger_client;
mod overlay;
mod records;
mod steps;

pub use cli::{Cli, Command};
pub use failure::Failure;

use ledger_client::LedgerClient;
use std::time::Duration;

/// Runs one step; `Ok` carries what it prints.
pub fn run(cli: Cli) -> Result<String, Failure> {
    let ledger = || LedgerClient::new(&cli.ledger, steps::ledger_token()?);
    match cli.command {
        Command::RecordRelease {
            version,
            artifact,
            digest,
            commit,
            notes,
            on_behalf_of,
        } => {
            let release = ledger_client::NewRelease {
                version: &version,
                artifact: &artifact,
                digest: &digest,
                commit: &commit,
                notes: &notes,
                on_behalf_of: on_behalf_of.as_ref(),
            };
            records::record_release(&ledger()?, &release)
        }
        Command::RecordDeployment {
            version,
            cluster,
            status,
            message,
            execution_url,
        } => {
            let event = ledger_client::NewEvent {
                cluster: &cluster,
                status,
                message: message.as_deref(),
                execution_url: execution_url.as_ref(),
            };
            records::record_deployment(&ledger()?, &version, &event)
        }
        Command::RequestApproval {
            version,
            on_behalf_of,
        } => records::request_approval(&ledger()?, &version, on_behalf_of.as_ref()),
        Command::Decide {
            version,
            decision,
            comment,
        } => records::decide(&ledger()?, &version, decision, &comment),
        Command::ApprovalState { version } => records::approval_state(&ledger()?, &version),
        Command::ReleaseArtifact { version } => records::release_artifact(&ledger()?, &version),
        Command::CurrentRelease { cluster, field } => {
            records::current_release(&ledger()?, &cluster, field)
        }
        Command::BuildAndPush {
            version,
            commit,
            repository,
            push_flag,
        } => build::build_and_push(&ledger()?, &version, &commit, &repository, &push_flag),
        Command::SetDigest {
            overlay,
            image,
            new_name,
            digest,
        } => overlay::set_image(&overlay, &image, new_name.as_deref(), &digest),
        Command::Deploy {
            version,
            environment,
            digest,
            target,
            new_name,
            smoke,
            execution_url,
            unless_current,
        } => {
            let env = deploy::Environment::new(environment, target, execution_url);
            let release = deploy::Rollout {
                version: &version,
                digest: &digest,
                new_name: new_name.as_deref(),
                smoke: &smoke,
                unless_current,
            };
            deploy::deploy(&ledger()?, &env, &release)
        }
        Command::RollBack {
            to_version,
            environment,
            target,
            execution_url,
        } => {
            let env = deploy::Environment::new(environment, target, execution_url);
            deploy::roll_back_to(&ledger()?, &env, &to_version)
        }
        Command::WaitReady {
            kubeconfig,
            context,
            namespace,
            digest,
            timeout,
        } => karmada::Karmada {
            kubeconfig: &kubeconfig,
            context: context.as_deref(),
        }
        .wait_ready(&namespace, digest.as_ref(), Duration::from_secs(timeout)),
        Command::PushDigest => build::push_digest_from_stdin(),
        Command::Smoke {
            url,
            cluster,
            version,
            timeout,
        } => steps::smoke(&url, &cluster, &version, Duration::from_secs(timeout)),
        Command::ResumeKestra {
            url,
            tenant,
            execution,
        } => kestra::resume(&url, &tenant, &execution),
        Command::Token {
            sub,
            role,
            ttl,
            key_file,
            iss,
            kid,
        } => steps::mint_token(&sub, &role, &ttl, key_file.as_deref(), iss, kid.as_deref()),
    }
}
