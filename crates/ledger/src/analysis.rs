//! Judging a cluster that has just taken a release, from its request figures over a window
//! after the release reached it and over the same window before (the previous release).
//!
//! A release that starts and answers its readiness probe can still fail real requests; these
//! figures are what stops it on the first production cluster, before the others take it. Too
//! little traffic proves nothing either way, so it is a verdict of its own, never a pass.

use crate::time::Timestamp;
use crate::types::WebUrl;
use serde::{Deserialize, Serialize};

/// What the backend answered over one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// Requests answered (a counter's increase, so not always whole).
    pub requests: f64,
    /// Of those, answered with a 5xx.
    pub errors: f64,
    /// The 99th percentile of the answers' durations; `None` when nothing was measured.
    pub p99_seconds: Option<f64>,
}

impl Figures {
    /// Errors per request, or `None` without requests.
    pub fn error_share(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }
}

/// Where a release stops being acceptable: fixed ceilings, and how much worse than the
/// previous release it may be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The fewest requests in the window that can show anything.
    pub min_requests: f64,
    /// The highest error share allowed (0.05: one answer in twenty).
    pub max_error_share: f64,
    /// The highest p99 allowed, in seconds.
    pub max_p99_seconds: f64,
    /// How many points the error share may rise over the previous release's (0.01: one).
    pub max_error_share_rise: f64,
    /// How many times the previous release's p99 the new one may take.
    pub max_p99_growth: f64,
}

impl Limits {
    /// The alerts' own lines (k8s/observability/alerts.yaml: 5 % errors, 0.5 s p99), so a
    /// release the analysis passes does not then page anyone.
    pub const DEFAULT: Limits = Limits {
        min_requests: 50.0,
        max_error_share: 0.05,
        max_p99_seconds: 0.5,
        max_error_share_rise: 0.01,
        max_p99_growth: 1.5,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    /// Too few requests to tell.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// A verdict and every reason for it, in words a person reads in a notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// The queries an analysis sent, its window filled in: what a person runs to see it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Queries {
    pub requests: String,
    pub errors: String,
    pub p99_seconds: String,
}

/// A stage's analysis as the ledger keeps it, on the event that ended the stage: what was
/// judged and how, and where to ask Prometheus again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub verdict: Verdict,
    /// Why it did not pass; empty when it did.
    pub reasons: Vec<String>,
    pub window_seconds: u64,
    /// Where the window after begins: when the cluster was ready with the release.
    pub since: Timestamp,
    /// The window before `since`: the previous release.
    pub before: Figures,
    pub after: Figures,
    pub limits: Limits,
    pub queries: Queries,
    /// The window after in Prometheus's graph page, one link a query.
    pub links: Vec<String>,
}

impl Record {
    /// The record if it can be what an analysis wrote, else why not. Figures and limits are
    /// finite and not negative, a verdict other than `passed` says why, and the texts are
    /// bounded, so that a page showing it stays a page.
    pub fn checked(self) -> Result<Record, String> {
        let numbers = [
            ("before.requests", self.before.requests),
            ("before.errors", self.before.errors),
            ("after.requests", self.after.requests),
            ("after.errors", self.after.errors),
            ("limits.min_requests", self.limits.min_requests),
            ("limits.max_error_share", self.limits.max_error_share),
            ("limits.max_p99_seconds", self.limits.max_p99_seconds),
            (
                "limits.max_error_share_rise",
                self.limits.max_error_share_rise,
            ),
            ("limits.max_p99_growth", self.limits.max_p99_growth),
        ];
        let p99s = [
            ("before.p99_seconds", self.before.p99_seconds),
            ("after.p99_seconds", self.after.p99_seconds),
        ];
        let p99s = p99s.iter().filter_map(|(name, p99)| Some((*name, (*p99)?)));
        if let Some((name, _)) = numbers
            .into_iter()
            .chain(p99s)
            .find(|(_, n)| !n.is_finite() || *n < 0.0)
        {
            return Err(format!("{name} must be a number, 0 or more"));
        }
        if !(1..=86_400).contains(&self.window_seconds) {
            return Err("window_seconds must be from 1 to 86400".into());
        }
        if self.verdict != Verdict::Passed && self.reasons.is_empty() {
            return Err(format!("a {} analysis says why", self.verdict.as_str()));
        }
        let bounded = |text: &str, max: usize| !text.trim().is_empty() && text.len() <= max;
        if self.reasons.len() > 10 || !self.reasons.iter().all(|r| bounded(r, 500)) {
            return Err("reasons: at most 10, each 1 to 500 characters".into());
        }
        let queries = [
            &self.queries.requests,
            &self.queries.errors,
            &self.queries.p99_seconds,
        ];
        if !queries.iter().all(|q| bounded(q, 2000)) {
            return Err("queries: each 1 to 2000 characters".into());
        }
        let links_ok = self.links.len() <= 3 && self.links.iter().all(|l| WebUrl::parse(l).is_ok());
        if !links_ok {
            return Err("links: at most 3 http(s) URLs".into());
        }
        Ok(self)
    }
}

