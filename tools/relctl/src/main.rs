//! `relctl`: one command per release step (see the crate's `cli` module for the list).
//! Prints what the step yields on stdout; on failure one line on stderr and a non-zero exit,
//! usage errors included (exit 2), so that a pipeline's log says why in one line. A person at
//! a terminal gets clap's whole usage error instead, in colour.

use clap::Parser;
use clap::error::ErrorKind;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match relctl::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if std::io::stderr().is_terminal() => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "relctl: {}",
                relctl::usage::one_line(&e.render().to_string())
            );
            return ExitCode::from(2);
        }
    };
    match relctl::run(cli) {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("relctl: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
