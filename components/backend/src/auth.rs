//! Bearer-token authentication and role checks.
//!
//! The token's algorithm picks the key, and each key serves exactly one algorithm: HS256 only
//! with the HMAC secret, EdDSA or RS256 only with the configured public key. A public key can
//! therefore never be misused as an HMAC secret (algorithm confusion), and `alg: none` names
//! no key at all.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ledger::types::Subject;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Records releases, deployments and approval requests.
    Deployer,
    /// Decides approvals.
    Approver,
    /// Reads, where reads need a token.
    Viewer,
    /// Everything.
    Admin,
}

impl Role {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "deployer" => Some(Role::Deployer),
            "approver" => Some(Role::Approver),
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Deployer => "deployer",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    roles: Vec<Role>,
    /// The issuer that vouched for the caller.
    pub issuer: String,
    /// Whether that issuer may record for someone else (`on_behalf_of`).
    pub acts_for_others: bool,
}

impl Principal {
    /// Admin holds every role.
    pub fn has(&self, role: Role) -> bool {
        self.roles.iter().any(|r| *r == role || *r == Role::Admin)
    }

    /// Any role lets its holder read.
    pub fn may_read(&self) -> bool {
        !self.roles.is_empty()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// Checks tokens. The local issuer (`auth_issuer`) signs with the HMAC key or the one public
/// key and may grant every role; each issuer of `auth_issuers` signs with its own keys (a JWKS,
/// so keys rotate by `kid`) and may grant only the roles it is trusted with. A leaked Rundeck
/// key can then mint approvers, never deployers.
pub struct Verifier {
    audience: String,
    local: Issuer,
    trusted: Vec<Issuer>,
}

struct Issuer {
    name: String,
    keys: Vec<IssuerKey>,
    /// `None`: every role.
    grants: Option<Vec<Role>>,
    /// Whether its tokens may name `on_behalf_of`: only an issuer that verifies who the
    /// person is (the pipeline, from a signed tag), never the local key anyone with it signs.
    acts_for_others: bool,
}

struct IssuerKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// One entry of the `auth_issuers` variable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerConfig {
    issuer: String,
    roles: Vec<String>,
    jwks: jsonwebtoken::jwk::JwkSet,
    /// This issuer's tokens may record for someone else (`on_behalf_of`).
    #[serde(default)]
    acts_for_others: bool,
}

/// Tokens are accepted this many seconds past `exp` or before `nbf`, for clock skew.
const LEEWAY_SECS: u64 = 30;
const MIN_HMAC_KEY_BYTES: usize = 32;

impl Verifier {
    pub fn new(
        issuer: &str,
        audience: &str,
        hmac_key: &str,
        public_key_pem: &str,
    ) -> Result<Self, String> {
        let mut keys = Vec::new();
        match hmac_key.len() {
            0 => {}
            n if n < MIN_HMAC_KEY_BYTES => {
                return Err(format!(
                    "variable auth_hmac_key: {n} bytes is too short, use at least {MIN_HMAC_KEY_BYTES}"
                ));
            }
            _ => keys.push(IssuerKey {
                kid: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(hmac_key.as_bytes()),
            }),
        }
        if !public_key_pem.is_empty() {
            let pem = public_key_pem.as_bytes();
            let (algorithm, key) = DecodingKey::from_ed_pem(pem)
                .map(|key| (Algorithm::EdDSA, key))
                .or_else(|_| DecodingKey::from_rsa_pem(pem).map(|key| (Algorithm::RS256, key)))
                .map_err(|_| {
                    "variable auth_public_key: not an Ed25519 or RSA public key in PEM".to_owned()
                })?;
            keys.push(IssuerKey {
                kid: None,
                algorithm,
                key,
            });
        }
        Ok(Self {
            audience: audience.to_owned(),
            local: Issuer {
                name: issuer.to_owned(),
                keys,
                grants: None,
                acts_for_others: false,
            },
            trusted: Vec::new(),
        })
    }

    /// Adds the issuers of the `auth_issuers` variable: a JSON list of
    /// `{"issuer", "roles", "jwks", "acts_for_others"?}`, empty for none.
    pub fn trusting(mut self, issuers_json: &str) -> Result<Self, String> {
        if issuers_json.trim().is_empty() {
            return Ok(self);
        }
        let refuse = |why: String| format!("variable auth_issuers: {why}");
        let configs: Vec<IssuerConfig> =
            serde_json::from_str(issuers_json).map_err(|e| refuse(e.to_string()))?;
        for config in configs {
            let named = |n: &Issuer| n.name == config.issuer;
            if named(&self.local) || self.trusted.iter().any(named) {
                return Err(refuse(format!("issuer `{}` is named twice", config.issuer)));
            }
            let grants = config
                .roles
                .iter()
                .map(|r| Role::parse(r).ok_or_else(|| refuse(format!("unknown role `{r}`"))))
                .collect::<Result<Vec<_>, _>>()?;
            let mut keys = Vec::new();
            for jwk in &config.jwks.keys {
                let algorithm = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    _ => {
                        return Err(refuse(format!(
                            "issuer `{}`: only Ed25519 (OKP) and RSA keys are accepted",
                            config.issuer
                        )));
                    }
                };
                let key = DecodingKey::from_jwk(jwk)
                    .map_err(|e| refuse(format!("issuer `{}`: {e}", config.issuer)))?;
                keys.push(IssuerKey {
                    kid: jwk.common.key_id.clone(),
                    algorithm,
                    key,
                });
            }
            if keys.is_empty() {
                return Err(refuse(format!("issuer `{}` has no keys", config.issuer)));
            }
            self.trusted.push(Issuer {
                name: config.issuer,
                keys,
                grants: Some(grants),
                acts_for_others: config.acts_for_others,
            });
        }
        Ok(self)
    }

