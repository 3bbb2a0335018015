//! Approvals: requested after staging, decided once, never by those involved.

use super::*;

pub fn rejected_releases_never_reach_production(db: &TestDb) {
    with_ledger(db, |ledger| {
        pending_release(ledger, "1.0.0", DIGEST_A);
        let reject = NewDecision {
            decision: Decision::Reject,
            comment: "CVE in base image".into(),
        };
        let decided = ledger
            .decide(&ctx("alice", "r", 3), &v("1.0.0"), &reject)
            .unwrap();
        assert_eq!(decided.state, ApprovalState::Rejected);
        let prod = event("prod-west", DeploymentStatus::Started);
        assert!(matches!(
            deploy_event(ledger, "1.0.0", &prod),
            Err(LedgerError::Conflict(_))
        ));
    });
}

pub fn approvals_need_a_staging_success(db: &TestDb) {
    with_ledger(db, |ledger| {
        created_release(ledger, "1.0.0", DIGEST_A);
        assert!(matches!(
            request(ledger, "1.0.0"),
            Err(LedgerError::Conflict(_))
        ));
        deploy(ledger, "1.0.0", "staging", DeploymentStatus::Started).unwrap();
        deploy(ledger, "1.0.0", "staging", DeploymentStatus::Failed).unwrap();
        assert!(matches!(
            request(ledger, "1.0.0"),
            Err(LedgerError::Conflict(_))
        ));
        deploy(ledger, "1.0.0", "staging", DeploymentStatus::Succeeded).unwrap();
        let approval = request(ledger, "1.0.0").unwrap();
        assert_eq!(
            (approval.state, approval.requested_by.as_str()),
            (ApprovalState::Pending, "kestra")
        );
        assert_eq!((approval.decided_by, approval.comment), (None, None));
        // At most one approval per release.
        assert!(matches!(
            request(ledger, "1.0.0"),
            Err(LedgerError::Conflict(_))
        ));
    });
}

/// Each of FORBIDDEN trying to approve 1.0.0 is refused by the four-eyes rule.
fn refused_by_four_eyes(ledger: &Ledger, forbidden: &[&str]) {
    for who in forbidden {
        let err = ledger
            .decide(&ctx(who, "r", 3), &v("1.0.0"), &approve("mine"))
            .unwrap_err();
        assert!(matches!(err, LedgerError::FourEyes(_)), "{who}: {err:?}");
    }
}

