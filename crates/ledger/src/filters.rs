//! What a list of releases or of audit events may be narrowed to, parsed once at the edge
//! (the API's query, the console's form) and turned into SQL here, with only the conditions
//! given, so each filter walks its own index (migration 7) instead of a statement that tests
//! every parameter for emptiness and can use none.

use crate::db::{Dialect, Value};
use crate::types::{ClusterName, Invalid, Subject, invalid, shorten};

/// The start of a version, `1.4` or `2.0.0-rc`: the characters a semantic version holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPrefix(String);

impl VersionPrefix {
    /// What [`VersionPrefix::parse`] takes, for the API's document.
    pub const PATTERN: &'static str = "^[0-9A-Za-z.+-]{1,64}$";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+');
        if (1..=64).contains(&text.len()) && text.chars().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            invalid(format!(
                "`{}` is not the start of a version: 1 to 64 letters, digits, `.`, `-` or `+`",
                shorten(text)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl crate::types::FromText for VersionPrefix {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        Self::parse(text)
    }
}

/// An audit target, or the start of one at a `/`: `release/1.4.0` also finds the events of
/// `release/1.4.0/cluster/prod-east`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget(String);

impl AuditTarget {
    /// What [`AuditTarget::parse`] takes, for the API's document (with `maxLength` 200).
    pub const PATTERN: &'static str = "^[0-9A-Za-z.+-]+(/[0-9A-Za-z.+-]+)*$";
    pub const MAX_CHARS: usize = 200;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '/');
        let ok = (1..=Self::MAX_CHARS).contains(&text.len())
            && text.chars().all(allowed)
            && !text.starts_with('/')
            && !text.ends_with('/')
            && !text.contains("//");
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            invalid(format!(
                "`{}` is not an audit target, like release/1.4.0 or cluster/prod-east",
                shorten(text)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A release's approval as a filter: one of its states, or none requested yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalFilter {
    None,
    In(crate::types::ApprovalState),
}

impl ApprovalFilter {
    /// What [`ApprovalFilter::parse`] takes: the API's enum, relctl's and the console's choices.
    pub const WORDS: [&'static str; 4] = ["none", "pending", "approved", "rejected"];

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "none" => Ok(Self::None),
            _ => crate::types::ApprovalState::parse(text)
                .map(Self::In)
                .or_else(|_| {
                    let words = Self::WORDS.join(", ");
                    invalid(format!("`{}` is not one of: {words}", shorten(text)))
                }),
        }
    }
}

/// Which releases a list holds: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseFilter {
    pub version: Option<VersionPrefix>,
    pub approval: Option<ApprovalFilter>,
    /// Releases with at least one deployment event on this cluster.
    pub cluster: Option<ClusterName>,
    /// Releases this person recorded, or that were recorded for them.
    pub person: Option<Subject>,
}

/// The audit actions the ledger writes.
pub const AUDIT_ACTIONS: &[&str] = &[
    "release.created",
    "deployment.recorded",
    "approval.requested",
    "approval.decided",
    "drift.started",
    "drift.ended",
];

/// Which audit events a list holds: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// One of [`AUDIT_ACTIONS`].
    pub action: Option<&'static str>,
    /// Events this person did, or that were done for them.
    pub actor: Option<Subject>,
    pub target: Option<AuditTarget>,
}

impl AuditFilter {
    pub fn parse_action(text: &str) -> Result<&'static str, Invalid> {
        AUDIT_ACTIONS
            .iter()
            .find(|a| **a == text)
            .copied()
            .ok_or_else(|| {
                Invalid(format!(
                    "`{}` is not one of: {}",
                    shorten(text),
                    AUDIT_ACTIONS.join(", ")
                ))
            })
    }
}

/// SQL conditions joined by AND, with their parameters numbered after the ones already taken.
pub(crate) struct Conditions {
    first_free: usize,
    pub sql: String,
    pub params: Vec<Value>,
}

impl Conditions {
    /// Conditions whose parameters start at `$FIRST_FREE`.
    pub fn after(first_free: usize) -> Self {
        Self {
            first_free,
            sql: String::new(),
            params: Vec::new(),
        }
    }

