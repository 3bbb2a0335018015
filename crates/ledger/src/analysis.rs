//! Judging a cluster that has just taken a release, from its request figures over a window
//! after the release reached it and over the same window before (the previous release).
//!
//! A release that starts and answers its readiness probe can still fail real requests; these
//! figures are what stops it on the first production cluster, before the others take it. Too
//! little traffic proves nothing either way, so it is a verdict of its own, never a pass.

use serde::Serialize;

/// What the backend answered over one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