    /// Verifies a bearer token: its issuer, that issuer's key for its algorithm (and `kid`),
    /// the signature, `exp`, `nbf`, `aud` and `sub`; then keeps only the roles the issuer may
    /// grant.
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
        refuse_critical_extensions(token)?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| "the token is malformed or names an unsupported algorithm".to_owned())?;
        let named = unverified_issuer(token)?;
        let issuer = std::iter::once(&self.local)
            .chain(&self.trusted)
            .find(|i| i.name == named)
            .ok_or_else(|| "the token's issuer is not accepted".to_owned())?;
        let key = issuer
            .key_for(header.alg, header.kid.as_deref())
            .ok_or_else(|| format!("tokens signed with {:?} are not accepted here", header.alg))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer.name]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| describe(e.kind()))?
            .claims;
        let subject =
            Subject::parse(&claims.sub).map_err(|e| format!("the token's subject: {e}"))?;
        let roles = claims
            .roles
            .iter()
            .filter_map(|r| Role::parse(r))
            .filter(|r| issuer.grants.as_ref().is_none_or(|g| g.contains(r)))
            .collect();
        Ok(Principal {
            subject,
            roles,
            issuer: issuer.name.clone(),
            acts_for_others: issuer.acts_for_others,
        })
    }
}

impl Issuer {
    /// The key for ALG: with a `kid`, the key of that id; without one, the issuer's only key
    /// for the algorithm. Each key serves exactly one algorithm, so a public key is never
    /// taken for an HMAC secret.
    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Option<&DecodingKey> {
        let mut candidates = self.keys.iter().filter(|k| k.algorithm == alg);
        let key = match kid {
            Some(kid) if self.keys.iter().any(|k| k.kid.is_some()) => {
                candidates.find(|k| k.kid.as_deref() == Some(kid))
            }
            _ => {
                let first = candidates.next();
                candidates.next().is_none().then_some(first).flatten()
            }
        };
        key.map(|k| &k.key)
    }
}

/// The `iss` claim, read before the signature is checked only to pick the keys that check it.
fn unverified_issuer(token: &str) -> Result<String, String> {
    use base64::Engine;
    let malformed = || "the token is malformed".to_owned();
    let payload = token.split('.').nth(1).ok_or_else(malformed)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| malformed())?;
    let claims: serde_json::Value = serde_json::from_slice(&json).map_err(|_| malformed())?;
    claims["iss"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the token lacks the `iss` claim".to_owned())
}

/// RFC 7515 §4.1.11: a `crit` header names extensions the verifier must understand, and this
/// one understands none, so such a token is refused rather than half-checked.
fn refuse_critical_extensions(token: &str) -> Result<(), String> {
    use base64::Engine;
    let malformed = || "the token is malformed".to_owned();
    let encoded = token.split('.').next().ok_or_else(malformed)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| malformed())?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&json).map_err(|_| malformed())?;
    if header.contains_key("crit") {
        return Err(
            "the token names critical header extensions (crit), which are not supported".into(),
        );
    }
    Ok(())
}

/// What went wrong, in words safe to show the caller.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "the token's signature is not valid".into(),
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted".into(),
        ErrorKind::InvalidAudience => "the token's audience is not accepted".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the `{claim}` claim"),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key".into(),
        _ => "the token is malformed".into(),
    }
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_need_the_scheme() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(None), None);
    }

    #[test]
    fn short_hmac_keys_and_bad_pems_are_configuration_errors() {
        assert!(Verifier::new("i", "a", "short", "").is_err());
        assert!(
            Verifier::new(
                "i",
                "a",
                "",
                "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"
            )
            .is_err()
        );
        assert!(Verifier::new("i", "a", &"k".repeat(32), "").is_ok());
    }

    #[test]
    fn admin_holds_every_role() {
        let principal = |sub: &str, roles: Vec<Role>| Principal {
            subject: Subject::parse(sub).unwrap(),
            roles,
            issuer: "automatizacion".into(),
            acts_for_others: false,
        };
        let admin = principal("root", vec![Role::Admin]);
        assert!(admin.has(Role::Approver) && admin.has(Role::Deployer) && admin.may_read());
        let viewer = principal("v", vec![Role::Viewer]);
        assert!(!viewer.has(Role::Deployer) && viewer.may_read());
        let nobody = principal("n", vec![]);
        assert!(!nobody.may_read());
    }
}
