//! The audit log: complete, in order, and append-only in the database itself.

use super::*;

pub fn the_audit_log_is_complete_ordered_and_append_only(db: &TestDb) {
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
