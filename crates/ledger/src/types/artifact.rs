//! What a release ships: an OCI artifact reference and the content digest that pins it.

use super::{FromText, Invalid, invalid, shorten};
use serde::Serialize;
use std::fmt;

text_newtype!(
    /// An OCI artifact reference: `[registry[:port]/]repository[:tag][@digest]`.
    ArtifactRef,
    example = "ghcr.io/acme/automatizacion:1.4.0"
);

impl ArtifactRef {
    /// The OCI grammar as the parser reads it: a registry (a host with a dot, `localhost`, or a
    /// host with a port) only in front of more path components, lowercase path components with
    /// single separators (the first one dotless when a path follows: a dot would make it a
    /// registry), an optional tag and an optional digest.
    pub const PATTERN: &str = concat!(
        r"^(?:(?:(?:localhost(?::[0-9]{1,5})?",
        r"|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+(?::[0-9]{1,5})?",
        r"|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?:[0-9]{1,5}",
        r"|[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*)/)",
        r"(?:[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*/)*",
        r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*",
        r"|[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)",
        r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
    );
    pub const MAX_CHARS: usize = 512;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let refuse = |why: &str| {
            Err(Invalid(format!(
                "`{}` is not an OCI reference: {why}",
                shorten(text)
            )))
        };
        if text.is_empty() || text.len() > Self::MAX_CHARS {
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
    Digest,
    example = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
);

impl Digest {
    pub const PATTERN: &str = "^sha256:[0-9a-f]{64}$";

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

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

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
        // A few refusals with their reasons; the API's tests/api/rules.rs holds the full table
        // and checks it against the served document too.
        for (bad, why) in [
            (
                "Ghcr.io/Acme/App",
                "repository path components must be lowercase",
            ),
            ("acme/app:-tag", "the tag must match"),
            ("acme/app@sha256:xyz", "not a sha256 digest"),
            ("reg:port/app", "the registry must be a host name"),
        ] {
            let Invalid(reason) = ArtifactRef::parse(bad).unwrap_err();
            assert!(reason.contains(why), "{bad:?}: {reason}");
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
}
