//! `relctl releases`, `release`, `clusters` and `approvals`: the ledger's reads from a shell,
//! without `curl` and `jq`. People get aligned columns; scripts ask for `--output json` and get
//! the ledger's own JSON (a list as one array, however many pages it took), so nothing a
//! script reads is reshaped here.
//!
//! The tables read the answers into relctl's records (`answers`), so an answer that is not
//! what the API documents fails with one line instead of printing a half-empty table.

use crate::answers::{Approval, Cluster, Release, ReleaseDetail};
use crate::cli::{Format, ListApprovals, ListReleases, Listing, ShowRelease, Shown};
use crate::failure::Failure;
use crate::ledger_client::LedgerClient;
use ledger::types::Digest;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The most a page of the ledger holds (`limit` 1 to 100).
const PAGE: u32 = 100;

pub fn releases(ledger: &LedgerClient, args: &ListReleases) -> Result<String, Failure> {
    let filters = [
        ("version", args.version_prefix.as_ref().map(|p| p.as_str())),
        ("state", args.state.as_deref()),
        ("cluster", args.cluster.as_deref()),
        ("person", args.person.as_deref()),
    ];
    let query: String = filters
        .iter()
        .filter_map(|(name, value)| Some(format!("{name}={}&", encode(value.as_ref()?))))
        .collect();
    let items = pages(ledger, &format!("/api/releases?{query}"), &args.listing)?;
    shown(args.listing.shown.output, Value::Array(items), |items| {
        let rows = read::<Vec<Release>>(items)?.into_iter().map(|r| {
            vec![
                r.version.to_string(),
                r.created_at,
                r.on_behalf_of.unwrap_or(r.created_by).to_string(),
                short_digest(&r.digest),
                r.commit.as_str()[..12].to_owned(),
                r.notes.lines().next().unwrap_or("").to_owned(),
            ]
        });
        let header = ["VERSION", "RECORDED", "FOR", "DIGEST", "COMMIT", "NOTES"];
        Ok(table(&header, rows.collect()))
    })
}

pub fn release(ledger: &LedgerClient, args: &ShowRelease) -> Result<String, Failure> {
    let path = format!("/api/releases/{}", args.version);
    shown(args.shown.output, ledger.get(&path)?, |detail| {
        let detail: ReleaseDetail = read(detail)?;
        let r = detail.release;
        let mut fields = vec![
            ("version", r.version.to_string()),
            ("artifact", r.artifact.to_string()),
            ("digest", r.digest.to_string()),
            ("commit", r.commit.to_string()),
        ];
        if let Some(time) = r.commit_time {
            fields.push(("committed", time));
        }
        let recorded = match r.on_behalf_of {
            Some(person) => format!("{} by {} for {person}", r.created_at, r.created_by),
            None => format!("{} by {}", r.created_at, r.created_by),
        };
        fields.push(("recorded", recorded));
        fields.push(("approval", detail.approval.map_or("none".into(), describe)));
        fields.push(("notes", r.notes));
        let mut out = fields
            .iter()
            .map(|(name, value)| {
                let indent = format!("\n{:11}", "");
                format!("{name:<11}{}", value.trim_end().replace('\n', &indent))
            })
            .collect::<Vec<_>>()
            .join("\n");
        out.push_str("\n\n");
        if detail.deployments.is_empty() {
            out.push_str("No deployment recorded yet.");
        } else {
            let rows = detail.deployments.into_iter().map(|d| {
                vec![
                    d.recorded_at,
                    d.cluster.to_string(),
                    d.environment.to_string(),
                    d.status.to_string(),
                    d.recorded_by.to_string(),
                    d.message.unwrap_or_default(),
                ]
            });
            let header = ["AT", "CLUSTER", "ENVIRONMENT", "STATUS", "BY", "MESSAGE"];
            out.push_str(&table(&header, rows.collect()));
        }
        Ok(out)
    })
}

pub fn clusters(ledger: &LedgerClient, args: &Shown) -> Result<String, Failure> {
    shown(args.output, ledger.get("/api/clusters")?, |clusters| {
        let rows = read::<Vec<Cluster>>(clusters)?.into_iter().map(|c| {
            let (current, since) = c.current.map_or(("-".into(), "-".into()), |r| {
                (r.version.to_string(), r.succeeded_at)
            });
            let last = c.last_event.map_or("-".into(), |e| {
                format!("{} {} at {}", e.version, e.status, e.at)
            });
            let state = match (c.drift, c.rolling_out) {
                (Some(drift), _) => format!("drift: {}", drift.summary),
                (None, Some(version)) => format!("rolling out {version}"),
                (None, None) => "-".into(),
            };
            vec![
                c.name.to_string(),
                c.environment.to_string(),
                current,
                since,
                last,
                state,
            ]
        });
        let header = [
            "CLUSTER",
            "ENVIRONMENT",
            "RUNS",
            "SINCE",
            "LAST EVENT",
            "NOTICE",
        ];
        Ok(table(&header, rows.collect()))
    })
}

