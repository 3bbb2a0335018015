//! Validated domain values. Untrusted text is parsed into these once, at the edge; everything
//! past the edge can rely on them being well-formed.

use serde::Serialize;
use std::fmt;

/// Why a value was refused. The edge adds the name of the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn invalid<T>(reason: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(reason.into()))
}

/// Reads a value from its text through its `parse`, so that what a client of the API
/// deserialises is as validated as what the API itself took in.
macro_rules! deserialize_by_parse {
    ($name:ident) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&text).map_err(|Invalid(why)| serde::de::Error::custom(why))
            }
        }
    };
}

/// Declares a newtype over `String` that serialises and displays as its text, and
/// deserialises through its `parse`.
macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        deserialize_by_parse!($name);
    };
}

text_newtype!(
    /// A semantic version (semver.org 2.0), kept in its canonical text form. It identifies a release.
    Version
);

/// The longest version the ledger records, in characters (the console refuses longer ones too).
pub const MAX_VERSION_CHARS: usize = 128;

impl Version {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.chars().count() > MAX_VERSION_CHARS {
            return invalid(format!(
                "`{}` is longer than {MAX_VERSION_CHARS} characters",
                shorten(text)
            ));
        }
        match semver::Version::parse(text) {
            Ok(version) => Ok(Self(version.to_string())),
            Err(e) => invalid(format!(
                "`{}` is not a semantic version ({e})",
                shorten(text)
            )),
        }
    }
}

text_newtype!(
    /// An OCI artifact reference: `[registry[:port]/]repository[:tag][@digest]`.
    ArtifactRef
);

impl ArtifactRef {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let refuse = |why: &str| {
            Err(Invalid(format!(
                "`{}` is not an OCI reference: {why}",
                shorten(text)
            )))
        };
        if text.is_empty() || text.len() > 512 {
            return refuse("it must be 1 to 512 characters");
        }
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        if let Some(digest) = digest
            && Digest::parse(digest).is_err()
        {
            return refuse("the part after `@` is not a sha256 digest");
        }
        // A tag follows the last `:` that comes after the last `/` (a `:` before it is a port).
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_and_tag[..last_slash + i],
                Some(&name_and_tag[last_slash + i + 1..]),
            ),
            None => (name_and_tag, None),
        };
        if let Some(tag) = tag {
            let mut chars = tag.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !first_ok || !rest_ok || tag.len() > 128 {
                return refuse("the tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
            }
        }
        let mut components: Vec<&str> = name.split('/').collect();
        let first = components[0];
        let has_registry = components.len() > 1
            && (first.contains('.') || first.contains(':') || first == "localhost");
        if has_registry {
            if !valid_registry(first) {
                return refuse("the registry must be a host name with an optional port");
            }
            components.remove(0);
        }
        if components.is_empty() || !components.iter().all(|c| valid_path_component(c)) {
            return refuse(
                "repository path components must be lowercase letters, digits and separators",
            );
        }
        Ok(Self(text.to_owned()))
    }

    /// The digest the reference pins, if it has one.
    pub fn digest(&self) -> Option<&str> {
        self.0.split_once('@').map(|(_, digest)| digest)
    }

    /// The reference without its tag and digest: `registry:5000/acme/app:1.0@sha256:…` →
    /// `registry:5000/acme/app` (a `:` before the last `/` is a port, not a tag).
    pub fn repository(&self) -> &str {
        let name_and_tag = self.0.split('@').next().unwrap_or(&self.0);
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        match name_and_tag[last_slash..].rfind(':') {
            Some(i) => &name_and_tag[..last_slash + i],
            None => name_and_tag,
        }
    }
}

fn valid_registry(host_port: &str) -> bool {
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    port_ok && host_ok
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, the OCI distribution grammar for a path component.
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(&bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let dashes = separator.bytes().all(|b| b == b'-');
        if !(separator == "." || separator == "_" || separator == "__" || dashes) {
            return false;
        }
    }
    true
}

text_newtype!(
    /// A content digest: `sha256:` followed by 64 lowercase hex digits.
    Digest
);

impl Digest {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text.strip_prefix("sha256:") {
            Some(hex)
                if hex.len() == 64
                    && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Ok(Self(text.to_owned()))
            }
            _ => invalid(format!(
                "`{}` is not a digest: expected `sha256:` followed by 64 lowercase hex digits",
                shorten(text)
            )),
        }
    }
}

text_newtype!(
    /// A full git commit id: 40 hex digits, kept in lowercase.
    CommitSha
);

impl CommitSha {
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
    ClusterName
);

impl ClusterName {
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
    Subject
);

impl Subject {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        crate::identity::canonical_subject(text)
            .map(Self)
            .map_err(Invalid)
    }
}

text_newtype!(
    /// An `http` or `https` URL, such as a pipeline execution's page.
    WebUrl
);

impl WebUrl {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
            && text.len() <= 2048
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            invalid("expected an http:// or https:// URL of at most 2048 characters")
        }
    }
}

