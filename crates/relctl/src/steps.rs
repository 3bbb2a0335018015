//! The small steps: the pushed digest from `spin registry push`'s output, the smoke check of a
//! deployed instance, Kestra's resume call, and a person's short-lived token.

use crate::failure::Failure;
use crate::ledger_client::agent;
use ledger::types::Digest;
use std::time::{Duration, Instant};

/// The digest `spin registry push` reports ("Pushed with digest sha256:…"): the last
/// `sha256:` + 64 hex in its output.
pub fn pushed_digest(output: &str) -> Result<Digest, Failure> {
    let candidate = output
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .rfind(|word| word.starts_with("sha256:"))
        .ok_or_else(|| {
            Failure::Invalid("no digest in the output of `spin registry push`".into())
        })?;
    Ok(Digest::parse(candidate)?)
}

/// Polls URL/api/info until it names CLUSTER and VERSION, or TIMEOUT passes.
pub fn smoke(
    url: &str,
    cluster: &str,
    version: &str,
    timeout: Duration,
) -> Result<String, Failure> {
    let url = format!("{}/api/info", url.trim_end_matches('/'));
    let agent = agent(Duration::from_secs(10));
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match agent.get(&url).call() {
            Err(e) => format!("no answer ({e})"),
            Ok(mut response) if response.status() == 200 => {
                let info: serde_json::Value =
                    serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default())
                        .unwrap_or_default();
                if info["cluster_name"] == cluster && info["version"] == version {
                    return Ok(format!("{cluster} serves {version}"));
                }
                format!(
                    "it names cluster {} and version {}",
                    info["cluster_name"], info["version"]
                )
            }
            Ok(response) => format!("it answered {}", response.status()),
        };
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut(format!(
                "{url} did not show {cluster} running {version} within {}s: {seen}",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Kestra 2's `POST /api/v1/{tenant}/executions/{id}/resume`, with no resume inputs.
pub fn resume_kestra(
    base: &str,
    tenant: &str,
    execution: &str,
    token: Option<&str>,
) -> Result<String, Failure> {
    let url = format!(
        "{}/api/v1/{tenant}/executions/{execution}/resume",
        base.trim_end_matches('/')
    );
    let auth = match token.filter(|t| !t.is_empty()) {
        Some(token) => Some(format!("Bearer {token}")),
        None => match (
            std::env::var("KESTRA_USER"),
            std::env::var("KESTRA_PASSWORD"),
        ) {
            (Ok(user), Ok(password)) => {
                Some(format!("Basic {}", base64(&format!("{user}:{password}"))))
            }
            _ => None,
        },
    };
    let mut request = agent(Duration::from_secs(30))
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=relctl");
    if let Some(auth) = &auth {
        request = request.header("authorization", auth);
    }
    let mut response = request
        .send("--relctl--\r\n")
        .map_err(|e| Failure::Unreachable(format!("cannot reach Kestra at {base}: {e}")))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(format!("resumed {execution}"));
    }
    let body = response.body_mut().read_to_string().unwrap_or_default();
    let reason = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("resuming {execution} answered {status}"));
    Err(Failure::Refused { status, reason })
}

/// Standard base64 with padding, as HTTP Basic authentication wants it.
fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// An HS256 ledger token for SUB with ROLES, valid for TTL.
pub fn mint(
    sub: &str,
    roles: &[String],
    ttl: &str,
    key_file: Option<&std::path::Path>,
) -> Result<String, Failure> {
    for role in roles {
        if !token::ROLES.contains(&role.as_str()) {
            return Err(Failure::Invalid(format!(
                "unknown role {role:?}: use one of {}",
                token::ROLES.join(", ")
            )));
        }
    }
    if sub.trim().is_empty() {
        return Err(Failure::Invalid("--sub is empty".into()));
    }
    let key = match key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Failure::Invalid(format!("cannot read key file {}: {e}", path.display()))
        })?,
        None => std::env::var("SPIN_VARIABLE_AUTH_HMAC_KEY").map_err(|_| {
            Failure::Invalid(
                "no HMAC key: pass --key-file or set SPIN_VARIABLE_AUTH_HMAC_KEY".into(),
            )
        })?,
    };
    let ttl = token::parse_ttl(ttl).map_err(Failure::Invalid)?;
    let issuer =
        std::env::var("SPIN_VARIABLE_AUTH_ISSUER").unwrap_or_else(|_| token::DEFAULT_ISSUER.into());
    let audience = std::env::var("SPIN_VARIABLE_AUTH_AUDIENCE")
        .unwrap_or_else(|_| token::DEFAULT_AUDIENCE.into());
    let claims = token::Claims::new(sub, roles, ttl, &issuer, &audience);
    token::mint_hs256(&claims, key.trim().as_bytes()).map_err(Failure::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_comes_from_spins_output() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let output = format!("Pushing app to the Registry.\nPushed with digest {digest}\n");
        assert_eq!(pushed_digest(&output).unwrap().as_str(), digest);
        assert!(pushed_digest("Pushing app to the Registry.\nError: unauthorized").is_err());
        assert!(pushed_digest("Pushed with digest sha256:abc").is_err());
    }

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(base64("kestra:secret"), "a2VzdHJhOnNlY3JldA==");
        assert_eq!(base64("ab"), "YWI=");
    }
}
