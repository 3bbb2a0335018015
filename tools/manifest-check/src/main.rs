//! `manifest-check [--crds DIR] PATH…`: renders each kustomization directory (or reads each
//! YAML file) and validates every object; prints one line per violation, exits 1 if any.

use manifest_check::{Object, Schemas, parse_yaml, render, validate};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut crds = "target/parts/crds".to_owned();
    if let Some(i) = args.iter().position(|a| a == "--crds") {
        if i + 1 >= args.len() {
            eprintln!("manifest-check: --crds needs a directory");
            return ExitCode::from(2);
        }
        crds = args.remove(i + 1);
        args.remove(i);
    }
    if args.is_empty() {
        eprintln!("usage: manifest-check [--crds DIR] KUSTOMIZATION_DIR|FILE.yaml…");
        return ExitCode::from(2);
    }
    let run = || -> anyhow::Result<usize> {
        let schemas = Schemas::load(Path::new(&crds))?;
        let mut count = 0;
        for arg in &args {
            let path = Path::new(arg);
            let objects: Vec<Object> = if path.is_dir() {
                render(path)?
            } else {
                parse_yaml(&std::fs::read_to_string(path)?, arg)?
            };
            for violation in validate(&schemas, &objects) {
                println!("{violation}");
                count += 1;
            }
            eprintln!("manifest-check: {arg}: {} objects checked", objects.len());
        }
        Ok(count)
    };
    match run() {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("manifest-check: {e:#}");
            ExitCode::from(2)
        }
    }
}
