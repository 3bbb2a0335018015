//! `/insights`: DORA's four keys as the ledger measures them, each a figure with its DORA
//! level beside a chart drawn here as inline SVG. No chart library and no script: the server
//! computes every coordinate, the stylesheet colours them (so dark mode follows), and each
//! chart carries its own `<title>`, `<desc>` and a data table for screen readers.

use super::chart::{Chart, Series, n};
use super::{Chrome, Section};
use crate::api::{Insights, Keys};
use askama::Template;

/// The windows the page offers, in days; the API takes any from 1 to 366.
pub const WINDOWS: [u32; 3] = [30, 90, 180];
pub const ENVIRONMENTS: [&str; 2] = ["production", "staging"];

pub fn api_path(environment: &str, days: u32) -> String {
    format!("/api/insights?environment={environment}&days={days}")
}

/// A DORA performance level, with the word and the tone it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Elite,
    High,
    Medium,
    Low,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Elite => "elite",
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }

    pub fn tone(self) -> &'static str {
        match self {
            Level::Elite | Level::High => "ok",
            Level::Medium => "wait",
            Level::Low => "bad",
        }
    }

    /// The first level whose bound VALUE meets (`value <= bound`, or `>=` when HIGHER_IS_BETTER).
    fn by(value: f64, bounds: [f64; 3], higher_is_better: bool) -> Self {
        let meets = |bound: f64| {
            if higher_is_better {
                value >= bound
            } else {
                value <= bound
            }
        };
        match bounds.iter().position(|b| meets(*b)) {
            Some(0) => Level::Elite,
            Some(1) => Level::High,
            Some(2) => Level::Medium,
            _ => Level::Low,
        }
    }
}

const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;

/// Deployments per week: daily or more, weekly, monthly (the footnote names these).
pub fn frequency_level(per_week: f64) -> Level {
    Level::by(per_week, [7.0, 1.0, 7.0 / 30.0], true)
}
/// Lead time: under a day, a week, a month.
pub fn lead_time_level(seconds: f64) -> Level {
    Level::by(seconds, [DAY, 7.0 * DAY, 30.0 * DAY], false)
}
/// Change failure rate: 5 %, 10 %, 15 %.
pub fn failure_level(rate: f64) -> Level {
    Level::by(rate, [0.05, 0.10, 0.15], false)
}
/// Time to restore: under an hour, a day, a week.
pub fn restore_level(seconds: f64) -> Level {
    Level::by(seconds, [HOUR, DAY, 7.0 * DAY], false)
}

/// `1 release`, `3 releases`.
fn releases(count: i64) -> String {
    if count == 1 {
        "1 release".into()
    } else {
        format!("{count} releases")
    }
}

/// `3 h 20 min`, `2 d 4 h`, `45 s`: two units at most.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// One of the four keys: its figure and level, its chart and the data behind it.
pub struct Card {
    pub id: &'static str,
    pub name: &'static str,
    pub figure: String,
    pub detail: String,
    pub level: Option<Level>,
    pub chart: Chart,
    pub columns: [&'static str; 2],
    pub rows: Vec<(String, String)>,
}

pub struct WindowLink {
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "insights.html")]
pub struct InsightsPage {
    pub chrome: Chrome,
    pub environment: String,
    pub days: u32,
    pub windows: Vec<WindowLink>,
    pub cards: Vec<Card>,
}

/// Week labels: `Nov 30` from `2026-11-30T00:00:00.000Z`.
fn week_label(starts: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month: usize = starts.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    let day = starts.get(8..10).unwrap_or("").trim_start_matches('0');
    format!("{} {day}", MONTHS[month.clamp(1, 12) - 1])
}

impl InsightsPage {
    pub fn new(insights: &Insights) -> Self {
        let weeks: Vec<(String, &Keys)> = insights
            .weeks
            .iter()
            .map(|w| (week_label(&w.starts), &w.keys))
            .collect();
        let days = insights.days;
        let environment = insights.environment.clone();
        let windows = WINDOWS
            .iter()
            .map(|&d| WindowLink {
                label: format!("{d} days"),
                href: format!("/insights?environment={environment}&days={d}"),
                current: d == days,
            })
            .collect();
        let cards = vec![
            frequency_card(insights, &weeks),
            lead_time_card(insights, &weeks),
            failure_card(insights, &weeks),
            restore_card(insights, &weeks),
        ];
        Self {
            chrome: Chrome::new(Section::Insights, "Delivery insights"),
            environment,
            days,
            windows,
            cards,
        }
    }
}