    /// Adds CONDITION, in which `{0}`, `{1}`, … stand for VALUES' parameters.
    fn add(&mut self, condition: &str, values: &[&str]) {
        let mut condition = condition.to_owned();
        for (i, value) in values.iter().enumerate() {
            let n = self.first_free + self.params.len();
            condition = condition.replace(&format!("{{{i}}}"), &format!("${n}"));
            self.params.push((*value).into());
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(&condition);
    }
}

/// `COLUMN` starts with `{N}`, and that parameter for PREFIX, as each dialect finds it through
/// an index: SQLite's case-sensitive GLOB, PostgreSQL's LIKE on a `text_pattern_ops` index.
/// Prefixes are validated to hold none of either's wildcards.
fn starts_with(dialect: Dialect, column: &str, n: usize, prefix: &str) -> (String, String) {
    match dialect {
        Dialect::Sqlite => (format!("{column} GLOB {{{n}}}"), format!("{prefix}*")),
        Dialect::Postgres => (format!("{column} LIKE {{{n}}}"), format!("{prefix}%")),
    }
}

impl ReleaseFilter {
    /// The conditions on releases `r`.
    pub(crate) fn conditions(&self, dialect: Dialect, first_free: usize) -> Conditions {
        let mut c = Conditions::after(first_free);
        if let Some(prefix) = &self.version {
            let (condition, pattern) = starts_with(dialect, "r.version", 0, prefix.as_str());
            c.add(&condition, &[&pattern]);
        }
        if let Some(person) = &self.person {
            c.add(
                "(r.created_by = {0} OR r.on_behalf_of = {0})",
                &[person.as_str()],
            );
        }
        if let Some(cluster) = &self.cluster {
            let deployed = "r.id IN (SELECT d.release_id FROM deployments d WHERE d.cluster = {0})";
            c.add(deployed, &[cluster.as_str()]);
        }
        match self.approval {
            None => {}
            Some(ApprovalFilter::None) => {
                let none = "NOT EXISTS (SELECT 1 FROM approvals a WHERE a.release_id = r.id)";
                c.add(none, &[]);
            }
            Some(ApprovalFilter::In(state)) => {
                let in_state = "r.id IN (SELECT a.release_id FROM approvals a WHERE a.state = {0})";
                c.add(in_state, &[state.as_str()]);
            }
        }
        c
    }
}

impl AuditFilter {
    /// The conditions on `audit_events`.
    pub(crate) fn conditions(&self, dialect: Dialect, first_free: usize) -> Conditions {
        let mut c = Conditions::after(first_free);
        if let Some(action) = self.action {
            c.add("action = {0}", &[action]);
        }
        if let Some(actor) = &self.actor {
            c.add("(actor = {0} OR on_behalf_of = {0})", &[actor.as_str()]);
        }
        if let Some(target) = &self.target {
            let below = format!("{}/", target.as_str());
            let (condition, pattern) = starts_with(dialect, "target", 1, &below);
            c.add(
                &format!("(target = {{0}} OR {condition})"),
                &[target.as_str(), &pattern],
            );
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_targets_hold_no_wildcard() {
        assert!(VersionPrefix::parse("1.4").is_ok());
        assert!(VersionPrefix::parse("2.0.0-rc.1+b").is_ok());
        for bad in ["", "1%", "1_", "1*", "1?", "1[", &"9".repeat(65)] {
            assert!(VersionPrefix::parse(bad).is_err(), "{bad}");
        }
        assert!(AuditTarget::parse("release/1.4.0/cluster/prod-east").is_ok());
        for bad in [
            "",
            "/release",
            "release/",
            "release//1",
            "release/1%",
            "cluster/a_b",
        ] {
            assert!(AuditTarget::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ApprovalFilter::parse("none"), Ok(ApprovalFilter::None));
        assert!(ApprovalFilter::parse("maybe").is_err());
        assert!(AuditFilter::parse_action("drift.started").is_ok());
        assert!(AuditFilter::parse_action("drift").is_err());
    }

    #[test]
    fn only_the_conditions_given_reach_the_sql() {
        assert_eq!(
            ReleaseFilter::default().conditions(Dialect::Sqlite, 3).sql,
            ""
        );
        let filter = AuditFilter {
            action: None,
            actor: None,
            target: Some(AuditTarget::parse("release/1.4.0").unwrap()),
        };
        let c = filter.conditions(Dialect::Postgres, 3);
        assert_eq!(c.sql, " AND (target = $3 OR target LIKE $4)");
        assert_eq!(c.params.len(), 2);
    }
}
