//! `spinkube-standin --kubeconfigs DIR --members a,b --state DIR [--spin PATH]
//! [--insecure-registry]`: the stand-in for SpinKube, until it is stopped. Stop its process
//! group (`kill -- -PGID`) to stop its Spin processes with it; `local-dev/control-plane.sh`
//! starts it in a group of its own and does so.

use spinkube_standin::standin::{Config, StandIn};
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let config = match parse(std::env::args().skip(1).collect()) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("spinkube-standin: {why}");
            std::process::exit(2);
        }
    };
    let mut standin = StandIn::new(config);
    loop {
        standin.step();
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn parse(args: Vec<String>) -> Result<Config, String> {
    let usage = "usage: spinkube-standin --kubeconfigs DIR --members a,b --state DIR [--spin PATH] [--insecure-registry]";
    let mut config = Config {
        kubeconfigs: PathBuf::new(),
        members: Vec::new(),
        spin: PathBuf::from("spin"),
        state: PathBuf::new(),
        insecure_registry: false,
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
    if config.members.is_empty() || config.state.as_os_str().is_empty() {
        return Err(usage.into());
    }
    for member in &config.members {
        let file = config.kubeconfigs.join(member);
        if !file.is_file() {
            return Err(format!("no kubeconfig for {member} at {}", file.display()));
        }
    }
    std::fs::create_dir_all(&config.state)
        .map_err(|e| format!("{}: {e}", config.state.display()))?;
    Ok(config)
}
