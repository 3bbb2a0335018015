//! Prometheus text exposition. Spin instances live for one request, so every gauge is read
//! from storage at scrape time; nothing is counted in memory.

use ledger::model::Counts;
use std::fmt::Write;

pub fn render(counts: &Counts, version: &str, commit: &str) -> String {
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
            escape(cluster)
        );
    }
    gauge(
        &mut out,
        "ledger_build_info",
        "The running build; the value is always 1.",
    );
    let _ = writeln!(
        out,
        "ledger_build_info{{version=\"{}\",commit=\"{}\"}} 1",
        escape(version),
        escape(commit)
    );
    out
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// Escapes a label value as the exposition format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::types::{ApprovalState, DeploymentStatus};

    #[test]
    fn renders_every_gauge_with_labels() {
        let counts = Counts {
            releases: 3,
            approvals: vec![
                (ApprovalState::Pending, 1),
                (ApprovalState::Approved, 0),
                (ApprovalState::Rejected, 2),
            ],
            deployments: vec![("prod-east".into(), DeploymentStatus::Succeeded, 4)],
        };
        let text = render(&counts, "0.1.0", "a\"b");
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
