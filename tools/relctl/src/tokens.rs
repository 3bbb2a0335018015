//! Tokens for the ledger: `relctl token` for people, and the one every step sends, taken from
//! the environment or minted there for the call.

use crate::cli;
use crate::failure::Failure;

/// `relctl token`: a ledger token for SUB with ROLES, valid for TTL, signed with the key in
/// KEY_FILE (else SPIN_VARIABLE_AUTH_HMAC_KEY).
pub fn mint_token(args: &cli::Token) -> Result<String, Failure> {
    let key = match &args.key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Failure::Invalid(format!("cannot read key file {}: {e}", path.display()))
        })?,
        None => std::env::var("SPIN_VARIABLE_AUTH_HMAC_KEY").map_err(|_| {
            Failure::Invalid(
                "no signing key: pass --key-file or set SPIN_VARIABLE_AUTH_HMAC_KEY".into(),
            )
        })?,
    };
    let (issuer, kid) = (args.iss.clone(), args.kid.as_deref());
    mint(&args.sub, &args.role, &args.ttl, &key, issuer, kid)
}

/// The token the steps send to the ledger: LEDGER_TOKEN when set; else one minted for this call
/// from LEDGER_SIGNING_KEY (a pipeline's own issuer key) for LEDGER_SUBJECT with LEDGER_ROLE
/// (default `deployer`), from issuer LEDGER_ISSUER under key id LEDGER_KEY_ID, valid 15 minutes.
/// Only the environment carries these, so no credential shows on a command line.
pub fn ledger_token() -> Result<Option<String>, Failure> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(token) = var("LEDGER_TOKEN") {
        return Ok(Some(token));
    }
    let Some(key) = var("LEDGER_SIGNING_KEY") else {
        return Ok(None);
    };
    let subject = var("LEDGER_SUBJECT").ok_or_else(|| {
        Failure::Invalid("LEDGER_SIGNING_KEY is set but LEDGER_SUBJECT is not: whom for?".into())
    })?;
    let role = var("LEDGER_ROLE").unwrap_or_else(|| "deployer".into());
    let kid = var("LEDGER_KEY_ID");
    mint(
        &subject,
        &[role],
        "15m",
        &key,
        var("LEDGER_ISSUER"),
        kid.as_deref(),
    )
    .map(Some)
}

/// A token for SUB with ROLES, valid for TTL: EdDSA or RS256 when KEY is a PEM private key (an
/// issuer of the ledger's `auth_issuers`), else HS256 with KEY as the HMAC key.
fn mint(
    sub: &str,
    roles: &[String],
    ttl: &str,
    key: &str,
    issuer: Option<String>,
    kid: Option<&str>,
) -> Result<String, Failure> {
    if sub.trim().is_empty() {
        return Err(Failure::Invalid("the token's subject is empty".into()));
    }
    for role in roles {
        if !token::ROLES.contains(&role.as_str()) {
            return Err(Failure::Invalid(format!(
                "unknown role {role:?}: use one of {}",
                token::ROLES.join(", ")
            )));
        }
    }
    let ttl = token::parse_ttl(ttl).map_err(Failure::Invalid)?;
    let issuer = issuer
        .or_else(|| std::env::var("SPIN_VARIABLE_AUTH_ISSUER").ok())
        .unwrap_or_else(|| token::DEFAULT_ISSUER.into());
    let audience = std::env::var("SPIN_VARIABLE_AUTH_AUDIENCE")
        .unwrap_or_else(|_| token::DEFAULT_AUDIENCE.into());
    let claims = token::Claims::new(sub, roles, ttl, &issuer, &audience);
    token::mint(&claims, key, kid).map_err(Failure::Invalid)
}
