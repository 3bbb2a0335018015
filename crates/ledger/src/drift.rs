//! Drift: whether a cluster runs what the ledger says it does. An observer (`relctl observe`)
//! reports the digest each cluster runs; the ledger compares the latest report with the
//! cluster's current release (its latest succeeded deployment not rolled back).
//!
//! A cluster nobody reports on has no drift to show: the ledger cannot tell. A report older
//! than [`STALE_AFTER_MICROS`] is drift of its own kind, because the observer has stopped and
//! the cluster could run anything. A report of the release being rolled out there (its
//! latest event is `started`) is no drift either: the pipeline changes what the cluster runs
//! before it records the outcome, so every rollout would otherwise look like one.

use crate::model::{CurrentRelease, Drift, DriftKind, Observation};
use crate::time::Timestamp;
use crate::types::{ClusterName, Digest, Version};

/// Observations older than this (15 minutes: three missed runs of the 5-minute observer) say
/// nothing about what runs now.
pub const STALE_AFTER_MICROS: i64 = 15 * 60 * 1_000_000;
/// How far ahead of the ledger's clock an observer's (or a committer's) clock may be.
pub const MAX_CLOCK_SKEW_MICROS: i64 = 5 * 60 * 1_000_000;
pub const MAX_SOURCE: usize = 200;

/// The release a cluster is being moved to: its latest event there is `started`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub version: Version,
    pub digest: Digest,
}

/// What a cluster's latest observation says against the ledger's record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The release being rolled out, when the cluster is seen running it already.
    pub rolling_out: Option<Version>,
    pub drift: Option<Drift>,
}

/// `sha256:0123456789ab…`
fn short(digest: &str) -> String {
    let cut = digest
        .char_indices()
        .nth(19)
        .map_or(digest.len(), |(i, _)| i);
    if cut < digest.len() {
        format!("{}…", &digest[..cut])
    } else {
        digest.to_owned()
    }
}

/// Whether a cluster seen running DIGEST drifts: it is neither its current release's nor the
/// one being rolled out there.
pub fn unexpected(
    current: Option<&CurrentRelease>,
    in_flight: Option<&InFlight>,
    digest: &Digest,
) -> bool {
    current.is_none_or(|c| c.digest != *digest) && in_flight.is_none_or(|f| f.digest != *digest)
}

