//! Restores across releases. The dump to restore after a bad upgrade was taken before it, so it
//! is older than the database it goes into: whatever later migrations created must go, or the
//! app cannot migrate the restored ledger forward and never gets ready. And a dump from a newer
//! release than the one restoring it is refused before anything changes.

use super::postgres::{Server, app_at, restore, run_cronjob};
use super::*;
use ledger::migrations::{self, LATEST};
use std::collections::BTreeSet;

/// A ledger as a release at schema VERSION wrote it: its own rows, in columns every schema
/// since the first has, so that any older schema can hold them.
const OLDER_HISTORY: &str = "
    INSERT INTO releases (version, artifact, digest, git_commit, notes, created_by, created_at)
    VALUES ('0.8.0', 'ghcr.io/acme/automatizacion:0.8.0',
            'sha256:0808080808080808080808080808080808080808080808080808080808080808',
            '0808080808080808080808080808080808080808', 'Written by an older release.',
            'kestra', 1764000000000000),
           ('0.9.0', 'ghcr.io/acme/automatizacion:0.9.0',
            'sha256:0909090909090909090909090909090909090909090909090909090909090909',
            '0909090909090909090909090909090909090909', 'Its successor.',
            'kestra', 1764100000000000);
    INSERT INTO deployments (release_id, cluster, environment, status, message, recorded_by,
                             recorded_at)
    SELECT id, 'staging', 'staging', 'succeeded', 'ok', 'kestra', created_at + 60000000
    FROM releases;
    INSERT INTO approvals (release_id, state, requested_by, requested_at, decided_by, decided_at,
                           comment)
    SELECT id, 'approved', 'kestra', created_at + 120000000, 'alice', created_at + 180000000,
           'ship it'
    FROM releases WHERE version = '0.8.0';
    INSERT INTO deployments (release_id, cluster, environment, status, recorded_by, recorded_at)
    SELECT id, 'prod-east', 'production', 'succeeded', 'kestra', created_at + 240000000
    FROM releases WHERE version = '0.8.0';
    INSERT INTO audit_events (at, actor, action, target, request_id, detail)
    SELECT created_at, 'kestra', 'release.created', 'release/' || version, 'req-old', digest
    FROM releases";

const OLDER_VERSIONS: [&str; 2] = ["0.8.0", "0.9.0"];

fn now() -> ledger::Timestamp {
    ledger::Timestamp::from_micros(1_764_000_000_000_000)
}

/// A new database holding a ledger at schema VERSION, with the older history in it.
fn ledger_at(version: i64) -> (TestDb, Server) {
    let db = TestDb::postgres();
    let exec = db.connect();
    migrations::migrate_to(exec.as_ref(), now(), version).unwrap();
    for statement in OLDER_HISTORY.split(';') {
        exec.execute(statement, &[]).unwrap();
    }
    let server = Server::of(&db);
    (db, server)
}

/// The CronJob's dump of SERVER, in a directory of its own.
fn dump_of(server: &Server, label: &str) -> PathBuf {
    let backups = scratch_dir(label);
    succeeded(run_cronjob(server, &backups, None));
    backups.join(&files(&backups)[0])
}

/// A database at the latest schema that belongs to a role of its own, which the app connects
/// as (as in a cluster, where the restore runs as an administrator): the database, that role's
/// `db_url`, and the server.
fn owned_ledger(label: &str) -> (TestDb, String, Server) {
    let db = TestDb::postgres();
    let server = Server::of(&db);
    let role = format!("owner_{}", server.database);
    let admin = PostgresExecutor::connect(&server.admin_url).unwrap();
    admin
        .execute(&format!("CREATE ROLE {role} LOGIN"), &[])
        .unwrap();
    admin
        .execute(
            &format!("ALTER DATABASE {} OWNER TO {role}", server.database),
            &[],
        )
        .unwrap();
    let url = db
        .db_url()
        .unwrap()
        .replacen("postgres@", &format!("{role}@"), 1);
    record_history(&app_at(label, &url));
    (db, url, server)
}