pub fn approvals(ledger: &LedgerClient, args: &ListApprovals) -> Result<String, Failure> {
    let filter = args
        .state
        .map_or(String::new(), |s| format!("state={}&", s.as_str()));
    let items = pages(ledger, &format!("/api/approvals?{filter}"), &args.listing)?;
    shown(args.listing.shown.output, Value::Array(items), |items| {
        let rows = read::<Vec<Approval>>(items)?.into_iter().map(|a| {
            vec![
                a.version.to_string(),
                a.state.to_string(),
                a.on_behalf_of.unwrap_or(a.requested_by).to_string(),
                a.requested_at,
                a.decided_by.map_or("-".into(), |s| s.to_string()),
                a.decided_at.unwrap_or_else(|| "-".into()),
                a.comment.unwrap_or_default(),
            ]
        });
        let header = [
            "VERSION",
            "STATE",
            "FOR",
            "REQUESTED",
            "DECIDED BY",
            "DECIDED",
            "COMMENT",
        ];
        Ok(table(&header, rows.collect()))
    })
}

/// The items of a paged list, newest first: pages of up to 100 until LISTING has enough.
/// PATH ends with `?` or `&`, ready for `limit` and `cursor`.
fn pages(ledger: &LedgerClient, path: &str, listing: &Listing) -> Result<Vec<Value>, Failure> {
    let wanted = if listing.all { u32::MAX } else { listing.limit };
    let mut items: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let left = wanted.saturating_sub(items.len() as u32);
        let mut page_path = format!("{path}limit={}", left.min(PAGE));
        if let Some(cursor) = &cursor {
            page_path.push_str(&format!("&cursor={}", encode(cursor)));
        }
        let mut page = ledger.get(&page_path)?;
        let Some(page_items) = page["items"].as_array_mut() else {
            return Err(unexpected("a page without items"));
        };
        items.append(page_items);
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() || items.len() as u32 >= wanted {
            return Ok(items);
        }
    }
}

/// An approval's state, who asked for whom, and the decision with its reason.
fn describe(a: Approval) -> String {
    let asked = match a.on_behalf_of {
        Some(person) => format!(
            "requested {} by {} for {person}",
            a.requested_at, a.requested_by
        ),
        None => format!("requested {} by {}", a.requested_at, a.requested_by),
    };
    match (a.decided_by, a.decided_at) {
        (Some(by), Some(at)) => {
            let why = a.comment.map_or(String::new(), |c| format!(": {c}"));
            format!("{} by {by} at {at}{why} ({asked})", a.state)
        }
        _ => format!("{} ({asked})", a.state),
    }
}

/// VALUE as FORMAT asks: JSON as the ledger said it, or the table TABLE makes of it.
fn shown(
    format: Format,
    value: Value,
    table: impl FnOnce(Value) -> Result<String, Failure>,
) -> Result<String, Failure> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(&value).unwrap_or_default()),
        Format::Table => table(value),
    }
}

fn read<T: DeserializeOwned>(value: Value) -> Result<T, Failure> {
    serde_json::from_value(value).map_err(|e| unexpected(&e.to_string()))
}

fn unexpected(what: &str) -> Failure {
    Failure::Unreachable(format!(
        "the ledger's answer is not what it should be: {what}"
    ))
}

/// `sha256:` and the first 12 hex digits: enough to tell releases apart on a screen.
fn short_digest(digest: &Digest) -> String {
    digest.as_str().chars().take("sha256:".len() + 12).collect()
}

/// Percent-encodes everything but unreserved characters: a cursor (opaque), a query value.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Columns padded to their widest cell, two spaces apart, the last left unpadded; an empty
/// list says so instead of printing a lone header.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "Nothing recorded yet.".into();
    }
    let cell = |text: &str| -> String {
        let line = text.lines().next().unwrap_or("");
        if line.is_empty() {
            "-".into()
        } else {
            line.to_owned()
        }
    };
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(|r| r.iter().map(|c| cell(c)).collect()))
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let last = row.len() - 1;
            row.iter()
                .enumerate()
                .map(|(i, c)| match i == last {
                    true => c.clone(),
                    false => format!("{c:<width$}", width = widths[i]),
                })
                .collect::<Vec<_>>()
                .join("  ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_empty_cells_show_a_dash() {
        let rows = vec![
            vec!["1.10.0".into(), "".into(), "first\nsecond".into()],
            vec!["2.0.0".into(), "alice".into(), "x".into()],
        ];
        assert_eq!(
            table(&["VERSION", "FOR", "NOTES"], rows),
            "VERSION  FOR    NOTES\n1.10.0   -      first\n2.0.0    alice  x"
        );
        assert_eq!(table(&["A"], vec![]), "Nothing recorded yet.");
    }

    #[test]
    fn cursors_are_sent_percent_encoded() {
        assert_eq!(encode("ab+/=c~"), "ab%2B%2F%3Dc~");
    }
}
