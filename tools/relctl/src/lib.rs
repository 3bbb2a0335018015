//! `relctl`: every step of the release pipeline as one command, so that the Kestra flow and
//! the Rundeck jobs stay one task per step and the logic lives here, tested.
//!
//! Arguments arrive already parsed into the ledger's validated types (`cli`), so bad input
//! fails at once with a one-line reason and records nothing. Each command is one function;
//! [`run`] only dispatches.

mod build;
mod cli;
mod deploy;
mod failback;
mod failure;
mod karmada;
mod kestra;
mod ledger_client;
mod observe;
mod overlay;
mod records;
mod signature;
mod steps;

pub use cli::{Cli, Command};
pub use failure::Failure;

use ledger_client::LedgerClient;

/// Runs one step; `Ok` carries what it prints.
pub fn run(cli: Cli) -> Result<String, Failure> {
    let ledger = || LedgerClient::new(&cli.ledger, steps::ledger_token()?);
    match cli.command {
        Command::RecordRelease(args) => records::record_release(&ledger()?, &args),
        Command::RecordDeployment(args) => records::record_deployment(&ledger()?, &args),
        Command::RequestApproval(args) => records::request_approval(&ledger()?, &args),
        Command::Decide(args) => records::decide(&ledger()?, &args),
        Command::ApprovalState(args) => records::approval_state(&ledger()?, &args.version),
        Command::ReleaseArtifact(args) => records::release_artifact(&ledger()?, &args.version),
        Command::CurrentRelease(args) => records::current_release(&ledger()?, &args),
        Command::BuildAndPush(args) => build::build_and_push(&ledger()?, &args),
        Command::SetDigest(args) => overlay::set_digest(&args),
        Command::Deploy(args) => deploy::deploy(&ledger()?, args),
        Command::RollBack(args) => deploy::roll_back(&ledger()?, args),
        Command::WaitReady(args) => karmada::wait_ready(&args),
        Command::Observe(args) => observe::observe(&ledger()?, &args),
        Command::Failback(args) => failback::failback(&args),
        Command::PushDigest => build::push_digest_from_stdin(),
        Command::Smoke(args) => steps::smoke_check(&args),
        Command::ResumeKestra(args) => kestra::resume(&args),
        Command::Token(args) => steps::mint_token(&args),
        Command::VerifyTag(args) => signature::verify_tag(&args),
    }
}