pub fn four_eyes_and_a_single_decision(db: &TestDb) {
    with_ledger(db, |ledger| {
        staged_release(ledger, "1.0.0", DIGEST_A);
        // Nothing to decide before a request.
        assert!(matches!(
            ledger.decide(&ctx("alice", "r", 2), &v("1.0.0"), &approve("x")),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .request_approval(&ctx("bob", "r", 2), &v("1.0.0"), None)
            .unwrap();
        refused_by_four_eyes(ledger, &["kestra", "bob"]);
        let decided = ledger
            .decide(
                &ctx("alice", "req-decide", 4_000),
                &v("1.0.0"),
                &approve("LGTM"),
            )
            .unwrap();
        assert_eq!(decided.state, ApprovalState::Approved);
        assert_eq!(
            (decided.decided_by.as_deref(), decided.comment.as_deref()),
            (Some("alice"), Some("LGTM"))
        );
        assert_eq!(decided.decided_at, Some(Timestamp::from_micros(4_000)));
        let again = ledger
            .decide(&ctx("carol", "r", 5), &v("1.0.0"), &approve("me too"))
            .unwrap_err();
        assert!(matches!(again, LedgerError::Conflict(_)), "{again:?}");
        let detail = ledger.release_detail(&v("1.0.0")).unwrap();
        assert_eq!(
            detail.approval.unwrap().decided_by.as_deref(),
            Some("alice")
        );
    });
}

/// The pipeline's service account records the release and asks for its approval for the
/// person who pushed the tag: that person cannot approve it either, and the audit log says
/// for whom each step was taken.
pub fn four_eyes_see_whom_a_service_account_acts_for(db: &TestDb) {
    with_ledger(db, |ledger| {
        let mut new = release("1.0.0", DIGEST_A);
        new.on_behalf_of = Some(Subject::parse("Alice").unwrap());
        let (created, _) = ledger.create_release(&kestra(), &new).unwrap();
        assert_eq!(created.on_behalf_of.as_deref(), Some("alice"), "canonical");
        deploy(ledger, "1.0.0", "staging", DeploymentStatus::Succeeded).unwrap();
        let dave = Subject::parse("dave").unwrap();
        let requested = ledger
            .request_approval(&kestra(), &v("1.0.0"), Some(&dave))
            .unwrap();
        assert_eq!(requested.on_behalf_of.as_deref(), Some("dave"));
        refused_by_four_eyes(ledger, &["ALICE", "dave", "kestra"]);
        let decided = ledger
            .decide(&ctx("carol", "r", 4), &v("1.0.0"), &approve("LGTM"))
            .unwrap();
        assert_eq!(decided.state, ApprovalState::Approved);
        let audit = ledger
            .audit(PageRequest {
                limit: 10,
                before_id: None,
            })
            .unwrap();
        let behalf: Vec<(&str, Option<&str>)> = audit
            .items
            .iter()
            .rev()
            .map(|e| (e.action.as_str(), e.on_behalf_of.as_deref()))
            .collect();
        assert_eq!(
            behalf,
            [
                ("release.created", Some("alice")),
                ("deployment.recorded", None),
                ("approval.requested", Some("dave")),
                ("approval.decided", None),
            ]
        );
    });
}

pub fn twenty_concurrent_decisions_have_one_winner(db: &TestDb) {
    with_ledger(db, |ledger| {
        pending_release(ledger, "1.0.0", DIGEST_A);
    });
    let barrier = std::sync::Barrier::new(20);
    let outcomes: Vec<Result<_, LedgerError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let exec = db.connect();
                    let clusters = clusters();
                    let ledger =
                        Ledger::open(exec.as_ref(), &clusters, Timestamp::from_micros(1)).unwrap();
                    barrier.wait();
                    let decision = if i % 2 == 0 {
                        Decision::Approve
                    } else {
                        Decision::Reject
                    };
                    let approver = ctx(&format!("approver-{i}"), &format!("req-{i}"), 10_000 + i);
                    ledger.decide(
                        &approver,
                        &v("1.0.0"),
                        &NewDecision {
                            decision,
                            comment: format!("by {i}"),
                        },
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let losers = outcomes
        .iter()
        .filter(|o| matches!(o, Err(LedgerError::Conflict(_))))
        .count();
    assert_eq!(losers, 19, "{outcomes:?}");
    with_ledger(db, |ledger| {
        let stored = ledger
            .release_detail(&v("1.0.0"))
            .unwrap()
            .approval
            .unwrap();
        assert_eq!(&stored, winners[0]);
        let decided = ledger.audit(ALL).unwrap();
        assert_eq!(
            decided
                .items
                .iter()
                .filter(|e| e.action == "approval.decided")
                .count(),
            1
        );
    });
}

pub fn approvals_filter_by_state(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        pending_release(ledger, "1.1.0", DIGEST_B);
        let all = ALL;
        let versions = |state| -> Vec<String> {
            ledger
                .list_approvals(state, all)
                .unwrap()
                .items
                .into_iter()
                .map(|a| a.version.to_string())
                .collect()
        };
        assert_eq!(versions(None), ["1.1.0", "1.0.0"]);
        assert_eq!(versions(Some(ApprovalState::Pending)), ["1.1.0"]);
        assert_eq!(versions(Some(ApprovalState::Approved)), ["1.0.0"]);
        assert!(versions(Some(ApprovalState::Rejected)).is_empty());
    });
}
