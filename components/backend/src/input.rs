//! Untrusted input (bodies, query strings, path segments) parsed into the ledger's validated
//! types. Every refusal names the field it is about.

use crate::http::Body;
use crate::problem::ApiError;
use ledger::Timestamp;
use ledger::analysis::Record;
use ledger::drift::MAX_SOURCE;
use ledger::model::{NewDecision, NewDeployment, NewObservation, NewRelease};
use ledger::types::{
    ArtifactRef, ClusterName, CommitSha, Decision, DeploymentStatus, Digest, Invalid, MAX_COMMENT,
    MAX_MESSAGE, MAX_NOTES, Subject, Version, WebUrl, bounded_text,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use spin_edge::decode_path_segment;
use utoipa::ToSchema;

pub(crate) fn field<T>(name: &str, parsed: Result<T, Invalid>) -> Result<T, ApiError> {
    parsed.map_err(|Invalid(reason)| ApiError::Unprocessable {
        field: name.to_owned(),
        reason,
    })
}

/// A release to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseInput {
    #[schema(example = "1.4.0", max_length = 128)]
    version: String,
    #[schema(example = "ghcr.io/acme/automatizacion:1.4.0")]
    artifact: String,
    #[schema(example = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    digest: String,
    #[schema(example = "0123456789abcdef0123456789abcdef01234567")]
    commit: String,
    /// When the commit was made (RFC 3339 with an offset, as `git show -s --format=%cI`
    /// prints): lead time for changes starts here.
    #[schema(example = "2026-12-01T09:30:00+01:00", format = DateTime)]
    commit_time: Option<String>,
    #[serde(default)]
    #[schema(max_length = 10000)]
    notes: String,
    /// The person a service account records this release for (the tag's signer); the
    /// four-eyes rule keeps them from approving it. Only tokens of an issuer configured to act
    /// for others (`acts_for_others`) may name one (403 otherwise). Stored in canonical form.
    #[schema(example = "alice")]
    on_behalf_of: Option<String>,
}

impl ReleaseInput {
    pub fn validate(self) -> Result<NewRelease, ApiError> {
        Ok(NewRelease {
            version: field("version", Version::parse(&self.version))?,
            artifact: field("artifact", ArtifactRef::parse(&self.artifact))?,
            digest: field("digest", Digest::parse(&self.digest))?,
            commit: field("commit", CommitSha::parse(&self.commit))?,
            commit_time: self
                .commit_time
                .map(|text| rfc3339("commit_time", &text))
                .transpose()?,
            notes: field("notes", bounded_text(&self.notes, MAX_NOTES))?,
            on_behalf_of: on_behalf_of(self.on_behalf_of.as_deref())?,
        })
    }
}

/// A deployment event of a release on a cluster.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentInput {
    #[schema(example = "prod-east")]
    cluster: String,
    #[schema(example = "succeeded")]
    status: DeploymentStatusWord,
    #[schema(max_length = 2000)]
    message: Option<String>,
    #[schema(example = "https://kestra.example.com/ui/executions/automatizacion/release/1")]
    execution_url: Option<String>,
    /// The analysis that ended a staged rollout's stage on the cluster: with `succeeded` or
    /// `failed` only.
    analysis: Option<Record>,
}

/// What an observer saw a cluster run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationInput {
    /// The digest the cluster's SpinApp runs.
    #[schema(example = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    digest: String,
    /// When it was seen (RFC 3339 with an offset); at most 5 minutes ahead of the ledger.
    #[schema(example = "2026-12-04T10:00:00Z", format = DateTime)]
    observed_at: String,
    /// Where it was read, e.g. `karmada:resourcebinding/automatizacion/backend-spinapp`.
    #[schema(
        example = "karmada:resourcebinding/automatizacion/backend-spinapp",
        max_length = 200
    )]
    source: String,
}

impl ObservationInput {
    pub fn validate(self) -> Result<NewObservation, ApiError> {
        Ok(NewObservation {
            digest: field("digest", Digest::parse(&self.digest))?,
            observed_at: rfc3339("observed_at", &self.observed_at)?,
            source: field("source", bounded_text(&self.source, MAX_SOURCE))?,
        })
    }
}

/// An RFC 3339 date-time with an offset, as the field NAME.
fn rfc3339(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text).ok_or_else(|| ApiError::Unprocessable {
        field: name.into(),
        reason: "expected an RFC 3339 date-time with an offset, like 2026-12-01T09:30:00+01:00"
            .into(),
    })
}

/// `started`, `succeeded`, `failed` or `rolled_back`; parsed by the ledger's own type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = DeploymentStatus)]
struct DeploymentStatusWord(String);

impl DeploymentInput {
    pub fn validate(self) -> Result<NewDeployment, ApiError> {
        Ok(NewDeployment {
            cluster: field("cluster", ClusterName::parse(&self.cluster))?,
            status: field("status", DeploymentStatus::parse(&self.status.0))?,
            message: self
                .message
                .map(|m| field("message", bounded_text(&m, MAX_MESSAGE)))
                .transpose()?,
            execution_url: self
                .execution_url
                .map(|u| field("execution_url", WebUrl::parse(&u)))
                .transpose()?,
            analysis: self
                .analysis
                .map(|a| field("analysis", a.checked().map_err(Invalid)))
                .transpose()?,
        })
    }
}

