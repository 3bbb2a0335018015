//! Spin's `allowed_outbound_hosts` rules: `scheme://host[:port]`, where the scheme, the host
//! (or a leading `*.` label) and the port may be `*`, and a missing port means the scheme's
//! default.

use anyhow::{Result, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: Option<String>,
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com` matches `a.example.com` but not `example.com`.
    Subdomain(String),
}

/// The port a URL means when it names none.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" | "postgresql" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        _ => None,
    }
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self> {
        let Some((scheme, rest)) = text.split_once("://") else {
            bail!("expected scheme://host[:port]");
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') || authority.is_empty() {
            bail!("expected scheme://host[:port] without a path");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let port = match port {
            Some("*") => None,
            Some(port) => Some(
                port.parse::<u16>()
                    .map_err(|_| anyhow::anyhow!("bad port `{port}`"))?,
            ),
            None if scheme == "*" => bail!("a `*` scheme needs an explicit port"),
            None => Some(
                default_port(scheme)
                    .ok_or_else(|| anyhow::anyhow!("scheme `{scheme}` needs an explicit port"))?,
            ),
        };
        let host = match host {
            "*" => HostMatch::Any,
            h if h.starts_with("*.") => HostMatch::Subdomain(h[1..].to_ascii_lowercase()),
            h if h.contains('*') => {
                bail!("`*` may only stand for the whole host or its first label")
            }
            h => HostMatch::Exact(h.to_ascii_lowercase()),
        };
        let scheme = (scheme != "*").then(|| scheme.to_ascii_lowercase());
        Ok(Self { scheme, host, port })
    }

    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.scheme.as_deref().is_none_or(|s| s == scheme)
            && self.port.is_none_or(|p| p == port)
            && match &self.host {
                HostMatch::Any => true,
                HostMatch::Exact(exact) => *exact == host,
                HostMatch::Subdomain(suffix) => {
                    host.ends_with(suffix.as_str()) && host.len() > suffix.len()
                }
            }
    }
}

/// Whether any pattern allows the URL's scheme, host and port.
pub fn is_allowed(patterns: &[HostPattern], scheme: &str, host: &str, port: Option<u16>) -> bool {
    let Some(port) = port.or_else(|| default_port(scheme)) else {
        return false;
    };
    patterns.iter().any(|p| p.allows(scheme, host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(pattern: &str, scheme: &str, host: &str, port: Option<u16>) -> bool {
        is_allowed(&[HostPattern::parse(pattern).unwrap()], scheme, host, port)
    }

    #[test]
    fn exact_hosts_use_the_default_port() {
        assert!(allowed(
            "https://api.example.com",
            "https",
            "api.example.com",
            None
        ));
        assert!(allowed(
            "https://api.example.com",
            "https",
            "API.example.com",
            Some(443)
        ));
        assert!(!allowed(
            "https://api.example.com",
            "https",
            "api.example.com",
            Some(8443)
        ));
        assert!(!allowed(
            "https://api.example.com",
            "http",
            "api.example.com",
            None
        ));
        assert!(allowed("postgres://db:5432", "postgres", "db", None));
    }

    #[test]
    fn wildcards_cover_schemes_hosts_and_ports() {
        assert!(allowed(
            "http://*.spin.internal",
            "http",
            "backend.spin.internal",
            None
        ));
        assert!(!allowed(
            "http://*.spin.internal",
            "http",
            "spin.internal",
            None
        ));
        assert!(allowed("*://localhost:*", "http", "localhost", Some(9999)));
        assert!(allowed("http://localhost:*", "http", "localhost", Some(1)));
        assert!(!allowed("http://localhost:*", "http", "otherhost", Some(1)));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "example.com",
            "https://a/b",
            "*://host",
            "https://a*b.com",
            "https://h:99999",
            "ftp://h",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
