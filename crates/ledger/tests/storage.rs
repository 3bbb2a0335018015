//! The ledger's rules over real databases. Every test runs twice, against a SQLite file and
//! against a PostgreSQL server, through the same SQL the component runs.

use ledger::model::{NewDecision, NewDeployment, NewRelease, PageRequest};
use ledger::types::*;
use ledger::{Clusters, Context, Created, Ledger, LedgerError, Timestamp, migrations};
use native_db::testing::TestDb;

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn clusters() -> Clusters {
    Clusters::parse(ledger::clusters::DEFAULT_CLUSTERS).unwrap()
}

fn ctx(actor: &str, request_id: &str, micros: i64) -> Context {
    Context {
        actor: Subject::parse(actor).unwrap(),
        request_id: request_id.into(),
        now: Timestamp::from_micros(micros),
    }
}

fn kestra() -> Context {
    ctx("kestra", "req-kestra", 1_000)
}

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

fn release(version: &str, digest: &str) -> NewRelease {
    NewRelease {
        version: v(version),
        artifact: ArtifactRef::parse(&format!("ghcr.io/acme/automatizacion:{version}")).unwrap(),
        digest: Digest::parse(digest).unwrap(),
        commit: CommitSha::parse(COMMIT).unwrap(),
        notes: format!("notes for {version}"),
        on_behalf_of: None,
    }
}

fn event(cluster: &str, status: DeploymentStatus) -> NewDeployment {
    NewDeployment {
        cluster: ClusterName::parse(cluster).unwrap(),
        status,
        message: Some(format!("{status} on {cluster}")),
        execution_url: Some(WebUrl::parse("https://kestra.example.com/executions/1").unwrap()),
    }
}

fn approve(comment: &str) -> NewDecision {
    NewDecision {
        decision: Decision::Approve,
        comment: comment.into(),
    }
}

/// Opens a ledger on a new connection (migrating on first use, as each request does).
fn with_ledger<T>(db: &TestDb, work: impl FnOnce(&Ledger) -> T) -> T {
    let exec = db.connect();
    let clusters = clusters();
    let ledger = Ledger::open(exec.as_ref(), &clusters, Timestamp::from_micros(1)).unwrap();
    work(&ledger)
}

/// Records `version` and takes it through staging to an approved approval.
fn approved_release(ledger: &Ledger, version: &str) {
    ledger
        .create_release(&kestra(), &release(version, DIGEST_A))
        .unwrap();
    ledger
        .record_deployment(
            &kestra(),
            &v(version),
            &event("staging", DeploymentStatus::Succeeded),
        )
        .unwrap();
    ledger
        .request_approval(&kestra(), &v(version), None)
        .unwrap();
    ledger
        .decide(
            &ctx("alice", "req-alice", 2_000),
            &v(version),
            &approve("ok"),
        )
        .unwrap();
}

fn migrations_apply_once(db: &TestDb) {
    let exec = db.connect();
    let now = Timestamp::from_micros(5);
    assert!(
        migrations::current_version(exec.as_ref()).is_err(),
        "a fresh database has no schema"
    );
    assert_eq!(
        migrations::migrate(exec.as_ref(), now).unwrap(),
        migrations::MIGRATIONS.len()
    );
    assert_eq!(migrations::migrate(exec.as_ref(), now).unwrap(), 0);
    assert_eq!(
        migrations::current_version(exec.as_ref()).unwrap(),
        migrations::LATEST
    );
}

fn concurrent_starts_migrate_exactly_once(db: &TestDb) {
    let applied: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    migrations::migrate(db.connect().as_ref(), Timestamp::from_micros(1)).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        applied.iter().sum::<usize>(),
        migrations::MIGRATIONS.len(),
        "{applied:?}"
    );
    let exec = db.connect();
    let rows = exec
        .query("SELECT COUNT(*) FROM schema_migrations", &[])
        .unwrap();
    assert_eq!(rows[0].int(0).unwrap(), migrations::LATEST);
}