/// What the ledger's schema consists of: tables, indexes, sequences, triggers and functions in
/// `public`, with their owners.
fn catalog(db: &TestDb) -> BTreeSet<String> {
    let exec = db.connect();
    let rows = exec
        .query(
            "SELECT c.relkind::text || ' ' || c.relname || ' ' || pg_get_userbyid(c.relowner)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public'
             UNION ALL
             SELECT 'trigger ' || t.tgname FROM pg_trigger t
             JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND NOT t.tgisinternal
             UNION ALL
             SELECT 'function ' || p.proname || ' ' || pg_get_userbyid(p.proowner) FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
            &[],
        )
        .unwrap();
    rows.iter().map(|row| row.text(0).unwrap()).collect()
}

/// A dump of each older schema (the one before `observations` existed, and the one before the
/// latest) restored, as an administrator, over a ledger at the latest schema that its own role
/// owns and has written since: the app, as that role, then gets ready (migrating forward), and
/// answers exactly what the same dump migrated forward on its own answers, from exactly the
/// same schema. With `pg_restore --clean` alone, the later tables survived the restore, the
/// migrations that create them failed, and `/api/ready` stayed 503.
#[test]
fn an_older_dump_replaces_a_newer_ledger_and_migrates_forward() {
    for version in [3, LATEST - 1] {
        let (older, older_server) = ledger_at(version);
        let dump = dump_of(&older_server, &format!("pg-schema-{version}"));
        let expected = answers_of(
            &app_at(&format!("older-{version}"), older.db_url().unwrap()),
            &OLDER_VERSIONS,
        );

        let (newer, url, server) = owned_ledger(&format!("newer-{version}"));
        let printed = succeeded(restore(&server, &dump));
        assert!(printed.contains(&format!("schema {version}")), "{printed}");
        let restored = app_at(&format!("restored-{version}"), &url);
        assert_eq!(
            answers_of(&restored, &OLDER_VERSIONS),
            expected,
            "schema {version}: the restored ledger answers otherwise"
        );
        let role = format!("owner_{}", server.database);
        let owned_as_before: BTreeSet<String> = catalog(&older)
            .into_iter()
            .map(|entry| entry.replace(" postgres", &format!(" {role}")))
            .collect();
        assert_eq!(catalog(&newer), owned_as_before, "schema {version}");
    }
}

/// A dump whose schema this release does not know (taken by a newer release) is refused with
/// one line before anything changes: migrating backwards is not something the app can do.
#[test]
fn a_dump_from_a_newer_release_is_refused_and_changes_nothing() {
    let (newer_release, newer_server) = ledger_at(LATEST);
    newer_release
        .connect()
        .execute(
            &format!(
                "INSERT INTO schema_migrations (version, name, applied_at)
                 VALUES ({}, 'from a newer release', 0)",
                LATEST + 1
            ),
            &[],
        )
        .unwrap();
    let dump = dump_of(&newer_server, "pg-newer");

    let (_ledger, url, server) = owned_ledger("refuses-newer");
    let host = app_at("refuses-newer-check", &url);
    let before = answers(&host);
    let line = refused(restore(&server, &dump));
    assert!(
        line.contains(&format!("schema {}", LATEST + 1)) && line.contains("nothing changed"),
        "{line}"
    );
    assert_eq!(answers(&host), before);
}

/// Both restore scripts know the schema this build migrates to: one left behind would refuse
/// every backup the release itself takes.
#[test]
fn the_restore_scripts_know_the_latest_schema() {
    for script in ["k8s/database/restore.sh", "scripts/sqlite-backup.sh"] {
        let text = std::fs::read_to_string(repo().join(script)).unwrap();
        let known = text
            .lines()
            .find_map(|l| {
                l.trim_start_matches("export ")
                    .strip_prefix("KNOWN_SCHEMA=")
            })
            .unwrap_or_else(|| panic!("{script} sets no KNOWN_SCHEMA"));
        assert_eq!(known.parse::<i64>().unwrap(), LATEST, "{script}");
    }
}
