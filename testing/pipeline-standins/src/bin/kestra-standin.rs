//! `kestra-standin`: a stand-in for a Kestra 2.0 OSS server that keeps running (the playground's;
//! `testing/pipeline-standins`). Secrets come as Kestra OSS reads them, from `SECRET_<NAME>`
//! environment variables holding base64; flows are saved through the API, as kestra/README.md
//! says.
//!
//!   kestra-standin --listen 127.0.0.1:8080 --user bot@example.com --password Passw0rdX \
//!     --tools-path PATH --workdirs DIR [--cargo-cache TASK=TARGET_DIR]
//!
//! `--tools-path` is the PATH script tasks see: where the builder image's tools (relctl, Spin,
//! kubectl, git, cargo) are here. `--cargo-cache` links a checkout's release builds into the
//! working directory before TASK, as the builder image's Cargo cache would hold them.

use pipeline_standins::kestra::run::Kestra;
use pipeline_standins::kestra::server::{CargoCache, check_account, serve};
use std::collections::BTreeMap;
use std::path::PathBuf;

const USAGE: &str = "usage: kestra-standin --listen ADDR --user EMAIL --password PASSWORD \
                     --tools-path PATH --workdirs DIR [--cargo-cache TASK=TARGET_DIR]";

fn main() {
    if let Err(why) = run() {
        eprintln!("kestra-standin: {why}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut flags = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let name = flag
            .strip_prefix("--")
            .filter(|n| {
                [
                    "listen",
                    "user",
                    "password",
                    "tools-path",
                    "workdirs",
                    "cargo-cache",
                ]
                .contains(n)
            })
            .ok_or_else(|| format!("unknown argument {flag}; {USAGE}"))?;
        let value = args
            .next()
            .ok_or_else(|| format!("--{name} needs a value"))?;
        flags.insert(name.to_owned(), value);
    }
    let flag = |name: &str| {
        flags
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required; {USAGE}"))
    };
    let (user, password) = (flag("user")?, flag("password")?);
    check_account(&user, &password)?;
    let cargo_cache = match flags.get("cargo-cache") {
        None => None,
        Some(value) => {
            let (task, target) = value
                .split_once('=')
                .ok_or("--cargo-cache takes TASK=TARGET_DIR")?;
            Some(CargoCache {
                task: task.to_owned(),
                target: PathBuf::from(target),
            })
        }
    };
    let secrets = secrets_from_env()?;
    let secrets: Vec<(&str, String)> = secrets
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    let kestra = Kestra::new(
        &secrets,
        flag("tools-path")?,
        PathBuf::from(flag("workdirs")?),
    );
    let listen = flag("listen")?;
    let listener = std::net::TcpListener::bind(&listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    serve(kestra, listener, (&user, &password), cargo_cache);
    Ok(())
}

/// Kestra OSS's secrets: `SECRET_<NAME>` variables, base64-encoded; one that does not decode
/// stops the server, as Kestra fails at start-up.
fn secrets_from_env() -> Result<Vec<(String, String)>, String> {
    use base64::Engine;
    let mut secrets = Vec::new();
    for (name, value) in std::env::vars() {
        let Some(secret) = name.strip_prefix("SECRET_") else {
            continue;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|e| format!("{name} is not base64: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8 text"))?;
        secrets.push((secret.to_owned(), text));
    }
    Ok(secrets)
}