/// Free text with a length limit, such as release notes or a decision's comment.
pub fn bounded_text(text: &str, max_chars: usize) -> Result<String, Invalid> {
    if text.chars().count() > max_chars {
        invalid(format!("at most {max_chars} characters"))
    } else {
        Ok(text.to_owned())
    }
}

/// Declares a closed set of lowercase words, parsed from and shown as those words.
macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn parse(text: &str) -> Result<Self, Invalid> {
                match text {
                    $($word => Ok(Self::$variant),)+
                    _ => invalid(format!(
                        "`{}` is not one of: {}", shorten(text), [$($word),+].join(", ")
                    )),
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        deserialize_by_parse!($name);
    };
}

word_enum!(
    /// Where a cluster sits in the promotion path.
    Environment { Staging = "staging", Production = "production" }
);

word_enum!(
    /// What a deployment event reports.
    DeploymentStatus {
        Started = "started",
        Succeeded = "succeeded",
        Failed = "failed",
        RolledBack = "rolled_back",
    }
);

word_enum!(
    /// A production approval's state.
    ApprovalState { Pending = "pending", Approved = "approved", Rejected = "rejected" }
);

word_enum!(
    /// The decision on a pending approval.
    Decision { Approve = "approve", Reject = "reject" }
);

impl Decision {
    pub fn resulting_state(self) -> ApprovalState {
        match self {
            Self::Approve => ApprovalState::Approved,
            Self::Reject => ApprovalState::Rejected,
        }
    }
}

/// Quotes at most 80 characters of a refused value, so an error never echoes a huge input.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn versions_are_semver_and_canonical() {
        assert_eq!(Version::parse("1.2.3").unwrap().as_str(), "1.2.3");
        assert_eq!(
            Version::parse("1.0.0-rc.1+build.5").unwrap().as_str(),
            "1.0.0-rc.1+build.5"
        );
        for bad in ["", "1.2", "v1.2.3", "01.2.3", "1.2.3 ", "latest"] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let longest = format!("1.0.0-{}", "a".repeat(MAX_VERSION_CHARS - 6));
        assert!(Version::parse(&longest).is_ok());
        assert!(Version::parse(&format!("{longest}a")).is_err());
    }

    #[test]
    fn artifact_references_follow_the_oci_grammar() {
        for good in [
            "ghcr.io/acme/automatizacion:1.2.3",
            "localhost:5000/automatizacion:v1",
            "registry.example.com:5443/a/b/c",
            "acme/app",
            "app",
            "my_app__x-y--z/app.1:tag_1.0-rc",
        ] {
            assert!(
                ArtifactRef::parse(good).is_ok(),
                "{good} should be accepted"
            );
        }
        let pinned = format!("ghcr.io/acme/app@{DIGEST}");
        assert_eq!(ArtifactRef::parse(&pinned).unwrap().digest(), Some(DIGEST));
        // The repository drops tag and digest, never a registry's port.
        for (reference, repository) in [
            ("localhost:5001/acme/app:1.0", "localhost:5001/acme/app"),
            (pinned.as_str(), "ghcr.io/acme/app"),
            ("localhost:5001/app", "localhost:5001/app"),
            (
                "app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "app",
            ),
        ] {
            assert_eq!(
                ArtifactRef::parse(reference).unwrap().repository(),
                repository
            );
        }
        for bad in [
            "",
            "Ghcr.io/Acme/App",
            "ghcr.io/acme/App:1",
            "acme/app:",
            "acme/app:-tag",
            "acme//app",
            "acme/app@sha256:xyz",
            "-acme/app",
            "acme/app.",
            "reg:port/app",
            "acme/a..b",
        ] {
            assert!(
                ArtifactRef::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn digests_are_sha256_with_64_lowercase_hex() {
        assert!(Digest::parse(DIGEST).is_ok());
        assert!(Digest::parse(&DIGEST.to_uppercase()).is_err());
        assert!(Digest::parse(&DIGEST[..70]).is_err());
        assert!(Digest::parse(&DIGEST.replace("sha256", "sha512")).is_err());
        assert!(Digest::parse("sha256:").is_err());
    }

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

    #[test]
    fn closed_word_sets_parse_only_their_words() {
        assert_eq!(
            Environment::parse("production"),
            Ok(Environment::Production)
        );
        assert!(Environment::parse("Production").is_err());
        assert_eq!(
            DeploymentStatus::parse("rolled_back"),
            Ok(DeploymentStatus::RolledBack)
        );
        assert!(DeploymentStatus::parse("done").is_err());
        assert_eq!(
            Decision::parse("reject").unwrap().resulting_state(),
            ApprovalState::Rejected
        );
        assert!(ApprovalState::parse("").is_err());
    }

    #[test]
    fn bounded_text_counts_characters() {
        assert!(bounded_text("ñññ", 3).is_ok());
        assert!(bounded_text("ññññ", 3).is_err());
    }

    #[test]
    fn refusals_do_not_echo_huge_inputs() {
        let err = Version::parse(&"9".repeat(10_000)).unwrap_err();
        assert!(err.0.len() < 300, "{}", err.0);
    }
}
