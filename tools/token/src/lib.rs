//! Minting tokens for the ledger API: claims, TTL parsing, HMAC keys, and EdDSA or RS256
//! tokens from an issuer's private key (with the public half as a JWK for the ledger's
//! `auth_issuers`).

use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// The roles the API knows.
pub const ROLES: &[&str] = &["deployer", "approver", "viewer", "admin"];

/// The defaults of the `auth_issuer` and `auth_audience` Spin variables.
pub const DEFAULT_ISSUER: &str = "automatizacion";
pub const DEFAULT_AUDIENCE: &str = "automatizacion-api";

/// HMAC keys shorter than this are refused: HS256 wants at least 256 bits.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub roles: Vec<String>,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

impl Claims {
    /// Claims valid from now for `ttl_secs`.
    pub fn new(sub: &str, roles: &[String], ttl_secs: u64, iss: &str, aud: &str) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            iss: iss.into(),
            aud: aud.into(),
            sub: sub.into(),
            roles: roles.to_vec(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
        }
    }
}

/// Signs the claims with HS256.
pub fn mint_hs256(claims: &Claims, key: &[u8]) -> Result<String, String> {
    if key.len() < MIN_KEY_BYTES {
        return Err(format!(
            "the HMAC key has {} bytes; at least {MIN_KEY_BYTES} are needed",
            key.len()
        ));
    }
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .map_err(|e| format!("cannot sign the token: {e}"))
}

/// Signs the claims with KEY: a PEM private key (Ed25519 → EdDSA, RSA → RS256) whose token
/// names KID, or else an HMAC key (HS256).
pub fn mint(claims: &Claims, key: &str, kid: Option<&str>) -> Result<String, String> {
    let key = key.trim();
    if !key.starts_with("-----BEGIN") {
        return mint_hs256(claims, key.as_bytes());
    }
    let pem = key.as_bytes();
    let (algorithm, encoding) = jsonwebtoken::EncodingKey::from_ed_pem(pem)
        .map(|k| (jsonwebtoken::Algorithm::EdDSA, k))
        .or_else(|_| {
            jsonwebtoken::EncodingKey::from_rsa_pem(pem)
                .map(|k| (jsonwebtoken::Algorithm::RS256, k))
        })
        .map_err(|_| "the key is PEM but not an Ed25519 or RSA private key".to_owned())?;
    let mut header = jsonwebtoken::Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding)
        .map_err(|e| format!("cannot sign the token: {e}"))
}

/// The JWK of an Ed25519 public key in PEM (SubjectPublicKeyInfo), for an issuer's `jwks` in
/// the ledger's `auth_issuers`.
pub fn ed25519_jwk(public_pem: &str, kid: &str) -> Result<String, String> {
    use base64::Engine;
    let kid_ok = (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !kid_ok {
        return Err(format!(
            "`{kid}` is not a key id: use 1 to 64 of A-Z, a-z, 0-9, `.`, `_` and `-`"
        ));
    }
    /// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows.
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let body: String = public_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| "not a PEM public key".to_owned())?;
    let key = der
        .strip_prefix(&SPKI_PREFIX[..])
        .filter(|k| k.len() == 32)
        .ok_or_else(|| {
            "not an Ed25519 public key (make one with `openssl pkey -in KEY.pem -pubout`)"
                .to_owned()
        })?;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
    Ok(format!(
        r#"{{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"{kid}","x":"{x}"}}"#
    ))
}

/// Parses a TTL such as `90s`, `15m`, `1h` or `7d` into seconds.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let refuse = || format!("`{text}` is not a TTL: use a whole number followed by s, m, h or d");
    let unit = text.chars().last().ok_or_else(refuse)?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(refuse()),
    };
    let amount: u64 = text[..text.len() - 1].parse().map_err(|_| refuse())?;
    match amount.checked_mul(scale) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(refuse()),
    }
}

/// A new random HMAC key: 32 random bytes as 64 hex digits.
pub fn generate_key() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness available: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_take_units() {
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        for bad in [
            "",
            "h",
            "1",
            "1w",
            "-1h",
            "0s",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn short_keys_are_refused() {
        let claims = Claims::new(
            "a",
            &["viewer".into()],
            60,
            DEFAULT_ISSUER,
            DEFAULT_AUDIENCE,
        );
        assert!(mint_hs256(&claims, b"short").is_err());
        let token = mint_hs256(&claims, &[7; 32]).unwrap();
        assert_eq!(token.split('.').count(), 3);
    }

    #[test]
    fn generated_keys_are_long_and_differ() {
        let (a, b) = (generate_key().unwrap(), generate_key().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