/// What CLUSTER's latest observation says at NOW, against its current release and the
/// release being rolled out there.
pub fn judge(
    cluster: &ClusterName,
    current: Option<&CurrentRelease>,
    in_flight: Option<&InFlight>,
    observed: Option<&Observation>,
    now: Timestamp,
) -> Verdict {
    let Some(observed) = observed else {
        return Verdict::default();
    };
    let rolling_out = in_flight
        .filter(|f| f.digest == observed.digest)
        .filter(|_| current.is_none_or(|c| c.digest != observed.digest))
        .map(|f| f.version.clone());
    let age = now.as_micros() - observed.observed_at.as_micros();
    if age > STALE_AFTER_MICROS {
        return Verdict {
            rolling_out,
            drift: Some(Drift {
                kind: DriftKind::NotObserved,
                summary: format!("{cluster} not observed for {} min", age / 60_000_000),
            }),
        };
    }
    if !unexpected(current, in_flight, &observed.digest) {
        return Verdict {
            rolling_out,
            drift: None,
        };
    }
    let runs = match &observed.version {
        Some(version) => format!("{version} ({})", short(observed.digest.as_str())),
        None => format!(
            "{} (unknown to the ledger)",
            short(observed.digest.as_str())
        ),
    };
    let expected = match current {
        Some(c) => format!("{} ({})", c.version, short(c.digest.as_str())),
        None => "no release (none has succeeded there)".into(),
    };
    Verdict {
        rolling_out: None,
        drift: Some(Drift {
            kind: DriftKind::UnexpectedDigest,
            summary: format!("{cluster} runs {runs}, expected {expected}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ArtifactRef, Version};

    const A: &str = "sha256:ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
    const B: &str = "sha256:cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34";
    const NOW: i64 = 1_000_000_000_000;

    fn current(digest: &str) -> CurrentRelease {
        CurrentRelease {
            version: Version::parse("1.4.0").unwrap(),
            artifact: ArtifactRef::parse("ghcr.io/acme/automatizacion:1.4.0").unwrap(),
            digest: Digest::parse(digest).unwrap(),
            succeeded_at: Timestamp::from_micros(0),
        }
    }

    fn seen(digest: &str, version: Option<&str>, ago: i64) -> Observation {
        Observation {
            digest: Digest::parse(digest).unwrap(),
            version: version.map(|v| Version::parse(v).unwrap()),
            observed_at: Timestamp::from_micros(NOW - ago),
            source: "test".into(),
        }
    }

    fn drift(current: Option<&CurrentRelease>, observed: Option<&Observation>) -> Option<Drift> {
        let west = ClusterName::parse("prod-west").unwrap();
        judge(&west, current, None, observed, Timestamp::from_micros(NOW)).drift
    }

    fn rolling(digest: &str) -> InFlight {
        InFlight {
            version: Version::parse("1.5.0").unwrap(),
            digest: Digest::parse(digest).unwrap(),
        }
    }

    #[test]
    fn a_cluster_running_its_release_has_no_drift() {
        assert_eq!(
            drift(Some(&current(B)), Some(&seen(B, Some("1.4.0"), 0))),
            None
        );
        assert_eq!(
            drift(Some(&current(B)), None),
            None,
            "nobody watches: nothing to say"
        );
    }

    #[test]
    fn another_digest_is_named_with_what_was_expected() {
        let unknown = drift(Some(&current(B)), Some(&seen(A, None, 0))).unwrap();
        assert_eq!(unknown.kind, DriftKind::UnexpectedDigest);
        assert_eq!(
            unknown.summary,
            "prod-west runs sha256:ab12cd34ef56… (unknown to the ledger), \
             expected 1.4.0 (sha256:cd34ef56ab12…)"
        );
        let older = drift(Some(&current(B)), Some(&seen(A, Some("1.3.0"), 0))).unwrap();
        assert!(
            older
                .summary
                .starts_with("prod-west runs 1.3.0 (sha256:ab12cd34ef56…)")
        );
        let nothing_expected = drift(None, Some(&seen(A, None, 0))).unwrap();
        assert!(
            nothing_expected
                .summary
                .ends_with("expected no release (none has succeeded there)")
        );
    }

    #[test]
    fn an_old_observation_is_drift_of_its_own() {
        let fresh = seen(B, Some("1.4.0"), STALE_AFTER_MICROS);
        assert_eq!(drift(Some(&current(B)), Some(&fresh)), None);
        let stale = seen(B, Some("1.4.0"), STALE_AFTER_MICROS + 1);
        let drift = drift(Some(&current(B)), Some(&stale)).unwrap();
        assert_eq!(drift.kind, DriftKind::NotObserved);
        assert_eq!(drift.summary, "prod-west not observed for 15 min");
    }

    #[test]
    fn the_release_being_rolled_out_is_no_drift() {
        let west = ClusterName::parse("prod-west").unwrap();
        let now = Timestamp::from_micros(NOW);
        let judged = |in_flight: Option<&InFlight>, digest: &str| {
            let observed = seen(digest, Some("1.5.0"), 0);
            judge(&west, Some(&current(B)), in_flight, Some(&observed), now)
        };
        // The pipeline moved the cluster to A and has not recorded the outcome yet.
        let moving = judged(Some(&rolling(A)), A);
        assert_eq!(moving.drift, None);
        assert_eq!(moving.rolling_out.unwrap().as_str(), "1.5.0");
        assert!(!unexpected(
            Some(&current(B)),
            Some(&rolling(A)),
            &digest(A)
        ));
        // Still on the current release while the rollout starts: plain agreement.
        assert_eq!(judged(Some(&rolling(A)), B), Verdict::default());
        // Without a rollout under way, A is drift.
        assert_eq!(
            judged(None, A).drift.unwrap().kind,
            DriftKind::UnexpectedDigest
        );
        assert!(unexpected(Some(&current(B)), None, &digest(A)));
        // A rollout does not excuse a stale report.
        let stale = seen(A, None, STALE_AFTER_MICROS + 1);
        let verdict = judge(&west, None, Some(&rolling(A)), Some(&stale), now);
        assert_eq!(verdict.drift.unwrap().kind, DriftKind::NotObserved);
    }

    fn digest(text: &str) -> Digest {
        Digest::parse(text).unwrap()
    }
}