fn percent(share: f64) -> String {
    format!("{:.2} %", share * 100.0)
}

/// Judges AFTER against LIMITS and against BEFORE, the previous release's window. BEFORE
/// counts only with enough requests of its own; otherwise the fixed ceilings alone decide.
pub fn judge(after: &Figures, before: &Figures, limits: &Limits) -> Judgement {
    // No request at all proves nothing, even where the limits ask for none.
    let enough = |f: &Figures| f.requests >= limits.min_requests && f.requests > 0.0;
    if !enough(after) {
        return Judgement {
            verdict: Verdict::Inconclusive,
            reasons: vec![format!(
                "{:.0} requests in the window, fewer than the {:.0} needed to judge",
                after.requests, limits.min_requests
            )],
        };
    }
    let baseline = enough(before).then_some(before);
    let mut reasons = Vec::new();
    let share = after.error_share().unwrap_or(0.0);
    if share > limits.max_error_share {
        reasons.push(format!(
            "error share {} above the {} allowed",
            percent(share),
            percent(limits.max_error_share)
        ));
    } else if let Some(old) = baseline.and_then(Figures::error_share)
        && share > old + limits.max_error_share_rise
    {
        reasons.push(format!(
            "error share {} against {} before, more than {} worse",
            percent(share),
            percent(old),
            percent(limits.max_error_share_rise)
        ));
    }
    if let Some(p99) = after.p99_seconds {
        if p99 > limits.max_p99_seconds {
            reasons.push(format!(
                "p99 {p99:.3} s above the {:.3} s allowed",
                limits.max_p99_seconds
            ));
        } else if let Some(old) = baseline.and_then(|b| b.p99_seconds)
            && p99 > old * limits.max_p99_growth
        {
            reasons.push(format!(
                "p99 {p99:.3} s against {old:.3} s before, more than {}x",
                limits.max_p99_growth
            ));
        }
    }
    Judgement {
        verdict: if reasons.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(requests: f64, errors: f64, p99: Option<f64>) -> Figures {
        Figures {
            requests,
            errors,
            p99_seconds: p99,
        }
    }

    fn record() -> Record {
        Record {
            verdict: Verdict::Failed,
            reasons: vec!["error share 20.00 % above the 5.00 % allowed".into()],
            window_seconds: 300,
            since: Timestamp::parse_rfc3339("2026-12-06T09:30:00Z").unwrap(),
            before: figures(1000.0, 1.0, Some(0.04)),
            after: figures(200.0, 40.0, None),
            limits: Limits::DEFAULT,
            queries: Queries {
                requests: "sum(increase(x[300s]))".into(),
                errors: "sum(increase(x{status=~\"5..\"}[300s]))".into(),
                p99_seconds: "histogram_quantile(0.99, y)".into(),
            },
            links: vec!["http://prometheus:9090/graph?g0.expr=x".into()],
        }
    }

    #[test]
    fn a_record_is_what_an_analysis_can_write() {
        let good = record();
        assert_eq!(good.clone().checked(), Ok(good));
        let text = serde_json::to_string(&record()).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), record());
        type Breaks = fn(&mut Record);
        let broken: [(&str, Breaks); 6] = [
            ("after.errors", |r| r.after.errors = -1.0),
            ("limits.max_p99_seconds", |r| {
                r.limits.max_p99_seconds = f64::NAN
            }),
            ("says why", |r| r.reasons.clear()),
            ("window_seconds", |r| r.window_seconds = 0),
            ("queries", |r| r.queries.errors = " ".into()),
            ("links", |r| r.links = vec!["javascript:alert(1)".into()]),
        ];
        for (field, breaks) in broken {
            let mut bad = record();
            breaks(&mut bad);
            let why = bad.checked().unwrap_err();
            assert!(why.contains(field), "{field}: {why}");
        }
        let unknown = text.replacen('{', "{\"extra\": 1, ", 1);
        assert!(serde_json::from_str::<Record>(&unknown).is_err());
    }

    const QUIET: Figures = Figures {
        requests: 0.0,
        errors: 0.0,
        p99_seconds: None,
    };

    #[test]
    fn a_release_as_good_as_the_last_passes() {
        let before = figures(1000.0, 2.0, Some(0.040));
        let after = figures(900.0, 2.0, Some(0.045));
        let judged = judge(&after, &before, &Limits::default());
        assert_eq!(judged.verdict, Verdict::Passed, "{:?}", judged.reasons);
        assert!(judged.reasons.is_empty());
    }

    #[test]
    fn errors_above_the_ceiling_fail_whatever_came_before() {
        let judged = judge(
            &figures(200.0, 40.0, Some(0.01)),
            &QUIET,
            &Limits::default(),
        );
        assert_eq!(judged.verdict, Verdict::Failed);
        assert_eq!(
            judged.reasons,
            ["error share 20.00 % above the 5.00 % allowed"]
        );
    }

    #[test]
    fn a_rise_over_the_previous_release_fails_below_the_ceiling() {
        let before = figures(1000.0, 1.0, Some(0.040));
        let after = figures(1000.0, 30.0, Some(0.040));
        let judged = judge(&after, &before, &Limits::default());
        assert_eq!(judged.verdict, Verdict::Failed);
        assert_eq!(
            judged.reasons,
            ["error share 3.00 % against 0.10 % before, more than 1.00 % worse"]
        );
        // The same figures with a quiet window before: nothing to compare with, so they pass.
        assert_eq!(
            judge(&after, &QUIET, &Limits::default()).verdict,
            Verdict::Passed
        );
    }

    #[test]
    fn slow_answers_fail_on_the_ceiling_or_against_the_previous_release() {
        let limits = Limits::default();
        let slow = judge(&figures(500.0, 0.0, Some(0.8)), &QUIET, &limits);
        assert_eq!(slow.reasons, ["p99 0.800 s above the 0.500 s allowed"]);
        let before = figures(500.0, 0.0, Some(0.1));
        let slower = judge(&figures(500.0, 0.0, Some(0.2)), &before, &limits);
        assert_eq!(slower.verdict, Verdict::Failed);
        assert_eq!(
            slower.reasons,
            ["p99 0.200 s against 0.100 s before, more than 1.5x"]
        );
    }

    #[test]
    fn both_failures_are_named() {
        let judged = judge(&figures(100.0, 50.0, Some(2.0)), &QUIET, &Limits::default());
        assert_eq!(judged.verdict, Verdict::Failed);
        assert_eq!(judged.reasons.len(), 2, "{:?}", judged.reasons);
    }

    #[test]
    fn too_little_traffic_is_inconclusive_even_when_every_request_failed() {
        let judged = judge(&figures(10.0, 10.0, Some(0.01)), &QUIET, &Limits::default());
        assert_eq!(judged.verdict, Verdict::Inconclusive);
        assert_eq!(
            judged.reasons,
            ["10 requests in the window, fewer than the 50 needed to judge"]
        );
        let none = judge(
            &QUIET,
            &QUIET,
            &Limits {
                min_requests: 0.0,
                ..Limits::default()
            },
        );
        assert_eq!(
            none.verdict,
            Verdict::Inconclusive,
            "no request at all proves nothing"
        );
    }
}
