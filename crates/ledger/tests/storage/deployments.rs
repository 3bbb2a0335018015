//! Deployments: where a release may go, what each cluster runs, and the figures read from it.

use super::*;

pub fn unknown_clusters_are_unprocessable(db: &TestDb) {
    with_ledger(db, |ledger| {
        created_release(ledger, "1.0.0", DIGEST_A);
        let err = deploy(ledger, "1.0.0", "mars", DeploymentStatus::Started).unwrap_err();
        assert!(
            matches!(
                err,
                LedgerError::Rejected {
                    field: "cluster",
                    ..
                }
            ),
            "{err:?}"
        );
    });
}

pub fn production_needs_an_approved_approval(db: &TestDb) {
    with_ledger(db, |ledger| {
        created_release(ledger, "1.0.0", DIGEST_A);
        let prod = event("prod-east", DeploymentStatus::Started);
        assert!(matches!(
            deploy_event(ledger, "1.0.0", &prod),
            Err(LedgerError::Conflict(_))
        ));
        deploy(ledger, "1.0.0", "staging", DeploymentStatus::Succeeded).unwrap();
        request(ledger, "1.0.0").unwrap();
        // Pending is not enough.
        assert!(matches!(
            deploy_event(ledger, "1.0.0", &prod),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .decide(&ctx("alice", "r", 3), &v("1.0.0"), &approve("ship it"))
            .unwrap();
        let recorded = deploy_event(ledger, "1.0.0", &prod).unwrap();
        assert_eq!(
            (recorded.environment, recorded.status),
            (Environment::Production, DeploymentStatus::Started)
        );
    });
}

pub fn current_release_follows_rollbacks(db: &TestDb) {
    with_ledger(db, |ledger| {
        let status = |ledger: &Ledger, name: &str| {
            ledger
                .clusters()
                .unwrap()
                .into_iter()
                .find(|c| c.name == name)
                .unwrap()
        };
        assert_eq!(status(ledger, "prod-east").current, None);
        assert_eq!(status(ledger, "prod-east").last_event, None);
        approved_release(ledger, "1.0.0");
        approved_release(ledger, "1.1.0");
        let to_east = |version: &str, s: DeploymentStatus| {
            deploy(ledger, version, "prod-east", s).unwrap();
        };
        to_east("1.0.0", DeploymentStatus::Succeeded);
        to_east("1.1.0", DeploymentStatus::Started);
        assert_eq!(
            status(ledger, "prod-east").current.unwrap().version,
            "1.0.0"
        );
        to_east("1.1.0", DeploymentStatus::Succeeded);
        let east = status(ledger, "prod-east");
        assert_eq!(east.current.as_ref().unwrap().version, "1.1.0");
        assert_eq!(east.current.unwrap().digest, DIGEST_A);
        to_east("1.1.0", DeploymentStatus::RolledBack);
        let east = status(ledger, "prod-east");
        assert_eq!(east.current.unwrap().version, "1.0.0");
        let last = east.last_event.unwrap();
        assert_eq!(
            (last.version.as_str(), last.status),
            ("1.1.0", DeploymentStatus::RolledBack)
        );
        // Other clusters are untouched; staging runs 1.1.0, the latest staged success.
        assert_eq!(status(ledger, "prod-west").current, None);
        assert_eq!(status(ledger, "staging").current.unwrap().version, "1.1.0");
        let names: Vec<_> = ledger
            .clusters()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["staging", "prod-east", "prod-west"]);
    });
}

pub fn rollbacks_need_an_earlier_event_there(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        let rollback = event("prod-west", DeploymentStatus::RolledBack);
        assert!(matches!(
            deploy_event(ledger, "1.0.0", &rollback),
            Err(LedgerError::Conflict(_))
        ));
        deploy(ledger, "1.0.0", "prod-west", DeploymentStatus::Failed).unwrap();
        deploy_event(ledger, "1.0.0", &rollback).unwrap();
    });
}