fn releases_are_idempotent_by_digest(db: &TestDb) {
    with_ledger(db, |ledger| {
        let (first, created) = ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_A))
            .unwrap();
        assert_eq!(created, Created::New);
        assert_eq!(
            (first.version.as_str(), first.created_by.as_str()),
            ("1.0.0", "kestra")
        );
        assert_eq!(first.created_at, Timestamp::from_micros(1_000));
        let again = ctx("someone-else", "req-2", 9_000);
        let (second, created) = ledger
            .create_release(&again, &release("1.0.0", DIGEST_A))
            .unwrap();
        assert_eq!((created, &second), (Created::AlreadyRecorded, &first));
        let conflict = ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_B))
            .unwrap_err();
        assert!(
            matches!(conflict, LedgerError::Conflict(ref why) if why.contains(DIGEST_A)),
            "{conflict:?}"
        );
        // Only the first call changed anything, so only it is audited.
        let audit = ledger
            .audit(PageRequest {
                limit: 100,
                before_id: None,
            })
            .unwrap();
        assert_eq!(audit.items.len(), 1);
    });
}

fn a_pinned_artifact_must_match_the_digest(db: &TestDb) {
    with_ledger(db, |ledger| {
        let mut new = release("1.0.0", DIGEST_A);
        new.artifact = ArtifactRef::parse(&format!("ghcr.io/acme/app@{DIGEST_B}")).unwrap();
        let err = ledger.create_release(&kestra(), &new).unwrap_err();
        assert!(
            matches!(
                err,
                LedgerError::Rejected {
                    field: "digest",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            ledger
                .list_releases(PageRequest {
                    limit: 10,
                    before_id: None
                })
                .unwrap()
                .items
                .is_empty()
        );
    });
}

fn releases_page_newest_first(db: &TestDb) {
    with_ledger(db, |ledger| {
        for i in 0..25 {
            ledger
                .create_release(&kestra(), &release(&format!("1.{i}.0"), DIGEST_A))
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = ledger
                .list_releases(PageRequest {
                    limit: 10,
                    before_id: cursor,
                })
                .unwrap();
            seen.extend(page.items.iter().map(|r| r.version.clone()));
            match page.next_cursor {
                Some(next) => cursor = Some(next.parse().unwrap()),
                None => break,
            }
        }
        let expected: Vec<String> = (0..25).rev().map(|i| format!("1.{i}.0")).collect();
        assert_eq!(seen, expected);
        let exact = ledger
            .list_releases(PageRequest {
                limit: 25,
                before_id: None,
            })
            .unwrap();
        assert_eq!((exact.items.len(), exact.next_cursor), (25, None));
    });
}

fn unknown_releases_are_not_found(db: &TestDb) {
    with_ledger(db, |ledger| {
        assert!(matches!(
            ledger.release_detail(&v("9.9.9")),
            Err(LedgerError::NotFound(_))
        ));
        let err = ledger.record_deployment(
            &kestra(),
            &v("9.9.9"),
            &event("staging", DeploymentStatus::Started),
        );
        assert!(matches!(err, Err(LedgerError::NotFound(_))));
        assert!(matches!(
            ledger.request_approval(&kestra(), &v("9.9.9"), None),
            Err(LedgerError::NotFound(_))
        ));
    });
}

fn unknown_clusters_are_unprocessable(db: &TestDb) {
    with_ledger(db, |ledger| {
        ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_A))
            .unwrap();
        let err = ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("mars", DeploymentStatus::Started),
            )
            .unwrap_err();
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

fn production_needs_an_approved_approval(db: &TestDb) {
    with_ledger(db, |ledger| {
        ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_A))
            .unwrap();
        let prod = event("prod-east", DeploymentStatus::Started);
        assert!(matches!(
            ledger.record_deployment(&kestra(), &v("1.0.0"), &prod),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        ledger
            .request_approval(&kestra(), &v("1.0.0"), None)
            .unwrap();
        // Pending is not enough.
        assert!(matches!(
            ledger.record_deployment(&kestra(), &v("1.0.0"), &prod),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .decide(&ctx("alice", "r", 3), &v("1.0.0"), &approve("ship it"))
            .unwrap();
        let recorded = ledger
            .record_deployment(&kestra(), &v("1.0.0"), &prod)
            .unwrap();
        assert_eq!(
            (recorded.environment, recorded.status),
            (Environment::Production, DeploymentStatus::Started)
        );
    });
}

fn rejected_releases_never_reach_production(db: &TestDb) {
    with_ledger(db, |ledger| {
        ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_A))
            .unwrap();
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        ledger
            .request_approval(&kestra(), &v("1.0.0"), None)
            .unwrap();
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
            ledger.record_deployment(&kestra(), &v("1.0.0"), &prod),
            Err(LedgerError::Conflict(_))
        ));
    });
}