fn frequency_card(insights: &Insights, weeks: &[(String, &Keys)]) -> Card {
    let series = Series {
        id: "frequency",
        title: "Deployments per week".into(),
        desc: format!(
            "Bars: releases that first succeeded in {} each week, over the last {} days.",
            insights.environment, insights.days
        ),
        weeks,
    };
    let largest = weeks.iter().map(|(_, k)| k.deployments).max().unwrap_or(0);
    let (mut chart, frame) = series.chart(largest as f64, true, "");
    chart.bars = weeks
        .iter()
        .enumerate()
        .filter(|(_, (_, k))| k.deployments > 0)
        .map(|(i, (week, k))| {
            frame.bar(
                i,
                k.deployments as f64,
                format!("Week of {week}: {}", k.deployments),
            )
        })
        .collect();
    let per_week = insights.deployments_per_week;
    Card {
        id: "frequency",
        name: "Deployment frequency",
        figure: per_week.map_or_else(|| "no data".into(), |p| format!("{p:.1} per week")),
        detail: format!(
            "{} in {} days",
            releases(insights.summary.deployments),
            insights.days
        ),
        level: per_week.map(frequency_level),
        chart,
        columns: ["Week of", "Deployments"],
        rows: weeks
            .iter()
            .map(|(w, k)| (w.clone(), k.deployments.to_string()))
            .collect(),
    }
}

fn lead_time_card(insights: &Insights, weeks: &[(String, &Keys)]) -> Card {
    // Lead time counts from the commit, as DORA defines it, when releases carry its time.
    let from_commit = insights.summary.lead_time_from_commit.is_some();
    let pick = |k: &Keys| {
        if from_commit {
            k.lead_time_from_commit.clone()
        } else {
            k.lead_time_from_recording.clone()
        }
    };
    let since = if from_commit { "commit" } else { "recording" };
    let series = Series {
        id: "lead-time",
        title: "Lead time for changes, hours".into(),
        desc: format!(
            "Line: each week's median hours from {since} to first success in {}; band: up to \
             the 90th percentile. Weeks without a release leave a gap.",
            insights.environment
        ),
        weeks,
    };
    let hours = |s: i64| s as f64 / HOUR;
    let largest = weeks
        .iter()
        .filter_map(|(_, k)| pick(k))
        .map(|s| hours(s.p90_seconds))
        .fold(0.0, f64::max);
    let (mut chart, frame) = series.chart(largest, false, "");
    let points: Vec<(usize, f64, f64)> = weeks
        .iter()
        .enumerate()
        .filter_map(|(i, (_, k))| {
            pick(k).map(|s| (i, hours(s.median_seconds), hours(s.p90_seconds)))
        })
        .collect();
    if !points.is_empty() {
        let at = |i: usize, v: f64| format!("{},{}", n(frame.centre(i)), n(frame.y(v)));
        chart.line = Some(
            points
                .iter()
                .map(|&(i, m, _)| at(i, m))
                .collect::<Vec<_>>()
                .join(" "),
        );
        let upper = points.iter().map(|&(i, _, p)| at(i, p));
        let lower = points.iter().rev().map(|&(i, m, _)| at(i, m));
        chart.band = Some(upper.chain(lower).collect::<Vec<_>>().join(" "));
        chart.marks = points
            .iter()
            .map(|&(i, m, p)| {
                let mut dot = frame.bar(i, m, format!("Median {:.1} h, p90 {:.1} h", m, p));
                dot.x = n(frame.centre(i) - 3.0);
                dot.width = "6".into();
                dot.y = n(frame.y(m) - 3.0);
                dot.height = "6".into();
                dot
            })
            .collect();
    }
    let summary = pick(&insights.summary);
    Card {
        id: "lead-time",
        name: "Lead time for changes",
        figure: summary.as_ref().map_or_else(
            || "no data".into(),
            |s| format!("{} median", duration(s.median_seconds)),
        ),
        detail: summary.as_ref().map_or_else(
            || "no release reached this environment".into(),
            |s| {
                format!(
                    "p90 {}, from {since}, {}",
                    duration(s.p90_seconds),
                    releases(s.count)
                )
            },
        ),
        level: summary.map(|s| lead_time_level(s.median_seconds as f64)),
        chart,
        columns: ["Week of", "Median (p90)"],
        rows: weeks
            .iter()
            .map(|(w, k)| {
                let cell = pick(k).map_or_else(
                    || "no data".into(),
                    |s| {
                        format!(
                            "{} ({})",
                            duration(s.median_seconds),
                            duration(s.p90_seconds)
                        )
                    },
                );
                (w.clone(), cell)
            })
            .collect(),
    }
}

