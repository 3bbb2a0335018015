//! Names from outside the ledger: git commits, clusters, people and service accounts, web pages.

use super::{FromText, Invalid, invalid, shorten};
use serde::Serialize;
use std::fmt;

text_newtype!(
    /// A full git commit id: 40 hex digits, kept in lowercase.
    CommitSha,
    example = "0123456789abcdef0123456789abcdef01234567"
);

impl CommitSha {
    pub const PATTERN: &str = "^[0-9a-fA-F]{40}$";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            invalid(format!(
                "`{}` is not a git commit: expected 40 hex digits",
                shorten(text)
            ))
        }
    }
}

text_newtype!(
    /// A cluster's name: a DNS label (RFC 1123), as Karmada names member clusters.
    ClusterName,
    example = "prod-east"
);

impl ClusterName {
    /// A DNS label (RFC 1123).
    pub const PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let bytes = text.as_bytes();
        let ok = (1..=63).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-';
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            invalid(format!(
                "`{}` is not a cluster name: expected a DNS label (1 to 63 of a-z, 0-9 and `-`, \
                 not starting or ending with `-`)",
                shorten(text)
            ))
        }
    }
}

text_newtype!(
    /// Who did something: the `sub` claim of a verified token, in its canonical form (see
    /// [`crate::identity`]), so that one person is one subject.
    Subject,
    example = "alice"
);

impl Subject {
    /// The subjects a client may count on: plain letters, digits and `._@-`, single inner
    /// spaces. The parser takes more (any subject the identity rule of [`crate::identity`] can
    /// show unambiguously), which no regular expression of JSON Schema can state.
    pub const DOCUMENTED_PATTERN: &str = r"^[A-Za-z0-9._@-]+(?: [A-Za-z0-9._@-]+)*$";
    pub const MAX_CHARS: usize = crate::identity::MAX_SUBJECT_CHARS;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        crate::identity::canonical_subject(text)
            .map(Self)
            .map_err(Invalid)
    }
}

text_newtype!(
    /// An `http` or `https` URL, such as a pipeline execution's page.
    WebUrl,
    example = "https://kestra.example.com/ui/main/executions/automatizacion/release/5Zz1"
);

impl WebUrl {
    /// An http(s) URL of RFC 3986's characters: a host name or address, an optional port, and
    /// an optional path, query and fragment.
    pub const PATTERN: &str =
        r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][A-Za-z0-9._~!$&'()*+,;=:@%/?#-]*)?$";
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .unwrap_or("");
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let port_ok = port
            .is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
        let tail_ok = tail
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@%/?#-".contains(&b));
        let ok = host_ok && port_ok && tail_ok && text.len() <= Self::MAX_CHARS;
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            invalid("expected an http:// or https:// URL of at most 2048 characters")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_40_hex_and_lowercased() {
        let sha = "0123456789ABCDEF0123456789abcdef01234567";
        assert_eq!(CommitSha::parse(sha).unwrap().as_str(), sha.to_lowercase());
        assert!(CommitSha::parse(&sha[..39]).is_err());
        assert!(CommitSha::parse("g123456789abcdef0123456789abcdef01234567").is_err());
    }

    #[test]
    fn cluster_names_are_dns_labels() {
        assert!(ClusterName::parse("prod-east").is_ok());
        assert!(ClusterName::parse(&"a".repeat(63)).is_ok());
        for bad in ["", "Prod", "-a", "a-", "a.b", "a_b", &"a".repeat(64)] {
            assert!(
                ClusterName::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn subjects_are_short_clean_and_canonical() {
        assert_eq!(
            Subject::parse("Alice@Example.com").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in ["", " alice", "al\nice", &"x".repeat(129)] {
            assert!(Subject::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn web_urls_are_http_or_https() {
        assert!(WebUrl::parse("https://kestra.example.com/executions/1").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "javascript:alert(1)",
            "https://a b",
            "https:///x",
        ] {
            assert!(WebUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
