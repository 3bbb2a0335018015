//! `token`: mints a bearer token for the ledger API.
//!
//! ```text
//! token --sub kestra --role deployer --ttl 1h
//! token --sub alice --role approver --iss rundeck --key-file rundeck.pem --kid rundeck-2026
//! token keygen
//! token jwk --public-key rundeck.pub.pem --kid rundeck-2026
//! ```
//!
//! The key comes from `--key-file` (an HMAC key, or a PEM private key that signs EdDSA or
//! RS256), else `SPIN_VARIABLE_AUTH_HMAC_KEY`, else `.spin/auth_hmac_key` (which `make run`
//! creates).

use std::process::ExitCode;
use token::{Claims, DEFAULT_AUDIENCE, DEFAULT_ISSUER, ROLES};

const USAGE: &str = "usage: token --sub SUBJECT --role ROLE [--role ROLE …] [--ttl 1h] \
[--iss ISSUER] [--aud AUDIENCE] [--key-file PATH] [--kid KEY_ID]\n       token keygen\n       \
token jwk --public-key PATH --kid KEY_ID";

const DEFAULT_KEY_FILE: &str = ".spin/auth_hmac_key";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("token: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<String, String> {
    match args.first().map(String::as_str) {
        Some("keygen") => return token::generate_key(),
        Some("jwk") => return jwk(&args[1..]),
        _ => {}
    }
    let mut sub = None;
    let mut roles = Vec::new();
    let mut ttl = "1h".to_owned();
    let mut iss =
        std::env::var("SPIN_VARIABLE_AUTH_ISSUER").unwrap_or_else(|_| DEFAULT_ISSUER.into());
    let mut aud =
        std::env::var("SPIN_VARIABLE_AUTH_AUDIENCE").unwrap_or_else(|_| DEFAULT_AUDIENCE.into());
    let mut key_file = None;
    let mut kid = None;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--sub" => sub = Some(value),
            "--role" => {
                if !ROLES.contains(&value.as_str()) {
                    return Err(format!(
                        "unknown role `{value}`: use one of {}",
                        ROLES.join(", ")
                    ));
                }
                roles.push(value);
            }
            "--ttl" => ttl = value,
            "--iss" => iss = value,
            "--aud" => aud = value,
            "--key-file" => key_file = Some(value),
            "--kid" => kid = Some(value),
            _ => return Err(format!("unknown flag `{flag}`\n{USAGE}")),
        }
    }
    let sub = sub
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("--sub is required\n{USAGE}"))?;
    if roles.is_empty() {
        return Err(format!("at least one --role is required\n{USAGE}"));
    }
    let key = load_key(key_file.as_deref())?;
    let claims = Claims::new(&sub, &roles, token::parse_ttl(&ttl)?, &iss, &aud);
    token::mint(&claims, &key, kid.as_deref())
}

/// `token jwk --public-key PATH --kid KEY_ID`: the JWK to list in the ledger's `auth_issuers`.
fn jwk(args: &[String]) -> Result<String, String> {
    let (mut path, mut kid) = (None, None);
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--public-key", Some(value)) => path = Some(value),
            ("--kid", Some(value)) => kid = Some(value),
            (flag, _) => return Err(format!("unexpected `{flag}`\n{USAGE}")),
        }
    }
    let (Some(path), Some(kid)) = (path, kid) else {
        return Err(format!("jwk needs --public-key and --kid\n{USAGE}"));
    };
    let pem =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read public key {path}: {e}"))?;
    token::ed25519_jwk(&pem, kid)
}

fn load_key(key_file: Option<&str>) -> Result<String, String> {
    if let Some(path) = key_file {
        return std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read key file {path}: {e}"));
    }
    if let Ok(key) = std::env::var("SPIN_VARIABLE_AUTH_HMAC_KEY") {
        return Ok(key);
    }
    std::fs::read_to_string(DEFAULT_KEY_FILE).map_err(|_| {
        format!("no HMAC key: pass --key-file, set SPIN_VARIABLE_AUTH_HMAC_KEY, or run `make run` once to create {DEFAULT_KEY_FILE}")
    })
}
