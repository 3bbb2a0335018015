//! `spinkube-standin --kubeconfigs DIR --members a,b --state DIR [--spin PATH]
//! [--insecure-registry]`: the stand-in for SpinKube, until it is stopped. Stop its process
//! group (`kill -- -PGID`) to stop its Spin processes with it; `local-dev/playground.sh`
//! starts it in a group of its own and does so.
//!
//! `spinkube-standin ready-without-running --kubeconfigs DIR --members a,b`: the status-only
//! mode, once: every SpinApp on those members reported ready, and nothing run
//! (`scripts/with-control-plane.sh`, `make control-plane`).

use spinkube_standin::standin::{Config, StandIn};
use spinkube_standin::status;
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let status_only = args.first().is_some_and(|a| a == "ready-without-running");
    if status_only {
        args.remove(0);
    }
    let config = parse(args, !status_only).unwrap_or_else(|why| fail(2, &why));
    if status_only {
        for member in &config.members {
            status::report_without_running(&config.kubeconfigs.join(member), false)
                .unwrap_or_else(|why| fail(1, &format!("{member}: {why}")));
        }
        return;
    }
    let mut standin = StandIn::new(config);
    loop {
        standin.step();
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn fail(code: i32, why: &str) -> ! {
    eprintln!("spinkube-standin: {why}");
    std::process::exit(code)
}

/// The flags; RUNS says whether Spin processes will run (and so need a state directory).
fn parse(args: Vec<String>, runs: bool) -> Result<Config, String> {
    let usage = "usage: spinkube-standin --kubeconfigs DIR --members a,b --state DIR [--spin PATH] [--insecure-registry] | spinkube-standin ready-without-running --kubeconfigs DIR --members a,b";
    let mut config = Config {
        kubeconfigs: PathBuf::new(),
        members: Vec::new(),
        spin: PathBuf::from("spin"),
        state: PathBuf::new(),
        insecure_registry: false,
        platform_services: Default::default(),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value; {usage}"))
        };
        match flag.as_str() {
            "--kubeconfigs" => config.kubeconfigs = value()?.into(),
            "--members" => config.members = value()?.split(',').map(str::to_owned).collect(),
            "--state" => config.state = value()?.into(),
            "--spin" => config.spin = value()?.into(),
            "--insecure-registry" => config.insecure_registry = true,
            _ => return Err(format!("unknown argument {flag}; {usage}")),
        }
    }
    if config.members.is_empty() || (runs && config.state.as_os_str().is_empty()) {
        return Err(usage.into());
    }
    for member in &config.members {
        let file = config.kubeconfigs.join(member);
        if !file.is_file() {
            return Err(format!("no kubeconfig for {member} at {}", file.display()));
        }
    }
    if runs {
        std::fs::create_dir_all(&config.state)
            .map_err(|e| format!("{}: {e}", config.state.display()))?;
    }
    Ok(config)
}
