//! Release versions: semantic versions in their canonical text.

use super::{FromText, Invalid, invalid, shorten};
use serde::Serialize;
use std::fmt;

text_newtype!(
    /// A semantic version (semver.org 2.0), kept in its canonical text form: a release's name.
    Version,
    example = "1.4.0"
);

/// The longest version the ledger records, in characters (the console refuses longer ones too).
pub const MAX_VERSION_CHARS: usize = Version::MAX_CHARS;

impl Version {
    /// semver.org's own expression, with numbers of at most 19 digits (they fit the 64 bits the
    /// `semver` crate keeps them in). The OpenAPI document states this very pattern, and a
    /// test holds the parser to it.
    pub const PATTERN: &str = r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$";
    pub const MAX_CHARS: usize = 128;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.chars().count() > Self::MAX_CHARS {
            return invalid(format!(
                "`{}` is longer than {} characters",
                shorten(text),
                Self::MAX_CHARS
            ));
        }
        // Numbers fit 64 bits with 19 digits to spare for every one: the pattern's bound.
        let (core, _build) = text.split_once('+').unwrap_or((text, ""));
        let too_long = core
            .split(['.', '-'])
            .any(|part| part.len() > 19 && part.bytes().all(|b| b.is_ascii_digit()));
        if too_long {
            return invalid(format!(
                "`{}` has a number longer than 19 digits",
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
