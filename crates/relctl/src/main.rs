//! `relctl`: one command per release step (see the crate's `cli` module for the list).
//! Prints what the step yields on stdout; on failure one line on stderr and a non-zero exit.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = relctl::Cli::parse();
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
