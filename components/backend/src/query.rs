//! Query strings, parsed once into what routes take: each parameter allowed at most once and
//! only where the route knows it, pages bounded, windows bounded.

use crate::input::field;
use crate::problem::ApiError;
use ledger::Timestamp;
use ledger::filters::{ApprovalFilter, AuditFilter, AuditTarget, ReleaseFilter, VersionPrefix};
use ledger::insights::Window;
use ledger::model::PageRequest;
use ledger::types::{ApprovalState, ClusterName, Environment, Subject};
use spin_edge::decode_query_value;

/// A `next_cursor`: the id of a page's last item, as [`Query::page`] reads it.
pub const CURSOR_PATTERN: &str = "^[1-9][0-9]{0,17}$";

/// What `GET /api/releases` takes: its filters, then its page.
pub const RELEASES_QUERY: [&str; 6] = ["version", "state", "cluster", "person", "limit", "cursor"];

/// What `GET /api/audit` takes: its filters, then its page.
pub const AUDIT_QUERY: [&str; 5] = ["action", "actor", "target", "limit", "cursor"];

/// Query parameters, each allowed at most once and only if the route knows it.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: &str, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode_query_value(name).ok_or_else(|| {
                ApiError::BadRequest("the query string is not valid percent-encoded UTF-8".into())
            })?;
            let value = decode_query_value(value).ok_or_else(|| ApiError::Unprocessable {
                field: name.clone(),
                reason: "not valid percent-encoded UTF-8".into(),
            })?;
            if !allowed.contains(&name.as_str()) {
                let reason = match allowed {
                    [] => "this route takes no query parameters".to_owned(),
                    _ => format!(
                        "unknown query parameter; this route takes {}",
                        allowed.join(", ")
                    ),
                };
                return Err(ApiError::Unprocessable {
                    field: name,
                    reason,
                });
            }
            if pairs.iter().any(|(known, _)| *known == name) {
                return Err(ApiError::Unprocessable {
                    field: name,
                    reason: "given more than once".into(),
                });
            }
            pairs.push((name, value));
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// NAME as a whole number from 1 to MAX, DEFAULT when absent.
    fn count(&self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        text.parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::Unprocessable {
                field: name.into(),
                reason: format!("expected a whole number from 1 to {max}"),
            })
    }

    /// `limit` (1 to 100, default 20) and `cursor` (from a previous page's `next_cursor`).
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.count("limit", PageRequest::DEFAULT_LIMIT, PageRequest::MAX_LIMIT)?;
        let before_id = self
            .get("cursor")
            .map(|text| {
                let digits = (1..=18).contains(&text.len())
                    && text.bytes().all(|b| b.is_ascii_digit())
                    && !text.starts_with('0');
                digits
                    .then(|| text.parse::<i64>().ok())
                    .flatten()
                    .ok_or_else(|| ApiError::Unprocessable {
                        field: "cursor".into(),
                        reason: "not a cursor this API returned".into(),
                    })
            })
            .transpose()?;
        Ok(PageRequest { limit, before_id })
    }

    /// `environment` (default production) and `days` (1 to 366, default 30), ending NOW.
    pub fn window(&self, now: Timestamp) -> Result<Window, ApiError> {
        let environment = match self.get("environment") {
            None => Environment::Production,
            Some(text) => field("environment", Environment::parse(text))?,
        };
        let days = self.count("days", Window::DEFAULT_DAYS, Window::MAX_DAYS)?;
        Ok(Window {
            environment,
            days,
            now,
        })
    }

    /// The filters of [`RELEASES_QUERY`], each validated, unset when absent.
    pub fn release_filter(&self) -> Result<ReleaseFilter, ApiError> {
        Ok(ReleaseFilter {
            version: self.parsed("version", VersionPrefix::parse)?,
            approval: self.parsed("state", ApprovalFilter::parse)?,
            cluster: self.parsed("cluster", ClusterName::parse)?,
            person: self.parsed("person", Subject::parse)?,
        })
    }

    /// The filters of [`AUDIT_QUERY`], each validated, unset when absent.
    pub fn audit_filter(&self) -> Result<AuditFilter, ApiError> {
        Ok(AuditFilter {
            action: self.parsed("action", AuditFilter::parse_action)?,
            actor: self.parsed("actor", Subject::parse)?,
            target: self.parsed("target", AuditTarget::parse)?,
        })
    }

    /// NAME through PARSE when given; an empty value is refused like any other bad one.
    fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, ledger::types::Invalid>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|text| field(name, parse(text)))
            .transpose()
    }

    pub fn approval_state(&self) -> Result<Option<ApprovalState>, ApiError> {
        self.get("state")
            .map(|s| field("state", ApprovalState::parse(s)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_refuse_unknown_and_repeated_parameters() {
        assert!(Query::parse("limit=5&cursor=9", &["limit", "cursor"]).is_ok());
        let unknown = Query::parse("stat=pending", &["state"]).err().unwrap();
        assert!(matches!(unknown, ApiError::Unprocessable { ref field, .. } if field == "stat"));
        assert!(Query::parse("limit=1&limit=2", &["limit"]).is_err());
    }

    #[test]
    fn pages_bound_the_limit_and_check_the_cursor() {
        let page = |q: &str| Query::parse(q, &["limit", "cursor"]).unwrap().page();
        assert_eq!(
            page("").unwrap(),
            PageRequest {
                limit: 20,
                before_id: None
            }
        );
        assert_eq!(
            page("limit=100&cursor=7").unwrap(),
            PageRequest {
                limit: 100,
                before_id: Some(7)
            }
        );
        for bad in ["limit=0", "limit=101", "limit=x", "cursor=-1", "cursor=abc"] {
            assert!(page(bad).is_err(), "{bad} should be refused");
        }
    }
}