/// The decision on a pending approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    #[schema(value_type = Decision, example = "approve")]
    decision: String,
    #[schema(
        example = "Staging looks good; change ticket CHG-1234",
        max_length = 2000
    )]
    comment: String,
}

impl DecisionInput {
    pub fn validate(self) -> Result<NewDecision, ApiError> {
        let decision = field("decision", Decision::parse(&self.decision))?;
        let comment = field("comment", bounded_text(&self.comment, MAX_COMMENT))?;
        if decision == Decision::Reject && comment.trim().is_empty() {
            return Err(ApiError::Unprocessable {
                field: "comment".into(),
                reason: "a rejection needs a comment saying why".into(),
            });
        }
        Ok(NewDecision { decision, comment })
    }
}

/// An approval request: an empty body, `{}`, or the person a service account asks for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequestInput {
    /// The person a service account requests the approval for; the four-eyes rule keeps them
    /// from deciding it. Only tokens of an issuer configured to act for others
    /// (`acts_for_others`) may name one (403 otherwise). Stored in canonical form.
    #[schema(example = "alice")]
    on_behalf_of: Option<String>,
}

impl ApprovalRequestInput {
    pub fn validate(self) -> Result<Option<Subject>, ApiError> {
        on_behalf_of(self.on_behalf_of.as_deref())
    }
}

fn on_behalf_of(text: Option<&str>) -> Result<Option<Subject>, ApiError> {
    text.map(|t| field("on_behalf_of", Subject::parse(t)))
        .transpose()
}

/// Parses a JSON body: 413 past the limit, 400 if broken, 415 unless JSON, 400 if malformed,
/// 422 naming the field for unknown, missing or mistyped fields.
pub fn json_body<T: DeserializeOwned>(
    body: &Body,
    content_type: Option<&str>,
) -> Result<T, ApiError> {
    let bytes = body_bytes(body)?;
    if !is_json(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(bytes)
}

/// Like [`json_body`], but an empty body stands for `{}`.
pub fn optional_json_body<T: DeserializeOwned>(
    body: &Body,
    content_type: Option<&str>,
) -> Result<T, ApiError> {
    if body_bytes(body)?.is_empty() {
        return parse_json(b"{}");
    }
    json_body(body, content_type)
}

fn body_bytes(body: &Body) -> Result<&[u8], ApiError> {
    match body {
        Body::TooLarge => Err(ApiError::PayloadTooLarge),
        Body::Broken(why) => Err(ApiError::BadRequest(format!(
            "the request body is incomplete: {why}; nothing was recorded"
        ))),
        Body::Complete(bytes) => Ok(bytes),
        Body::Unread => Err(ApiError::Internal("the body was never read".into())),
    }
}

fn is_json(content_type: Option<&str>) -> bool {
    let Some(media_type) = content_type.and_then(|ct| ct.split(';').next()) else {
        return false;
    };
    let media_type = media_type.trim().to_ascii_lowercase();
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // A key given twice would otherwise silently take its last value.
    serde_json::from_slice::<UniqueKeys>(bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::Unprocessable {
            field: "body".into(),
            reason: "expected a JSON object".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let reason = e.inner().to_string();
        let path = e.path().to_string();
        let field = if path == "." {
            // Unknown and missing fields are reported on the object; their name is quoted.
            reason.split('`').nth(1).unwrap_or("body").to_owned()
        } else {
            path
        };
        ApiError::Unprocessable { field, reason }
    })
}

/// Any JSON value in which no object names a key twice; deserialising it checks that.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

/// A cluster's name taken from the path: one the ledger could never hold is unprocessable,
/// like a body naming it (whether it is configured is the ledger's to say).
pub fn path_cluster(segment: &str) -> Result<ClusterName, ApiError> {
    let text = decode_path_segment(segment).unwrap_or_default();
    field("name", ClusterName::parse(&text))
}

/// A version taken from the path (`+` in build metadata may arrive as `%2B`).
pub fn path_version(segment: &str) -> Result<Version, ApiError> {
    let text =
        decode_path_segment(segment).ok_or_else(|| ApiError::NotFound("no such release".into()))?;
    Version::parse(&text)
        .map_err(|_| ApiError::NotFound(format!("no release has version `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_include_structured_suffixes() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[test]
    fn json_errors_name_their_field() {
        let unknown = parse_json::<DecisionInput>(br#"{"decision":"approve","comment":"","x":1}"#);
        assert!(matches!(unknown, Err(ApiError::Unprocessable { ref field, .. }) if field == "x"));
        let missing = parse_json::<DecisionInput>(br#"{"decision":"approve"}"#);
        assert!(
            matches!(missing, Err(ApiError::Unprocessable { ref field, .. }) if field == "comment")
        );
        let mistyped = parse_json::<DecisionInput>(br#"{"decision":5,"comment":""}"#);
        assert!(
            matches!(mistyped, Err(ApiError::Unprocessable { ref field, .. }) if field == "decision")
        );
        assert!(matches!(
            parse_json::<DecisionInput>(b"{"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<DecisionInput>(b"[]"),
            Err(ApiError::Unprocessable { .. })
        ));
    }

    #[test]
    fn rejections_need_a_comment() {
        let input = DecisionInput {
            decision: "reject".into(),
            comment: " ".into(),
        };
        assert!(input.validate().is_err());
        let input = DecisionInput {
            decision: "approve".into(),
            comment: String::new(),
        };
        assert!(input.validate().is_ok());
    }
}
