//! Migrations: applied once, whoever starts first, and reads that meet an old schema.

use super::*;

pub fn migrations_apply_once(db: &TestDb) {
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

pub fn concurrent_starts_migrate_exactly_once(db: &TestDb) {
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

pub fn reads_migrate_only_when_the_schema_refuses_them(db: &TestDb) {
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
