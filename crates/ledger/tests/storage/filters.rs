//! Lists narrowed by what people search for: releases by version prefix, approval, cluster and
//! person; the audit log by action, actor and target. Each condition alone and together, and
//! pages that keep to the filter.

use super::*;
use ledger::filters::{ApprovalFilter, AuditFilter, AuditTarget, ReleaseFilter, VersionPrefix};

fn versions(ledger: &Ledger, filter: &ReleaseFilter) -> Vec<String> {
    let page = ledger.list_releases_matching(filter, ALL).unwrap();
    page.items.iter().map(|r| r.version.to_string()).collect()
}

pub fn releases_filter_by_version_approval_cluster_and_person(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.4.0");
        pending_release(ledger, "1.4.1", DIGEST_B);
        staged_release(
            ledger,
            "1.40.0",
            "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
        );
        let mut for_bob = release(
            "2.0.0-rc.1",
            "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
        );
        for_bob.on_behalf_of = Some(Subject::parse("bob").unwrap());
        ledger.create_release(&kestra(), &for_bob).unwrap();
        deploy(ledger, "1.4.0", "prod-east", DeploymentStatus::Succeeded).unwrap();

        let prefix = |text: &str| ReleaseFilter {
            version: Some(VersionPrefix::parse(text).unwrap()),
            ..ReleaseFilter::default()
        };
        assert_eq!(
            versions(ledger, &prefix("1.4")),
            ["1.40.0", "1.4.1", "1.4.0"]
        );
        assert_eq!(versions(ledger, &prefix("1.4.")), ["1.4.1", "1.4.0"]);
        assert_eq!(versions(ledger, &prefix("2.0.0-RC")), Vec::<String>::new());
        assert_eq!(versions(ledger, &prefix("2.0.0-rc")), ["2.0.0-rc.1"]);

        let approval = |a: ApprovalFilter| ReleaseFilter {
            approval: Some(a),
            ..ReleaseFilter::default()
        };
        let state = |s: ApprovalState| approval(ApprovalFilter::In(s));
        assert_eq!(versions(ledger, &state(ApprovalState::Approved)), ["1.4.0"]);
        assert_eq!(versions(ledger, &state(ApprovalState::Pending)), ["1.4.1"]);
        assert!(versions(ledger, &state(ApprovalState::Rejected)).is_empty());
        assert_eq!(
            versions(ledger, &approval(ApprovalFilter::None)),
            ["2.0.0-rc.1", "1.40.0"]
        );

        let on = |cluster: &str| ReleaseFilter {
            cluster: Some(ClusterName::parse(cluster).unwrap()),
            ..ReleaseFilter::default()
        };
        assert_eq!(versions(ledger, &on("prod-east")), ["1.4.0"]);
        assert_eq!(
            versions(ledger, &on("staging")),
            ["1.40.0", "1.4.1", "1.4.0"]
        );

        let person = |name: &str| ReleaseFilter {
            person: Some(Subject::parse(name).unwrap()),
            ..ReleaseFilter::default()
        };
        assert_eq!(versions(ledger, &person("bob")), ["2.0.0-rc.1"]);
        assert_eq!(
            versions(ledger, &person("kestra")).len(),
            4,
            "who recorded them"
        );
        assert!(versions(ledger, &person("alice")).is_empty());

        let all_of = ReleaseFilter {
            version: Some(VersionPrefix::parse("1.4").unwrap()),
            cluster: Some(ClusterName::parse("staging").unwrap()),
            approval: Some(ApprovalFilter::In(ApprovalState::Pending)),
            person: Some(Subject::parse("kestra").unwrap()),
        };
        assert_eq!(versions(ledger, &all_of), ["1.4.1"]);

        // Pages keep to the filter: two staged releases a page, then the last.
        let staged = on("staging");
        let first = ledger
            .list_releases_matching(
                &staged,
                PageRequest {
                    limit: 2,
                    before_id: None,
                },
            )
            .unwrap();
        let cursor = first.next_cursor.expect("a second page").parse().unwrap();
        let second = ledger
            .list_releases_matching(
                &staged,
                PageRequest {
                    limit: 2,
                    before_id: Some(cursor),
                },
            )
            .unwrap();
        let seen: Vec<String> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|r| r.version.to_string())
            .collect();
        assert_eq!(seen, ["1.40.0", "1.4.1", "1.4.0"]);
        assert_eq!(second.next_cursor, None);
    });
}

pub fn the_audit_log_filters_by_action_actor_and_target(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        let mut for_bob = release("1.0.1", DIGEST_B);
        for_bob.on_behalf_of = Some(Subject::parse("bob").unwrap());
        ledger.create_release(&kestra(), &for_bob).unwrap();

        let listed = |filter: &AuditFilter| -> Vec<(String, String)> {
            let page = ledger.audit_matching(filter, ALL).unwrap();
            page.items
                .iter()
                .map(|e| (e.action.clone(), e.target.clone()))
                .collect()
        };
        let action = AuditFilter {
            action: Some(AuditFilter::parse_action("release.created").unwrap()),
            ..AuditFilter::default()
        };
        let created = listed(&action);
        assert_eq!(
            created,
            [
                ("release.created".into(), "release/1.0.1".into()),
                ("release.created".into(), "release/1.0.0".into())
            ]
        );
        let actor = |name: &str| AuditFilter {
            actor: Some(Subject::parse(name).unwrap()),
            ..AuditFilter::default()
        };
        assert_eq!(
            listed(&actor("alice")),
            [("approval.decided".into(), "release/1.0.0".into())]
        );
        assert_eq!(
            listed(&actor("bob")),
            [("release.created".into(), "release/1.0.1".into())],
            "what was done for them"
        );
        let target = |text: &str| AuditFilter {
            target: Some(AuditTarget::parse(text).unwrap()),
            ..AuditFilter::default()
        };
        let actions = |filter: &AuditFilter| -> Vec<String> {
            listed(filter).into_iter().map(|(a, _)| a).collect()
        };
        assert_eq!(
            actions(&target("release/1.0.0")),
            [
                "approval.decided",
                "approval.requested",
                "deployment.recorded",
                "release.created"
            ],
            "the release's own events and those below it"
        );
        assert_eq!(
            actions(&target("release/1.0.0/cluster/staging")),
            ["deployment.recorded"]
        );
        assert!(
            actions(&target("release/1.0")).is_empty(),
            "whole segments only"
        );
        let both = AuditFilter {
            action: Some("approval.requested"),
            actor: Some(Subject::parse("kestra").unwrap()),
            target: Some(AuditTarget::parse("release/1.0.0").unwrap()),
        };
        assert_eq!(actions(&both), ["approval.requested"]);
    });
}
