//! `relctl`: one command per release step (see the crate's `cli` module for the list).
//! Prints what the step yields on stdout; on failure one line on stderr and a non-zero exit,
//! usage errors included (exit 2), so that a pipeline's log says why in one line.

use clap::Parser;
use clap::error::ErrorKind;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match relctl::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("relctl: {}", first.trim_start_matches("error: "));
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
