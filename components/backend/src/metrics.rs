//! Prometheus text exposition. Spin instances live for one request, so every figure is read
//! from storage at scrape time; nothing is counted in memory.

use ledger::insights::Insights;
use ledger::model::Counts;
use ledger::time::Timestamp;
use spin_edge::label_value;
use std::fmt::Write;

/// The exposition text of COUNTS and the DORA block ([`dora`]); ages are measured at NOW.
pub fn render(counts: &Counts, dora: &str, version: &str, commit: &str, now: Timestamp) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        "ledger_releases",
        "Releases recorded in the ledger.",
    );
    let _ = writeln!(out, "ledger_releases {}", counts.releases);
    gauge(&mut out, "ledger_approvals", "Approvals by state.");
    for (state, count) in &counts.approvals {
        let _ = writeln!(out, "ledger_approvals{{state=\"{state}\"}} {count}");
    }
    // The ledger's log of events only grows, so their count is a counter: `increase()` over
    // it is the events of a window (a restore from an older backup reads as a reset).
    counter(
        &mut out,
        "ledger_deployment_events_total",
        "Deployment events by cluster and status.",
    );
    for (cluster, status, count) in &counts.deployments {
        let _ = writeln!(
            out,
            "ledger_deployment_events_total{{cluster=\"{}\",status=\"{status}\"}} {count}",
            label_value(cluster.as_str())
        );
    }
    gauge(
        &mut out,
        "ledger_cluster_release",
        "The release each cluster runs now (its latest succeeded deployment not rolled back); always 1.",
    );
    for (cluster, environment, release) in &counts.current {
        let _ = writeln!(
            out,
            "ledger_cluster_release{{cluster=\"{}\",environment=\"{environment}\",version=\"{}\"}} 1",
            label_value(cluster.as_str()),
            label_value(release.as_str())
        );
    }
    gauge(
        &mut out,
        "ledger_cluster_drift",
        "1 when the cluster was last seen running another digest than its current release, else 0; only for observed clusters.",
    );
    for (cluster, drifted, _) in &counts.observed {
        let _ = writeln!(
            out,
            "ledger_cluster_drift{{cluster=\"{}\"}} {}",
            label_value(cluster.as_str()),
            u8::from(*drifted)
        );
    }
    gauge(
        &mut out,
        "ledger_cluster_observation_age_seconds",
        "How long ago the cluster's latest observation was made.",
    );
    for (cluster, _, observed_at) in &counts.observed {
        let age = (now.as_micros() - observed_at.as_micros()).max(0) as f64 / 1e6;
        let _ = writeln!(
            out,
            "ledger_cluster_observation_age_seconds{{cluster=\"{}\"}} {age}",
            label_value(cluster.as_str())
        );
    }
    gauge(
        &mut out,
        "ledger_newest_approved_release",
        "The newest release whose production approval is approved; always 1.",
    );
    if let Some(release) = &counts.newest_approved {
        let _ = writeln!(
            out,
            "ledger_newest_approved_release{{version=\"{}\"}} 1",
            label_value(release.as_str())
        );
    }
    gauge(
        &mut out,
        "ledger_oldest_pending_approval_age_seconds",
        "How long the oldest pending approval has waited; 0 when none waits.",
    );
    let age = counts.oldest_pending_since.map_or(0.0, |since| {
        (now.as_micros() - since.as_micros()).max(0) as f64 / 1e6
    });
    let _ = writeln!(out, "ledger_oldest_pending_approval_age_seconds {age}");
    out.push_str(dora);
    gauge(
        &mut out,
        "ledger_build_info",
        "The running build; the value is always 1.",
    );
    let _ = writeln!(
        out,
        "ledger_build_info{{version=\"{}\",commit=\"{}\"}} 1",
        label_value(version),
        label_value(commit)
    );
    out
}

