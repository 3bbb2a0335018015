//! `spinkube-standin ready-without-running --kubeconfigs DIR --members a,b`: the status-only
//! mode, once: every SpinApp on those members reported ready, and nothing run
//! (`scripts/with-control-plane.sh`, `make control-plane`).

use spinkube_standin::status;
use std::path::PathBuf;

const USAGE: &str = "usage: spinkube-standin ready-without-running --kubeconfigs DIR --members a,b";

fn main() {
    let (kubeconfigs, members) = parse(std::env::args().skip(1)).unwrap_or_else(|why| {
        eprintln!("spinkube-standin: {why}");
        std::process::exit(2)
    });
    for member in &members {
        if let Err(why) = status::report_without_running(&kubeconfigs.join(member), false) {
            eprintln!("spinkube-standin: {member}: {why}");
            std::process::exit(1);
        }
    }
}

/// The kubeconfigs' folder and the members, each of which has one there.
fn parse(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, Vec<String>), String> {
    if args.next().as_deref() != Some("ready-without-running") {
        return Err(USAGE.into());
    }
    let (mut kubeconfigs, mut members) = (PathBuf::new(), Vec::new());
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--kubeconfigs" => kubeconfigs = value.into(),
            "--members" => members = value.split(',').map(str::to_owned).collect(),
            _ => return Err(format!("unknown argument {flag}; {USAGE}")),
        }
    }
    if members.is_empty() || kubeconfigs.as_os_str().is_empty() {
        return Err(USAGE.into());
    }
    for member in &members {
        let file = kubeconfigs.join(member);
        if !file.is_file() {
            return Err(format!("no kubeconfig for {member} at {}", file.display()));
        }
    }
    Ok((kubeconfigs, members))
}
