//! Releases: one artifact per version, paged newest first, each with its timeline.

use super::*;

pub fn releases_are_idempotent_by_digest(db: &TestDb) {
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
        let audit = ledger.audit(ALL).unwrap();
        assert_eq!(audit.items.len(), 1);
    });
}

/// A commit is made before its release is recorded: a commit time past the ledger's clock
/// (beyond the skew allowed for the committer's) or before 1970 is refused, and nothing is
/// stored. Lead times would otherwise go negative, and sums over them overflow.
pub fn commit_times_are_bounded(db: &TestDb) {
    with_ledger(db, |ledger| {
        let now = 1_800_000_000_000_000;
        let at_now = ctx("kestra", "req-kestra", now);
        let committed = |micros: i64| {
            let mut new = release("1.0.0", DIGEST_A);
            new.commit_time = Some(Timestamp::from_micros(micros));
            ledger.create_release(&at_now, &new)
        };
        let skew = ledger::drift::MAX_CLOCK_SKEW_MICROS;
        for refused in [now + skew + 1, -1, i64::MAX / 2] {
            let err = committed(refused).unwrap_err();
            assert!(
                matches!(
                    err,
                    LedgerError::Rejected {
                        field: "commit_time",
                        ..
                    }
                ),
                "{refused}: {err:?}"
            );
        }
        assert!(
            ledger.audit(ALL).unwrap().items.is_empty(),
            "nothing stored"
        );
        let (stored, _) = committed(now + skew).unwrap();
        assert_eq!(stored.commit_time, Some(Timestamp::from_micros(now + skew)));
        assert!(
            committed(0).is_ok(),
            "1970 itself is a time, and repeats are idempotent"
        );
    });
}

pub fn a_pinned_artifact_must_match_the_digest(db: &TestDb) {
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

pub fn releases_page_newest_first(db: &TestDb) {
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
            seen.extend(page.items.iter().map(|r| r.version.to_string()));
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

pub fn unknown_releases_are_not_found(db: &TestDb) {
    with_ledger(db, |ledger| {
        assert!(matches!(
            ledger.release_detail(&v("9.9.9")),
            Err(LedgerError::NotFound(_))
        ));
        let err = deploy(ledger, "9.9.9", "staging", DeploymentStatus::Started);
        assert!(matches!(err, Err(LedgerError::NotFound(_))));
        assert!(matches!(
            request(ledger, "9.9.9"),
            Err(LedgerError::NotFound(_))
        ));
    });
}

pub fn release_detail_has_timeline_and_approval(db: &TestDb) {
    with_ledger(db, |ledger| {
        approved_release(ledger, "1.0.0");
        deploy(ledger, "1.0.0", "prod-east", DeploymentStatus::Started).unwrap();
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
        assert_eq!(detail.previous, None, "the first release replaces none");

        // Each later release names the one recorded just before it, whatever its version.
        created_release(ledger, "0.9.0", DIGEST_B);
        created_release(
            ledger,
            "1.1.0",
            "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
        );
        let previous = |version: &str| {
            let detail = ledger.release_detail(&v(version)).unwrap();
            detail
                .previous
                .map(|p| (p.version.to_string(), p.commit.to_string()))
        };
        assert_eq!(previous("0.9.0"), Some(("1.0.0".into(), COMMIT.into())));
        assert_eq!(previous("1.1.0"), Some(("0.9.0".into(), COMMIT.into())));
    });
}