fn failure_card(insights: &Insights, weeks: &[(String, &Keys)]) -> Card {
    let series = Series {
        id: "failure-rate",
        title: "Change failure rate, percent".into(),
        desc: format!(
            "Bars: each week's share of rollouts in {} that ended failed or rolled back.",
            insights.environment
        ),
        weeks,
    };
    let (mut chart, frame) = series.chart(100.0, false, " %");
    chart.bars = weeks
        .iter()
        .enumerate()
        .filter_map(|(i, (week, k))| {
            let r = k.change_failure_rate.as_ref()?;
            let label = format!("Week of {week}: {} of {} failed", r.failed, r.rollouts);
            Some(frame.bar(i, r.rate * 100.0, label))
        })
        .collect();
    let summary = insights.summary.change_failure_rate.as_ref();
    Card {
        id: "failure-rate",
        name: "Change failure rate",
        figure: summary.map_or_else(|| "no data".into(), |r| format!("{:.0} %", r.rate * 100.0)),
        detail: summary.map_or_else(
            || "no rollout ended in this window".into(),
            |r| {
                format!(
                    "{} of {} rollouts failed or were rolled back",
                    r.failed, r.rollouts
                )
            },
        ),
        level: summary.map(|r| failure_level(r.rate)),
        chart,
        columns: ["Week of", "Failed of rollouts"],
        rows: weeks
            .iter()
            .map(|(w, k)| {
                let cell = k.change_failure_rate.as_ref().map_or_else(
                    || "no data".into(),
                    |r| format!("{} of {}", r.failed, r.rollouts),
                );
                (w.clone(), cell)
            })
            .collect(),
    }
}

fn restore_card(insights: &Insights, weeks: &[(String, &Keys)]) -> Card {
    let series = Series {
        id: "restore",
        title: "Time to restore, hours".into(),
        desc: format!(
            "Bars: each week's median hours from a failure in {} to the cluster's next success; \
             marks: the worst.",
            insights.environment
        ),
        weeks,
    };
    let hours = |s: i64| s as f64 / HOUR;
    let largest = weeks
        .iter()
        .filter_map(|(_, k)| k.time_to_restore.as_ref()?.worst_seconds)
        .map(hours)
        .fold(0.0, f64::max);
    let (mut chart, frame) = series.chart(largest, false, "");
    for (i, (week, k)) in weeks.iter().enumerate() {
        let Some(r) = &k.time_to_restore else {
            continue;
        };
        if let (Some(median), Some(worst)) = (r.median_seconds, r.worst_seconds) {
            let label = format!("Week of {week}: median {}", duration(median));
            chart.bars.push(frame.bar(i, hours(median), label));
            let mut mark = frame.bar(i, hours(worst), format!("Worst {}", duration(worst)));
            mark.height = "3".into();
            chart.marks.push(mark);
        }
    }
    let summary = insights.summary.time_to_restore.as_ref();
    let open = summary.map_or(0, |r| r.unrestored);
    Card {
        id: "restore",
        name: "Time to restore",
        figure: summary
            .and_then(|r| r.median_seconds)
            .map_or_else(|| "no data".into(), |m| format!("{} median", duration(m))),
        detail: match summary {
            None => "no failure in this window".into(),
            Some(r) => format!(
                "worst {}, {} restored, {open} not yet",
                r.worst_seconds.map_or_else(|| "none".into(), duration),
                r.restored
            ),
        },
        level: summary
            .and_then(|r| r.median_seconds)
            .map(|m| restore_level(m as f64)),
        chart,
        columns: ["Week of", "Median (worst)"],
        rows: weeks
            .iter()
            .map(|(w, k)| {
                let cell = match &k.time_to_restore {
                    Some(r) => match (r.median_seconds, r.worst_seconds) {
                        (Some(m), Some(x)) => format!("{} ({})", duration(m), duration(x)),
                        _ => format!("{} not restored", r.unrestored),
                    },
                    None => "no data".into(),
                };
                (w.clone(), cell)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_named_thresholds() {
        assert_eq!(frequency_level(7.0), Level::Elite);
        assert_eq!(frequency_level(1.0), Level::High);
        assert_eq!(frequency_level(0.5), Level::Medium);
        assert_eq!(frequency_level(0.2), Level::Low);
        assert_eq!(lead_time_level(3.0 * HOUR), Level::Elite);
        assert_eq!(lead_time_level(2.0 * DAY), Level::High);
        assert_eq!(lead_time_level(40.0 * DAY), Level::Low);
        assert_eq!(failure_level(0.05), Level::Elite);
        assert_eq!(failure_level(0.12), Level::Medium);
        assert_eq!(failure_level(0.5), Level::Low);
        assert_eq!(restore_level(30.0 * 60.0), Level::Elite);
        assert_eq!(restore_level(3.0 * DAY), Level::Medium);
    }

    #[test]
    fn weeks_are_labelled_by_their_monday() {
        assert_eq!(week_label("2026-11-02T00:00:00.000Z"), "Nov 2");
    }

    #[test]
    fn durations_say_two_units_at_most() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(12_000), "3 h 20 min");
        assert_eq!(duration(187_200), "2 d 4 h");
    }
}