pub fn every_cluster_in_three_statements(db: &TestDb) {
    let statements = std::cell::Cell::new(0);
    let exec = native_db::testing::Counting(db.connect(), &statements);
    let exec: &dyn ledger::Executor = &exec;
    let many = Clusters::parse(
        "staging=staging,qa=staging,prod-east=production,prod-west=production,prod-south=production",
    )
    .unwrap();
    let ledger = Ledger::open(exec, &many, Timestamp::from_micros(1)).unwrap();
    ledger
        .create_release(&kestra(), &release("1.0.0", DIGEST_A))
        .unwrap();
    ledger
        .create_release(&kestra(), &release("1.1.0", DIGEST_B))
        .unwrap();
    for (version, cluster, status) in [
        ("1.0.0", "qa", DeploymentStatus::Succeeded),
        ("1.1.0", "qa", DeploymentStatus::Failed),
        ("1.0.0", "staging", DeploymentStatus::Succeeded),
        ("1.1.0", "staging", DeploymentStatus::Succeeded),
    ] {
        deploy(&ledger, version, cluster, status).unwrap();
    }
    statements.set(0);
    let statuses = ledger.clusters().unwrap();
    assert_eq!(statements.get(), 3, "five clusters, three statements");
    let seen: Vec<_> = statuses
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.current.as_ref().map(|r| r.version.as_str()),
                c.last_event
                    .as_ref()
                    .map(|e| (e.version.as_str(), e.status)),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "staging",
                Some("1.1.0"),
                Some(("1.1.0", DeploymentStatus::Succeeded))
            ),
            (
                "qa",
                Some("1.0.0"),
                Some(("1.1.0", DeploymentStatus::Failed))
            ),
            ("prod-east", None, None),
            ("prod-west", None, None),
            ("prod-south", None, None),
        ]
    );
    let staging = &statuses[0];
    assert_eq!(staging.current.as_ref().unwrap().digest, DIGEST_B);
    assert_eq!(
        staging.last_event.as_ref().unwrap().message.as_deref(),
        Some("succeeded on staging")
    );
}

pub fn counts_come_from_storage(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        created_release(ledger, "1.1.0", DIGEST_B);
        deploy(ledger, "1.0.0", "prod-east", DeploymentStatus::Succeeded).unwrap();
        let counts = ledger.counts().unwrap();
        assert_eq!(counts.releases, 2);
        assert_eq!(
            counts.approvals,
            [
                (ApprovalState::Pending, 0),
                (ApprovalState::Approved, 1),
                (ApprovalState::Rejected, 0)
            ]
        );
        let deployments: Vec<_> = counts
            .deployments
            .iter()
            .map(|(cluster, status, n)| (cluster.as_str(), *status, *n))
            .collect();
        assert_eq!(
            deployments,
            [
                ("prod-east", DeploymentStatus::Succeeded, 1),
                ("staging", DeploymentStatus::Succeeded, 1)
            ]
        );
        // What each cluster runs, what production should run, and nothing waiting.
        let current = |counts: &ledger::model::Counts| -> Vec<(String, Environment, String)> {
            counts
                .current
                .iter()
                .map(|(c, e, v)| (c.to_string(), *e, v.to_string()))
                .collect()
        };
        assert_eq!(
            current(&counts),
            [
                (
                    "staging".to_owned(),
                    Environment::Staging,
                    "1.0.0".to_owned()
                ),
                (
                    "prod-east".to_owned(),
                    Environment::Production,
                    "1.0.0".to_owned()
                )
            ]
        );
        assert_eq!(counts.newest_approved.as_deref(), Some("1.0.0"));
        assert_eq!(counts.oldest_pending_since, None);
        // 1.1.0 passes staging and waits: the oldest pending approval is its request.
        deploy(ledger, "1.1.0", "staging", DeploymentStatus::Succeeded).unwrap();
        request(ledger, "1.1.0").unwrap();
        let counts = ledger.counts().unwrap();
        let requested = ledger
            .release_detail(&v("1.1.0"))
            .unwrap()
            .approval
            .unwrap()
            .requested_at;
        assert_eq!(counts.oldest_pending_since, Some(requested));
        assert_eq!(counts.newest_approved.as_deref(), Some("1.0.0"));
        assert_eq!(
            current(&counts)[0],
            (
                "staging".to_owned(),
                Environment::Staging,
                "1.1.0".to_owned()
            )
        );
    });
}
