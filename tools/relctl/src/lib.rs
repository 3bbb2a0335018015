//! `relctl`: every step of the release pipeline as one command, so that the Kestra flow and
//! the Rundeck jobs stay one task per step and the logic lives here, tested.
//!
//! Arguments arrive already parsed into the ledger's validated types (`cli`), so bad input
//! fails at once with a one-line reason and records nothing. Each command is one function;
//! [`run`] only dispatches.

mod analysis;
pub mod answers;
mod build;
mod cli;
mod deploy;
mod failback;
mod failure;
mod hold;
mod karmada;
mod kestra;
mod ledger_client;
mod observe;
mod overlay;
mod reads;
mod records;
mod rollout;
mod signature;
mod smoke;
mod tokens;
pub mod usage;

pub use cli::{Cli, Command};
pub use failure::Failure;

use ledger_client::LedgerClient;

/// Runs one step; `Ok` carries what it prints.
pub fn run(cli: Cli) -> Result<String, Failure> {
    let ledger = || LedgerClient::new(&cli.ledger, tokens::ledger_token()?);
    match cli.command {
        Command::RecordRelease(args) => records::record_release(&ledger()?, &args),
        Command::RecordDeployment(args) => records::record_deployment(&ledger()?, &args),
        Command::RequestApproval(args) => records::request_approval(&ledger()?, &args),
        Command::Decide(args) => records::decide(&ledger()?, &args),
        Command::ApprovalState(args) => records::approval_state(&ledger()?, &args.version),
        Command::ReleaseArtifact(args) => records::release_artifact(&ledger()?, &args.version),
        Command::StopReason(args) => records::stop_reason(&ledger()?, &args),
        Command::CurrentRelease(args) => records::current_release(&ledger()?, &args),
        Command::BuildAndPush(args) => build::build_and_push(&ledger()?, &args),
        Command::SetDigest(args) => overlay::set_digest(&args),
        Command::Deploy(args) => deploy::deploy(&ledger()?, args),
        Command::RollBack(args) => deploy::roll_back(&ledger()?, args),
        Command::WaitReady(args) => karmada::wait_ready(&args),
        Command::Observe(args) => observe::observe(&ledger()?, &args),
        Command::Failback(args) => failback::failback(&args),
        Command::PushDigest => build::push_digest_from_stdin(),
        Command::Smoke(args) => smoke::smoke_check(&args),
        Command::Analyze(args) => analysis::analyze_command(&args),
        Command::ResumeKestra(args) => kestra::resume(&args),
        Command::Token(args) => tokens::mint_token(&args),
        Command::VerifyTag(args) => signature::verify_tag(&args),
        Command::Releases(args) => reads::releases(&ledger()?, &args),
        Command::Release(args) => reads::release(&ledger()?, &args),
        Command::Clusters(args) => reads::clusters(&ledger()?, &args),
        Command::Approvals(args) => reads::approvals(&ledger()?, &args),
        Command::Completions(args) => Ok(completions(args.shell)),
        Command::Man(args) => man_pages(&args),
    }
}

/// The completion script for SHELL, generated from the same definitions that parse.
fn completions(shell: clap_complete::Shell) -> String {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "relctl", &mut script);
    String::from_utf8_lossy(&script).trim_end().to_owned()
}

/// relctl(1) on stdout; with OUT_DIR, relctl.1 and a relctl-COMMAND.1 for every subcommand
/// written there (as git and cargo ship theirs), printing each path.
fn man_pages(args: &cli::ManPages) -> Result<String, Failure> {
    use clap::CommandFactory;
    let failed = |e: std::io::Error| Failure::Invalid(format!("cannot write the man pages: {e}"));
    let command = Cli::command();
    let Some(dir) = &args.out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .map_err(failed)?;
        return Ok(String::from_utf8_lossy(&page).trim_end().to_owned());
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    clap_mangen::generate_to(command, dir).map_err(failed)?;
    let mut written: Vec<String> = std::fs::read_dir(dir)
        .map_err(failed)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("relctl") && name.ends_with(".1")
        })
        .map(|path| path.display().to_string())
        .collect();
    written.sort();
    Ok(written.join("\n"))
}
