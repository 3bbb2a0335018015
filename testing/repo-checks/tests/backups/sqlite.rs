use super::*;

fn make(args: &[&str]) -> Output {
    Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(repo())
        .args(args)
        .output()
        .unwrap()
}

fn db_in(dir: &Path) -> PathBuf {
    dir.join("sqlite_db.db")
}

fn releases_in(db: &Path) -> i64 {
    let connection = rusqlite::Connection::open(db).unwrap();
    connection
        .query_row("SELECT count(*) FROM releases", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn make_backup_while_spin_serves_and_make_restore_bring_the_ledger_back() {
    let serving = HostBuilder::on(Runtime::Spin, "backup-sqlite").start();
    record_history(&serving);
    let before = answers(&serving);
    let last_id = last_audit_id(&serving);
    let live = db_in(&serving.sqlite_dir);
    let backups = scratch_dir("sqlite-backups");
    let backup_dir = format!("BACKUP_DIR={}", backups.display());
    let sqlite_db = format!("SQLITE_DB={}", live.display());

    succeeded(make(&["backup", &sqlite_db, &backup_dir]));
    let taken = files(&backups);
    assert_eq!(taken.len(), 1, "{taken:?}");
    let backup = backups.join(&taken[0]);
    write_after_backup(&serving);

    // A second backup while writes arrive is one moment of the ledger: whole, and holding
    // every release written before it started and none written after it ended.
    let (first, copied, last) = std::thread::scope(|s| {
        let written = releases_in(&live);
        let writer = s.spawn(|| {
            let kestra = token("kestra", &["deployer"]);
            for patch in 0..20 {
                let body = release_body(&format!("3.0.{patch}"));
                let reply = serving.post_json("/api/releases", &kestra, &body);
                assert_eq!(reply.status, 201, "{}", reply.body);
            }
        });
        let during = scratch_dir("sqlite-during");
        let dir = format!("BACKUP_DIR={}", during.display());
        succeeded(make(&["backup", &sqlite_db, &dir]));
        let copied = releases_in(&during.join(&files(&during)[0]));
        let after_backup = releases_in(&live);
        writer.join().unwrap();
        (written, copied, after_backup)
    });
    assert!(
        first <= copied && copied <= last,
        "{first} ≤ {copied} ≤ {last}"
    );
    drop(serving);

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", live.display()));
    }
    let state = scratch_dir("sqlite-restored");
    let restored_db = format!("SQLITE_DB={}", db_in(&state).display());
    let restore = format!("BACKUP={}", backup.display());
    succeeded(make(&["restore", &restore, &restored_db]));
    let restored = HostBuilder::on(Runtime::Spin, "restored-sqlite")
        .sqlite_dir(state)
        .start();
    assert_restored(&restored, &before, last_id);
}

/// `scripts/sqlite-backup.sh`, which `make backup` and `make restore` run.
fn script(args: &[&Path]) -> Output {
    Command::new(repo().join("scripts/sqlite-backup.sh"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn backup_and_restore_refuse_bad_input_with_one_line() {
    let dir = scratch_dir("sqlite-refused");
    let line = refused(script(&[Path::new("backup"), &dir.join("none.db")]));
    assert!(line.contains("no such file"), "{line}");

    let not_sqlite = dir.join("ledger.db");
    std::fs::write(&not_sqlite, "not a database at all, but long enough").unwrap();
    let target = db_in(&dir);
    std::fs::write(&target, "the ledger's file").unwrap();
    let line = refused(script(&[Path::new("restore"), &not_sqlite, &target]));
    assert!(line.contains("not a SQLite database"), "{line}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the ledger's file"
    );

    let empty = dir.join("empty.db");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE other (x)")
        .unwrap();
    let line = refused(script(&[Path::new("restore"), &empty, &target]));
    assert!(line.contains("holds no ledger"), "{line}");

    let damaged = dir.join("damaged.db");
    let connection = rusqlite::Connection::open(&damaged).unwrap();
    connection
        .execute_batch("CREATE TABLE releases (version TEXT, notes TEXT); CREATE INDEX by_version ON releases (version);")
        .unwrap();
    for n in 0..2000 {
        let row = (n.to_string(), "x".repeat(50));
        connection
            .execute("INSERT INTO releases VALUES (?1, ?2)", row)
            .unwrap();
    }
    drop(connection);
    // Bytes of an index page overwritten: SQLite still opens the file, and its integrity
    // check finds the damage.
    let mut bytes = std::fs::read(&damaged).unwrap();
    let page = bytes.len() - 3 * 4096;
    bytes[page + 100..page + 600].fill(b'A');
    std::fs::write(&damaged, bytes).unwrap();
    let line = refused(script(&[Path::new("restore"), &damaged, &target]));
    assert!(line.contains("is damaged"), "{line}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the ledger's file"
    );
}

/// Paths may hold any character: `?`, `#` and `%` reach SQLite as percent-encoded URIs (a raw
/// `file:` URI ends the path at `?` or `#` and decodes `%`, opening another file), and the
/// Makefile quotes them (spaces). Backed up into such a directory, restored to such a file,
/// backed up from it and restored again, the ledger answers as before, and no stray file
/// appears.
#[test]
fn backups_and_restores_take_paths_with_any_character() {
    let serving = HostBuilder::on(Runtime::Spin, "odd-paths").start();
    record_history(&serving);
    let before = answers(&serving);
    let odd = scratch_dir("sqlite-odd").join("a?b #c%41d");
    std::fs::create_dir_all(&odd).unwrap();
    let (backups, second) = (odd.join("back ups?#%"), odd.join("again%20"));
    let restored_db = odd.join("led?ger #1%2F.db");

    let live = format!("SQLITE_DB={}", db_in(&serving.sqlite_dir).display());
    let into = format!("BACKUP_DIR={}", backups.display());
    succeeded(make(&["backup", &live, &into]));
    drop(serving);
    let taken = backups.join(&files(&backups)[0]);
    let restore = format!("BACKUP={}", taken.display());
    let odd_db = format!("SQLITE_DB={}", restored_db.display());
    succeeded(make(&["restore", &restore, &odd_db]));
    let into = format!("BACKUP_DIR={}", second.display());
    succeeded(make(&["backup", &odd_db, &into]));

    let state = scratch_dir("sqlite-odd-served");
    let from = format!("BACKUP={}", second.join(&files(&second)[0]).display());
    let served_db = format!("SQLITE_DB={}", db_in(&state).display());
    succeeded(make(&["restore", &from, &served_db]));
    let restored = HostBuilder::on(Runtime::Spin, "odd-paths-restored")
        .sqlite_dir(state)
        .start();
    assert_eq!(answers(&restored), before);
    let mut made = files(&odd);
    made.retain(|name| !name.starts_with("led?ger #1%2F.db"));
    assert_eq!(
        made,
        ["again%20", "back ups?#%"],
        "stray files: {:?}",
        files(&odd)
    );
}

/// A backup taken by a newer release (a schema this one does not know) is refused with one
/// line, and the ledger it would have replaced is untouched.
#[test]
fn a_backup_from_a_newer_release_is_refused() {
    let dir = scratch_dir("sqlite-newer");
    let newer = dir.join("ledger-newer.db");
    let target = db_in(&dir);
    for path in [&newer, &target] {
        let exec = native_db::SqliteExecutor::open(path).unwrap();
        ledger::migrations::migrate(&exec, Timestamp::from_micros(1)).unwrap();
    }
    let next = ledger::migrations::LATEST + 1;
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations VALUES (?1, 'from a newer release', 0)",
            [next],
        )
        .unwrap();
    let untouched = std::fs::read(&target).unwrap();
    let line = refused(script(&[Path::new("restore"), &newer, &target]));
    assert!(
        line.contains(&format!("schema {next}")) && line.contains("nothing replaced"),
        "{line}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), untouched);
}