fn approvals_need_a_staging_success(db: &TestDb) {
    with_ledger(db, |ledger| {
        ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_A))
            .unwrap();
        assert!(matches!(
            ledger.request_approval(&kestra(), &v("1.0.0"), None),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Started),
            )
            .unwrap();
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Failed),
            )
            .unwrap();
        assert!(matches!(
            ledger.request_approval(&kestra(), &v("1.0.0"), None),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        let approval = ledger
            .request_approval(&kestra(), &v("1.0.0"), None)
            .unwrap();
        assert_eq!(
            (approval.state, approval.requested_by.as_str()),
            (ApprovalState::Pending, "kestra")
        );
        assert_eq!((approval.decided_by, approval.comment), (None, None));
        // At most one approval per release.
        assert!(matches!(
            ledger.request_approval(&kestra(), &v("1.0.0"), None),
            Err(LedgerError::Conflict(_))
        ));
    });
}

fn four_eyes_and_a_single_decision(db: &TestDb) {
    with_ledger(db, |ledger| {
        ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_A))
            .unwrap();
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        // Nothing to decide before a request.
        assert!(matches!(
            ledger.decide(&ctx("alice", "r", 2), &v("1.0.0"), &approve("x")),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .request_approval(&ctx("bob", "r", 2), &v("1.0.0"), None)
            .unwrap();
        for forbidden in ["kestra", "bob"] {
            let err = ledger
                .decide(&ctx(forbidden, "r", 3), &v("1.0.0"), &approve("mine"))
                .unwrap_err();
            assert!(
                matches!(err, LedgerError::FourEyes(_)),
                "{forbidden}: {err:?}"
            );
        }
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
fn four_eyes_see_whom_a_service_account_acts_for(db: &TestDb) {
    with_ledger(db, |ledger| {
        let mut new = release("1.0.0", DIGEST_A);
        new.on_behalf_of = Some(Subject::parse("Alice").unwrap());
        let (created, _) = ledger.create_release(&kestra(), &new).unwrap();
        assert_eq!(created.on_behalf_of.as_deref(), Some("alice"), "canonical");
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        let dave = Subject::parse("dave").unwrap();
        let requested = ledger
            .request_approval(&kestra(), &v("1.0.0"), Some(&dave))
            .unwrap();
        assert_eq!(requested.on_behalf_of.as_deref(), Some("dave"));
        for forbidden in ["ALICE", "dave", "kestra"] {
            let err = ledger
                .decide(&ctx(forbidden, "r", 3), &v("1.0.0"), &approve("mine"))
                .unwrap_err();
            assert!(
                matches!(err, LedgerError::FourEyes(_)),
                "{forbidden}: {err:?}"
            );
        }
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

fn twenty_concurrent_decisions_have_one_winner(db: &TestDb) {
    with_ledger(db, |ledger| {
        ledger
            .create_release(&kestra(), &release("1.0.0", DIGEST_A))
            .unwrap();
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        ledger
            .request_approval(&kestra(), &v("1.0.0"), None)
            .unwrap();
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
        let decided = ledger
            .audit(PageRequest {
                limit: 100,
                before_id: None,
            })
            .unwrap();
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

fn current_release_follows_rollbacks(db: &TestDb) {
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
        let deploy = |version: &str, cluster: &str, s: DeploymentStatus| {
            ledger
                .record_deployment(&kestra(), &v(version), &event(cluster, s))
                .unwrap()
        };
        deploy("1.0.0", "prod-east", DeploymentStatus::Succeeded);
        deploy("1.1.0", "prod-east", DeploymentStatus::Started);
        assert_eq!(
            status(ledger, "prod-east").current.unwrap().version,
            "1.0.0"
        );
        deploy("1.1.0", "prod-east", DeploymentStatus::Succeeded);
        let east = status(ledger, "prod-east");
        assert_eq!(east.current.as_ref().unwrap().version, "1.1.0");
        assert_eq!(east.current.unwrap().digest, DIGEST_A);
        deploy("1.1.0", "prod-east", DeploymentStatus::RolledBack);
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

fn rollbacks_need_an_earlier_event_there(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        let rollback = event("prod-west", DeploymentStatus::RolledBack);
        assert!(matches!(
            ledger.record_deployment(&kestra(), &v("1.0.0"), &rollback),
            Err(LedgerError::Conflict(_))
        ));
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("prod-west", DeploymentStatus::Failed),
            )
            .unwrap();
        ledger
            .record_deployment(&kestra(), &v("1.0.0"), &rollback)
            .unwrap();
    });
}

fn the_audit_log_is_complete_ordered_and_append_only(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        let page = ledger
            .audit(PageRequest {
                limit: 2,
                before_id: None,
            })
            .unwrap();
        let actions: Vec<_> = page
            .items
            .iter()
            .map(|e| (e.action.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("approval.decided", "alice"),
                ("approval.requested", "kestra")
            ]
        );
        assert_eq!(page.items[0].request_id, "req-alice");
        assert_eq!(page.items[0].target, "release/1.0.0");
        let rest = ledger
            .audit(PageRequest {
                limit: 100,
                before_id: page.next_cursor.map(|c| c.parse().unwrap()),
            })
            .unwrap();
        let actions: Vec<_> = rest.items.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["deployment.recorded", "release.created"]);
        assert_eq!(rest.items[0].target, "release/1.0.0/cluster/staging");
        assert_eq!(rest.next_cursor, None);
    });
    let exec = db.connect();
    assert!(
        exec.execute("UPDATE audit_events SET actor = 'mallory'", &[])
            .is_err()
    );
    assert!(exec.execute("DELETE FROM audit_events", &[]).is_err());
    let rows = exec
        .query(
            "SELECT COUNT(*) FROM audit_events WHERE actor = 'mallory'",
            &[],
        )
        .unwrap();
    assert_eq!(rows[0].int(0).unwrap(), 0);
}

fn approvals_filter_by_state(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        ledger
            .create_release(&kestra(), &release("1.1.0", DIGEST_B))
            .unwrap();
        ledger
            .record_deployment(
                &kestra(),
                &v("1.1.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        ledger
            .request_approval(&kestra(), &v("1.1.0"), None)
            .unwrap();
        let all = PageRequest {
            limit: 100,
            before_id: None,
        };
        let versions = |state| -> Vec<String> {
            ledger
                .list_approvals(state, all)
                .unwrap()
                .items
                .into_iter()
                .map(|a| a.version)
                .collect()
        };
        assert_eq!(versions(None), ["1.1.0", "1.0.0"]);
        assert_eq!(versions(Some(ApprovalState::Pending)), ["1.1.0"]);
        assert_eq!(versions(Some(ApprovalState::Approved)), ["1.0.0"]);
        assert!(versions(Some(ApprovalState::Rejected)).is_empty());
    });
}

fn counts_come_from_storage(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        ledger
            .create_release(&kestra(), &release("1.1.0", DIGEST_B))
            .unwrap();
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("prod-east", DeploymentStatus::Succeeded),
            )
            .unwrap();
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
        assert_eq!(
            counts.deployments,
            [
                ("prod-east".to_owned(), DeploymentStatus::Succeeded, 1),
                ("staging".to_owned(), DeploymentStatus::Succeeded, 1)
            ]
        );
        // What each cluster runs, what production should run, and nothing waiting.
        assert_eq!(
            counts.current,
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
        ledger
            .record_deployment(
                &kestra(),
                &v("1.1.0"),
                &event("staging", DeploymentStatus::Succeeded),
            )
            .unwrap();
        ledger
            .request_approval(&kestra(), &v("1.1.0"), None)
            .unwrap();
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
            counts.current[0],
            (
                "staging".to_owned(),
                Environment::Staging,
                "1.1.0".to_owned()
            )
        );
    });
}

fn release_detail_has_timeline_and_approval(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        ledger
            .record_deployment(
                &kestra(),
                &v("1.0.0"),
                &event("prod-east", DeploymentStatus::Started),
            )
            .unwrap();
        let detail = ledger.release_detail(&v("1.0.0")).unwrap();
        assert_eq!(detail.release.digest, DIGEST_A);
        let timeline: Vec<_> = detail
            .deployments
            .iter()
            .map(|d| (d.cluster.as_str(), d.status))
            .collect();
        assert_eq!(
            timeline,
            [
                ("staging", DeploymentStatus::Succeeded),
                ("prod-east", DeploymentStatus::Started)
            ]
        );
        let first = &detail.deployments[0];
        assert_eq!(
            first.execution_url.as_deref(),
            Some("https://kestra.example.com/executions/1")
        );
        assert_eq!(first.message.as_deref(), Some("succeeded on staging"));
        assert_eq!(detail.approval.unwrap().state, ApprovalState::Approved);
    });
}

