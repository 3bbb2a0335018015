//! Prometheus text exposition. Spin instances live for one request, so every gauge is read
//! from storage at scrape time; nothing is counted in memory.

use ledger::model::Counts;
use ledger::time::Timestamp;
use spin_edge::label_value;
use std::fmt::Write;

/// The exposition text of COUNTS; ages are measured at NOW.
pub fn render(counts: &Counts, version: &str, commit: &str, now: Timestamp) -> String {
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
    gauge(
        &mut out,
        "ledger_deployment_events",
        "Deployment events by cluster and status.",
    );
    for (cluster, status, count) in &counts.deployments {
        let _ = writeln!(
            out,
            "ledger_deployment_events{{cluster=\"{}\",status=\"{status}\"}} {count}",
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

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
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
            newest_approved: Some(version("1.4.0")),
            oldest_pending_since: Some(Timestamp::from_micros(1_000_000)),
        };
        let text = render(&counts, "0.1.0", "a\"b", Timestamp::from_micros(91_500_000));
        assert!(text.contains(
            "ledger_cluster_release{cluster=\"prod-east\",environment=\"production\",version=\"1.3.0\"} 1\n"
        ));
        assert!(text.contains("ledger_newest_approved_release{version=\"1.4.0\"} 1\n"));
        assert!(text.contains("ledger_oldest_pending_approval_age_seconds 90.5\n"));
        assert!(text.contains("# TYPE ledger_releases gauge\nledger_releases 3\n"));
        assert!(text.contains("ledger_approvals{state=\"rejected\"} 2\n"));
        assert!(
            text.contains(
                "ledger_deployment_events{cluster=\"prod-east\",status=\"succeeded\"} 4\n"
            )
        );
        assert!(text.contains("ledger_build_info{version=\"0.1.0\",commit=\"a\\\"b\"} 1\n"));
    }
}
