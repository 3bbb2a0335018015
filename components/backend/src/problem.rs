//! The API's one error type, and the one place that maps errors to status codes and to
//! `application/problem+json` bodies (RFC 9457). Internal detail goes to the log, never to
//! the client.

use ledger::{DbError, LedgerError};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed(Vec<&'static str>),
    Conflict(String),
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable {
        field: String,
        reason: String,
    },
    /// Storage or configuration is not usable; the text is logged, not sent.
    Unavailable(String),
    /// A bug or an unexpected storage answer; the text is logged, not sent.
    Internal(String),
}

/// An RFC 9457 problem document, with the request id and, for 422, the field at fault.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    #[schema(example = "Conflict")]
    pub title: &'static str,
    #[schema(example = 409)]
    pub status: u16,
    pub detail: String,
    #[schema(example = "/api/releases/1.4.0")]
    pub instance: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::Unprocessable { .. } => 422,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
        }
    }

    fn title(&self) -> &'static str {
        match self.status() {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            409 => "Conflict",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Content",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// What the client may read.
    fn public_detail(&self) -> String {
        match self {
            ApiError::BadRequest(d)
            | ApiError::Unauthorized(d)
            | ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d) => d.clone(),
            ApiError::MethodNotAllowed(allowed) => format!("use {}", allowed.join(" or ")),
            ApiError::PayloadTooLarge => format!(
                "request bodies are limited to {} bytes",
                crate::http::MAX_BODY_BYTES
            ),
            ApiError::UnsupportedMediaType => "send the body as application/json".into(),
            ApiError::Unprocessable { field, reason } => format!("{field}: {reason}"),
            ApiError::Unavailable(_) => {
                "the ledger's storage is not available; try again shortly".into()
            }
            ApiError::Internal(_) => {
                "an internal error occurred; quote the request id when reporting it".into()
            }
        }
    }

    /// What the log may read: the internal cause of a 5xx.
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            ApiError::Unavailable(d) | ApiError::Internal(d) => Some(d),
            _ => None,
        }
    }

    pub fn to_problem(&self, instance: &str, request_id: &str) -> Problem {
        Problem {
            kind: "about:blank",
            title: self.title(),
            status: self.status(),
            detail: self.public_detail(),
            instance: instance.to_owned(),
            request_id: request_id.to_owned(),
            field: match self {
                ApiError::Unprocessable { field, .. } => Some(field.clone()),
                _ => None,
            },
        }
    }
}

/// The problems an operation can answer besides its own: each set lists every status the
/// router and the shared steps (query, token, body, storage) can return, so that the document
/// promises exactly what the server does.
macro_rules! problem_set {
    ($(#[$doc:meta])* $name:ident: $($status:literal => $description:literal),+ $(,)?) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$(($status, $description)),+]
                    .into_iter()
                    .map(|(status, description)| (status.to_owned(), problem(description)))
                    .collect()
            }
        }
    };
}

fn problem(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
        .build()
        .into()
}

problem_set!(
    /// What reading configuration can fail with.
    Unavailable:
    "503" => "Storage or configuration not usable",
);

problem_set!(
    /// A read: its query string, the token when one is sent (or `public_read` is off), storage.
    ReadProblems:
    "400" => "The query string is not valid percent-encoded UTF-8",
    "401" => "Token missing (when reads are not public), invalid, expired, or sent twice",
    "403" => "The token carries no role",
    "422" => "A query parameter this operation does not take, given twice, or out of bounds",
    "503" => "Storage or configuration not usable",
);

problem_set!(
    /// A write: its query string, its token and role, its JSON body, storage.
    WriteProblems:
    "400" => "Malformed JSON or query string, or a body that ended early or arrived too slowly",
    "401" => "Token missing, invalid, expired, or sent twice",
    "403" => "The token lacks the role this needs, the four-eyes rule forbids this actor, or `on_behalf_of` comes from an issuer that does not act for others",
    "413" => "Body over 64 KiB",
    "415" => "Body is not JSON",
    "422" => "Unknown, missing or invalid field, or a query parameter this operation does not take",
    "503" => "Storage or configuration not usable",
);

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            DbError::Query(_) | DbError::Mapping(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            LedgerError::Conflict(why) => ApiError::Conflict(why),
            LedgerError::Rejected { field, reason } => ApiError::Unprocessable {
                field: field.to_owned(),
                reason,
            },
            LedgerError::FourEyes(why) => ApiError::Forbidden(why),
            LedgerError::Storage(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_never_reaches_the_client() {
        let secret = "connection to postgres://ledger:hunter2@db failed";
        for error in [
            ApiError::Unavailable(secret.into()),
            ApiError::Internal(secret.into()),
        ] {
            let problem = serde_json::to_string(&error.to_problem("/api/x", "r1")).unwrap();
            assert!(!problem.contains("hunter2"), "{problem}");
            assert_eq!(error.log_detail(), Some(secret));
        }
    }

    #[test]
    fn storage_errors_map_to_503_or_500() {
        assert_eq!(
            ApiError::from(DbError::Unavailable("x".into())).status(),
            503
        );
        assert_eq!(ApiError::from(DbError::Query("x".into())).status(), 500);
        let four_eyes = ApiError::from(LedgerError::FourEyes("no".into()));
        assert_eq!(four_eyes.status(), 403);
    }

    #[test]
    fn unprocessable_names_the_field() {
        let e = ApiError::Unprocessable {
            field: "digest".into(),
            reason: "bad".into(),
        };
        let problem = e.to_problem("/", "r");
        assert_eq!(
            (problem.status, problem.field.as_deref()),
            (422, Some("digest"))
        );
    }
}