fn reads_migrate_only_when_the_schema_refuses_them(db: &TestDb) {
    let exec = db.connect();
    let clusters = clusters();
    let now = Timestamp::from_micros(1);
    let calls = std::cell::Cell::new(0);
    let first_page = PageRequest {
        limit: 5,
        before_id: None,
    };
    // A fresh database: the read fails on the missing table, the migrations run, the read
    // runs again and answers.
    let page = Ledger::read(exec.as_ref(), &clusters, now, |ledger| {
        calls.set(calls.get() + 1);
        ledger.list_releases(first_page)
    })
    .unwrap();
    assert_eq!((page.items.len(), calls.get()), (0, 2));
    assert_eq!(
        migrations::current_version(exec.as_ref()).unwrap(),
        migrations::LATEST
    );
    // A current schema: one run, and a refusal the migrations cannot mend comes back as is.
    calls.set(0);
    let refused = Ledger::read(exec.as_ref(), &clusters, now, |_| {
        calls.set(calls.get() + 1);
        Err::<(), _>(LedgerError::Storage(ledger::DbError::Query(
            "refused".into(),
        )))
    });
    assert_eq!(
        (refused, calls.get()),
        (
            Err(LedgerError::Storage(ledger::DbError::Query(
                "refused".into()
            ))),
            1
        )
    );
    calls.set(0);
    let missing = Ledger::read(exec.as_ref(), &clusters, now, |ledger| {
        calls.set(calls.get() + 1);
        ledger.release_detail(&v("9.9.9"))
    });
    assert!(
        matches!(missing, Err(LedgerError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(calls.get(), 1);
}

fn every_cluster_in_two_statements(db: &TestDb) {
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
        ledger
            .record_deployment(&kestra(), &v(version), &event(cluster, status))
            .unwrap();
    }
    statements.set(0);
    let statuses = ledger.clusters().unwrap();
    assert_eq!(statements.get(), 2, "five clusters, two statements");
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

macro_rules! suite {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test] fn $test() { super::$test(&native_db::testing::TestDb::sqlite()); })+
        }
        mod postgres {
            $(#[test] fn $test() { super::$test(&native_db::testing::TestDb::postgres()); })+
        }
    };
}

suite!(
    migrations_apply_once,
    concurrent_starts_migrate_exactly_once,
    releases_are_idempotent_by_digest,
    a_pinned_artifact_must_match_the_digest,
    releases_page_newest_first,
    unknown_releases_are_not_found,
    unknown_clusters_are_unprocessable,
    production_needs_an_approved_approval,
    rejected_releases_never_reach_production,
    approvals_need_a_staging_success,
    four_eyes_and_a_single_decision,
    four_eyes_see_whom_a_service_account_acts_for,
    twenty_concurrent_decisions_have_one_winner,
    current_release_follows_rollbacks,
    rollbacks_need_an_earlier_event_there,
    the_audit_log_is_complete_ordered_and_append_only,
    approvals_filter_by_state,
    counts_come_from_storage,
    release_detail_has_timeline_and_approval,
    reads_migrate_only_when_the_schema_refuses_them,
    every_cluster_in_two_statements,
);
