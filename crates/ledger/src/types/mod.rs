//! Validated domain values. Untrusted text is parsed into these once, at the edge; everything
//! past the edge can rely on them being well-formed.

use std::fmt;

/// Why a value was refused. The edge adds the name of the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn invalid<T>(reason: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(reason.into()))
}

/// A value read back from its text (a stored row, an API answer): the same `parse` that let it
/// in, so nothing read is less validated than what was written.
pub trait FromText: Sized {
    fn from_text(text: &str) -> Result<Self, Invalid>;
}

/// Reads a value from its text through its `parse`, so that what a client of the API
/// deserialises is as validated as what the API itself took in.
macro_rules! deserialize_by_parse {
    ($name:ident) => {
        impl FromText for $name {
            fn from_text(text: &str) -> Result<Self, Invalid> {
                Self::parse(text)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&text).map_err(|Invalid(why)| serde::de::Error::custom(why))
            }
        }
    };
}

/// Declares a newtype over `String` that serialises and displays as its text, and
/// deserialises through its `parse`. Its example is in the OpenAPI document, where clients
/// (and the test that holds the console and relctl to the document) take it as a valid value.
macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, example = $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", schema(value_type = String, examples($example)))]
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

        /// Read as its text wherever text is wanted.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        /// A value equals the text it holds, so a record can be compared with what was sent.
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        deserialize_by_parse!($name);
    };
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

/// Quotes at most 80 characters of a refused value, so an error never echoes a huge input.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

mod artifact;
mod names;
mod text;
mod version;
mod words;

pub use artifact::{ArtifactRef, Digest};
pub use names::{ClusterName, CommitSha, Subject, WebUrl};
pub use text::{MAX_COMMENT, MAX_MESSAGE, MAX_NOTES, TEXT_PATTERN, bounded_text};
pub use version::{MAX_VERSION_CHARS, Version};
pub use words::{ApprovalState, Decision, DeploymentStatus, Environment};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_do_not_echo_huge_inputs() {
        let err = Version::parse(&"9".repeat(10_000)).unwrap_err();
        assert!(err.0.len() < 300, "{}", err.0);
    }
}
