//! The component's configuration, read from Spin variables on every request (Spin creates a
//! fresh instance per request, so there is nothing to cache).

use crate::auth::Verifier;
use ledger::Clusters;
use ledger::clusters::DEFAULT_CLUSTERS;
use spin_edge::{Variable, value_or_default};

/// Every variable the backend reads. `spin.toml` declares exactly these (a test checks it).
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "clusters",
        default: DEFAULT_CLUSTERS,
        secret: false,
        meaning: "Known clusters and their environments: `name=environment` pairs (`staging` or `production`), separated by commas.",
    },
    Variable {
        name: "cluster_name",
        default: "local",
        secret: false,
        meaning: "The cluster serving this instance, shown by `/api/info` (set per cluster by Karmada).",
    },
    Variable {
        name: "region",
        default: "local",
        secret: false,
        meaning: "The region serving this instance, shown by `/api/info` (set per cluster by Karmada).",
    },
    Variable {
        name: "db_url",
        default: "",
        secret: true,
        meaning: "Empty for the embedded SQLite database; a `postgres://` URL to use PostgreSQL.",
    },
    Variable {
        name: "public_read",
        default: "true",
        secret: false,
        meaning: "`true` lets anyone read; `false` makes reads need a token with any role.",
    },
    Variable {
        name: "auth_issuer",
        default: token_defaults::ISSUER,
        secret: false,
        meaning: "The `iss` claim tokens must carry.",
    },
    Variable {
        name: "auth_audience",
        default: token_defaults::AUDIENCE,
        secret: false,
        meaning: "The `aud` claim tokens must carry.",
    },
    Variable {
        name: "auth_hmac_key",
        default: "",
        secret: true,
        meaning: "The HS256 key (at least 32 bytes). Empty refuses HS256 tokens.",
    },
    Variable {
        name: "auth_public_key",
        default: "",
        secret: false,
        meaning: "Optional PEM public key (Ed25519 or RSA) to verify EdDSA or RS256 tokens.",
    },
    Variable {
        name: "read_model",
        default: "on",
        secret: false,
        meaning: "`on` serves the hot reads from the key-value store while no write has happened since (every replica must share that store: `k8s/README.md`); `off` reads the database every time.",
    },
    Variable {
        name: "auth_issuers",
        default: "",
        secret: false,
        meaning: "Other token issuers, each trusted for some roles only: a JSON list of `{\"issuer\", \"roles\", \"jwks\", \"acts_for_others\"}` (EdDSA or RS256 public keys, chosen by `kid`; `acts_for_others`, default `false`, lets its tokens name `on_behalf_of`). Empty for none.",
    },
];

/// The token CLI's defaults (`token::DEFAULT_ISSUER`, `token::DEFAULT_AUDIENCE`), repeated
/// because the component cannot depend on that crate: its getrandom 0.3 would add WASI 0.2.12
/// imports that Spin 3.6 cannot link. The API tests mint with the CLI's crate, so a drift fails.
mod token_defaults {
    pub const ISSUER: &str = "automatizacion";
    pub const AUDIENCE: &str = "automatizacion-api";
}

pub struct Settings {
    pub clusters: Clusters,
    pub cluster_name: String,
    pub region: String,
    pub db_url: Option<String>,
    pub public_read: bool,
    pub verifier: Verifier,
    /// Whether reads may be served from the read model (`read_model`).
    pub read_model: bool,
    /// What a kept answer depends on besides the data: the clusters, the database, this
    /// instance's cluster and region, and the build. Answers kept under one scope are never
    /// served under another (a rollout, another configuration sharing the store).
    pub read_scope: String,
}

impl Settings {
    /// Reads every variable, falling back to its default. The error names the variable.
    pub fn load(variable: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| value_or_default(VARIABLES, variable, name);
        let clusters =
            Clusters::parse(&get("clusters")).map_err(|e| format!("variable clusters: {e}"))?;
        let db_url = Some(get("db_url").trim().to_owned()).filter(|url| !url.is_empty());
        if let Some(url) = &db_url
            && !url.starts_with("postgres://")
            && !url.starts_with("postgresql://")
        {
            return Err("variable db_url: expected empty or a postgres:// URL".into());
        }
        let public_read = switch(&get("public_read"), "public_read", ["true", "false"])?;
        let read_model = switch(&get("read_model"), "read_model", ["on", "off"])?;
        let read_scope = fnv1a(&[
            &get("clusters"),
            db_url.as_deref().unwrap_or(""),
            &get("cluster_name"),
            &get("region"),
            crate::build_info::VERSION,
            crate::build_info::COMMIT,
        ]);
        let verifier = Verifier::new(
            &get("auth_issuer"),
            &get("auth_audience"),
            get("auth_hmac_key").trim(),
            get("auth_public_key").trim(),
        )?
        .trusting(&get("auth_issuers"))?;
        Ok(Self {
            clusters,
            cluster_name: get("cluster_name"),
            region: get("region"),
            db_url,
            public_read,
            verifier,
            read_model,
            read_scope,
        })
    }
}

/// A short fingerprint of PARTS (FNV-1a, 64 bits, in hex): names a configuration in keys
/// without spelling out what it holds.
fn fnv1a(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.join("\n").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Reads a two-valued variable: `words[0]` turns it on, `words[1]` off, anything else is refused.
fn switch(value: &str, name: &str, [on, off]: [&str; 2]) -> Result<bool, String> {
    match value.trim() {
        v if v == on => Ok(true),
        v if v == off => Ok(false),
        other => Err(format!(
            "variable {name}: expected {on} or {off}, not `{other}`"
        )),
    }
}