/// DORA's four keys over the insights window, as exposition text. A key with nothing to
/// measure has no sample (absent, not 0), so alerts and panels tell "no data" from "zero".
pub fn dora(keys: &Insights) -> String {
    let mut text = String::new();
    let out = &mut text;
    let window = format!(
        "environment=\"{}\",days=\"{}\"",
        keys.environment, keys.days
    );
    gauge(
        out,
        "ledger_dora_deployments_per_week",
        "Releases that first succeeded in the environment, per week of the window.",
    );
    if let Some(per_week) = keys.deployments_per_week {
        let _ = writeln!(
            out,
            "ledger_dora_deployments_per_week{{{window}}} {per_week}"
        );
    }
    gauge(
        out,
        "ledger_dora_lead_time_seconds",
        "Lead time for changes to first success, from the commit or the release's recording.",
    );
    let summary = &keys.summary;
    let leads = [
        ("commit", &summary.lead_time_from_commit),
        ("recording", &summary.lead_time_from_recording),
    ];
    for (from, spread) in leads {
        if let Some(s) = spread {
            for (quantile, value) in [("0.5", s.median_seconds), ("0.9", s.p90_seconds)] {
                let _ = writeln!(
                    out,
                    "ledger_dora_lead_time_seconds{{{window},from=\"{from}\",quantile=\"{quantile}\"}} {value}"
                );
            }
        }
    }
    gauge(
        out,
        "ledger_dora_change_failure_rate",
        "Share of rollouts that ended failed or rolled back, 0 to 1.",
    );
    if let Some(r) = &summary.change_failure_rate {
        let _ = writeln!(
            out,
            "ledger_dora_change_failure_rate{{{window}}} {}",
            r.rate
        );
    }
    gauge(
        out,
        "ledger_dora_time_to_restore_seconds",
        "From a failure to the cluster's next success: median and worst of the restored.",
    );
    if let Some(r) = &summary.time_to_restore {
        for (stat, value) in [("median", r.median_seconds), ("worst", r.worst_seconds)] {
            if let Some(value) = value {
                let _ = writeln!(
                    out,
                    "ledger_dora_time_to_restore_seconds{{{window},stat=\"{stat}\"}} {value}"
                );
            }
        }
    }
    text
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn counter(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::types::{ClusterName, Version};

    fn cluster(name: &str) -> ClusterName {
        ClusterName::parse(name).unwrap()
    }

    fn version(text: &str) -> Version {
        Version::parse(text).unwrap()
    }
    use ledger::insights::{FailureRate, Keys, Spread};
    use ledger::types::{ApprovalState, DeploymentStatus, Environment};

    #[test]
    fn renders_every_gauge_with_labels() {
        let counts = Counts {
            releases: 3,
            approvals: vec![
                (ApprovalState::Pending, 1),
                (ApprovalState::Approved, 0),
                (ApprovalState::Rejected, 2),
            ],
            deployments: vec![(cluster("prod-east"), DeploymentStatus::Succeeded, 4)],
            current: vec![(
                cluster("prod-east"),
                Environment::Production,
                version("1.3.0"),
            )],
            observed: vec![
                (
                    cluster("prod-west"),
                    true,
                    Timestamp::from_micros(30_000_000),
                ),
                (
                    cluster("prod-east"),
                    false,
                    Timestamp::from_micros(88_500_000),
                ),
            ],
            newest_approved: Some(version("1.4.0")),
            oldest_pending_since: Some(Timestamp::from_micros(1_000_000)),
        };
        let keys = Insights {
            environment: Environment::Production,
            days: 30,
            from: Timestamp::from_micros(0),
            to: Timestamp::from_micros(0),
            deployments_per_week: Some(0.7),
            summary: Keys {
                deployments: 3,
                lead_time_from_commit: None,
                lead_time_from_recording: Some(Spread {
                    count: 3,
                    median_seconds: 86_400,
                    p90_seconds: 93_600,
                }),
                change_failure_rate: Some(FailureRate {
                    failed: 1,
                    rollouts: 4,
                    rate: 0.25,
                }),
                time_to_restore: None,
            },
            weeks: Vec::new(),
        };
        let text = render(
            &counts,
            &dora(&keys),
            "0.1.0",
            "a\"b",
            Timestamp::from_micros(91_500_000),
        );
        let window = "environment=\"production\",days=\"30\"";
        assert!(text.contains(&format!(
            "ledger_dora_deployments_per_week{{{window}}} 0.7\n"
        )));
        assert!(text.contains(&format!(
            "ledger_dora_lead_time_seconds{{{window},from=\"recording\",quantile=\"0.9\"}} 93600\n"
        )));
        assert!(!text.contains("from=\"commit\""), "no data is no sample");
        assert!(text.contains(&format!(
            "ledger_dora_change_failure_rate{{{window}}} 0.25\n"
        )));
        assert!(text.contains("# TYPE ledger_dora_time_to_restore_seconds gauge\n# HELP"));
        assert!(text.contains(
            "ledger_cluster_release{cluster=\"prod-east\",environment=\"production\",version=\"1.3.0\"} 1\n"
        ));
        assert!(text.contains("ledger_newest_approved_release{version=\"1.4.0\"} 1\n"));
        assert!(text.contains("ledger_cluster_drift{cluster=\"prod-west\"} 1\n"));
        assert!(text.contains("ledger_cluster_drift{cluster=\"prod-east\"} 0\n"));
        assert!(
            text.contains("ledger_cluster_observation_age_seconds{cluster=\"prod-west\"} 61.5\n")
        );
        assert!(text.contains("ledger_oldest_pending_approval_age_seconds 90.5\n"));
        assert!(text.contains("# TYPE ledger_releases gauge\nledger_releases 3\n"));
        assert!(text.contains("# TYPE ledger_deployment_events_total counter\n"));
        assert!(text.contains("ledger_approvals{state=\"rejected\"} 2\n"));
        assert!(text.contains(
            "ledger_deployment_events_total{cluster=\"prod-east\",status=\"succeeded\"} 4\n"
        ));
        assert!(text.contains("ledger_build_info{version=\"0.1.0\",commit=\"a\\\"b\"} 1\n"));
    }
}
