//! The ledger survives losing its database. On each store a history is recorded through the API
//! of the real app on real Spin, backed up the way that store is backed up in earnest, written to
//! again (what a restore must not bring back), destroyed, restored, and served by a fresh Spin
//! whose every list, release and audit entry must answer byte for byte as before.
//!
//! - PostgreSQL: the exact script of `k8s/database/backup.yaml`'s CronJob, run with the Pod's
//!   environment resolved from the manifest (its Secret keys filled with the test server's
//!   credentials), then `k8s/database/restore.sh`.
//! - SQLite: `make backup` while Spin serves, and `make restore`.

use host_harness::{Host, HostBuilder, Runtime, release_body, repo, scratch_dir, token};
use ledger::{Executor, Timestamp};
use native_db::PostgresExecutor;
use native_db::testing::TestDb;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Versions the history records, and the one written after the backup.
const RECORDED: [&str; 3] = ["1.0.0", "1.1.0", "1.2.0"];
const AFTER_BACKUP: &str = "9.9.9";

/// Two weeks of a release ledger: approved and rejected releases, a failed production rollout
/// put back, one still on staging, and an observation that disagrees with the ledger.
fn record_history(host: &Host) {
    let kestra = token("kestra", &["deployer"]);
    let deploy = |version: &str, cluster: &str, status: &str| {
        let path = format!("/api/releases/{version}/deployments");
        let event = json!({"cluster": cluster, "status": status});
        let reply = host.post_json(&path, &kestra, &event);
        assert_eq!(reply.status, 201, "{}", reply.body);
    };
    host.pending_release_story(RECORDED[0], "First release.");
    host.decide(RECORDED[0], "approve", "ship it");
    for cluster in ["prod-east", "prod-west"] {
        deploy(RECORDED[0], cluster, "started");
        deploy(RECORDED[0], cluster, "succeeded");
    }
    host.pending_release_story(RECORDED[1], "Rejected: breaks the console.");
    host.decide(RECORDED[1], "reject", "the console is blank");
    host.pending_release_story(RECORDED[2], "Retry of 1.1.0.");
    host.decide(RECORDED[2], "approve", "fixed");
    deploy(RECORDED[2], "prod-east", "failed");
    deploy(RECORDED[2], "prod-east", "rolled_back");
    let observed_at = serde_json::to_value(now()).unwrap();
    let observation = json!({"digest": release_body("0.0.0")["digest"], "observed_at": observed_at,
                             "source": "karmada:spinapp/automatizacion-backend"});
    let reply = host.post_json(
        "/api/clusters/prod-west/observations",
        &kestra,
        &observation,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp::from_micros(i64::try_from(since_epoch.as_micros()).unwrap())
}

/// Every read the API offers over the recorded history, by path.
fn answers(host: &Host) -> BTreeMap<String, String> {
    let mut paths: Vec<String> = [
        "/api/releases?limit=100",
        "/api/releases?limit=1",
        "/api/approvals",
        "/api/approvals?state=pending",
        "/api/clusters",
        "/api/overview",
        "/api/audit?limit=100",
        "/api/audit?limit=2",
    ]
    .map(str::to_owned)
    .into();
    paths.extend(RECORDED.map(|v| format!("/api/releases/{v}")));
    let mut answers: BTreeMap<String, String> = paths
        .into_iter()
        .map(|path| {
            let reply = host.get(&path);
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            (path, reply.body)
        })
        .collect();
    // The figures, without the window's ends, which move with the clock.
    let mut insights = host.get("/api/insights?days=30").json();
    for end in ["from", "to"] {
        insights.as_object_mut().unwrap().remove(end);
    }
    answers.insert("/api/insights?days=30".into(), insights.to_string());
    answers
}

/// The newest audit entry's id: a restored ledger must go on numbering after it.
fn last_audit_id(host: &Host) -> i64 {
    host.get("/api/audit?limit=1").json()["items"][0]["id"]
        .as_i64()
        .unwrap()
}

/// After a restore: VERSION written after the backup is gone, and the ledger takes new writes.
fn assert_restored(host: &Host, before: &BTreeMap<String, String>, last_id: i64) {
    for (path, body) in answers(host) {
        assert_eq!(
            &body, &before[&path],
            "{path} answers differently after the restore"
        );
    }
    assert_eq!(
        host.get(&format!("/api/releases/{AFTER_BACKUP}")).status,
        404
    );
    let kestra = token("kestra", &["deployer"]);
    let created = host.post_json("/api/releases", &kestra, &release_body("2.0.0"));
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        last_audit_id(host) > last_id,
        "audit ids restart after a restore"
    );
}

fn write_after_backup(host: &Host) {
    let kestra = token("kestra", &["deployer"]);
    let created = host.post_json("/api/releases", &kestra, &release_body(AFTER_BACKUP));
    assert_eq!(created.status, 201, "{}", created.body);
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The one line a refused command prints, after checking it failed.
fn refused(output: Output) -> String {
    let line = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "succeeded: {line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    line
}

/// The files in DIR, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

mod postgres {
    use super::*;
    use serde::Deserialize;

    /// The test server as libpq's variables name it, and the database's own name.
    struct Server {
        admin_url: String,
        host: String,
        port: String,
        database: String,
    }

    impl Server {
        fn of(db: &TestDb) -> Self {
            let url = db.db_url().unwrap();
            let (authority, database) = url.rsplit_once('@').unwrap().1.split_once('/').unwrap();
            let (host, port) = authority.split_once(':').unwrap();
            Server {
                admin_url: std::env::var("LEDGER_TEST_PG_URL").unwrap(),
                host: host.into(),
                port: port.into(),
                database: database.into(),
            }
        }

        /// libpq's variables for this database (the server trusts loopback: no password).
        fn libpq(&self) -> Vec<(String, String)> {
            [
                ("PGHOST", self.host.as_str()),
                ("PGPORT", &self.port),
                ("PGUSER", "postgres"),
                ("PGDATABASE", &self.database),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into()
        }

        /// What a lost volume leaves: the database gone, then created again empty.
        fn destroy(&self) {
            let admin = PostgresExecutor::connect(&self.admin_url).unwrap();
            let name = &self.database;
            admin
                .execute(&format!("DROP DATABASE {name} WITH (FORCE)"), &[])
                .unwrap();
            admin
                .execute(&format!("CREATE DATABASE {name}"), &[])
                .unwrap();
        }
    }

    fn app(label: &str, db: &TestDb) -> Host {
        let url = db.db_url().unwrap();
        let authority = format!("postgres://{}", url.split('@').nth(1).unwrap());
        let authority = authority.rsplit_once('/').unwrap().0.to_owned();
        HostBuilder::on(Runtime::Spin, label)
            .var("db_url", url)
            .var("db_outbound_host", &authority)
            .start()
    }

    /// One entry of the CronJob container's `env`: a `value`, or a key of a Secret.
    struct EnvVar {
        name: String,
        value: String,
        secret_key: Option<String>,
    }

    /// The CronJob's container: its command and its environment, as the manifest writes them.
    fn cronjob() -> (Vec<String>, Vec<EnvVar>) {
        let text = std::fs::read_to_string(repo().join("k8s/database/backup.yaml")).unwrap();
        let documents = serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde_yaml::Value::deserialize(d).unwrap())
            .collect::<Vec<_>>();
        let job = documents
            .iter()
            .find(|d| d["kind"] == "CronJob")
            .expect("backup.yaml has a CronJob");
        let container = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        let text = |v: &serde_yaml::Value| v.as_str().map(str::to_owned);
        let command = container["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| text(s).unwrap())
            .collect();
        let env = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| EnvVar {
                name: text(&e["name"]).unwrap(),
                value: text(&e["value"]).unwrap_or_default(),
                secret_key: text(&e["valueFrom"]["secretKeyRef"]["key"]),
            })
            .collect();
        (command, env)
    }

    /// Runs the CronJob's command as its Pod would, against SERVER, writing into BACKUPS and
    /// keeping KEEP (the manifest's value when `None`).
    fn run_cronjob(server: &Server, backups: &Path, keep: Option<&str>) -> Output {
        let (command, env) = cronjob();
        let secret = BTreeMap::from([
            ("POSTGRES_USER", "postgres".to_owned()),
            ("POSTGRES_PASSWORD", String::new()),
            ("POSTGRES_DB", server.database.clone()),
        ]);
        let mut process = Command::new(&command[0]);
        process.args(&command[1..]).env_clear();
        process.env("PATH", std::env::var("PATH").unwrap());
        for EnvVar {
            name,
            value,
            secret_key,
        } in env
        {
            let value = match (name.as_str(), secret_key) {
                (_, Some(key)) => secret[key.as_str()].clone(),
                // The Service's name resolves only in the cluster; the volume is mounted there.
                ("PGHOST", None) => server.host.clone(),
                ("BACKUP_DIR", None) => backups.display().to_string(),
                ("BACKUP_KEEP", None) => keep.map_or(value, str::to_owned),
                (_, None) => value,
            };
            process.env(name, value);
        }
        // The Service listens on 5432; the loopback server does not.
        process.env("PGPORT", &server.port);
        process.output().unwrap()
    }

    fn restore(server: &Server, dump: &Path) -> Output {
        Command::new(repo().join("k8s/database/restore.sh"))
            .arg(dump)
            .envs(server.libpq())
            .output()
            .unwrap()
    }

    #[test]
    fn a_destroyed_database_comes_back_from_the_cronjobs_dump_answering_as_before() {
        let db = TestDb::postgres();
        let server = Server::of(&db);
        let before_backup = app("backup-pg", &db);
        record_history(&before_backup);
        let before = answers(&before_backup);
        let last_id = last_audit_id(&before_backup);

        let backups = scratch_dir("pg-backups");
        let printed = succeeded(run_cronjob(&server, &backups, None));
        let dumps = files(&backups);
        assert_eq!(dumps.len(), 1, "{dumps:?}");
        assert!(printed.contains(&dumps[0]), "{printed}");
        write_after_backup(&before_backup);
        drop(before_backup);

        server.destroy();
        let dump = backups.join(&dumps[0]);
        succeeded(restore(&server, &dump));
        // A new Spin, so that no read model from before can answer for the database.
        assert_restored(&app("restored-pg", &db), &before, last_id);
    }

    #[test]
    fn the_cronjob_keeps_the_newest_dumps_and_no_half_written_one() {
        let db = TestDb::postgres();
        let server = Server::of(&db);
        record_history(&app("retention-pg", &db));
        let backups = scratch_dir("pg-retention");
        for old in [
            "ledger-20261101T070000Z.dump",
            "ledger-20261102T070000Z.dump",
            "ledger-20261103T070000Z.dump.partial",
            "notes.txt",
        ] {
            std::fs::write(backups.join(old), "older").unwrap();
        }
        succeeded(run_cronjob(&server, &backups, Some("2")));
        let kept = files(&backups);
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert_eq!(kept[0], "ledger-20261102T070000Z.dump");
        assert!(kept[1].starts_with("ledger-2") && kept[1].ends_with("Z.dump"));
        assert_eq!(kept[2], "notes.txt");

        // A database that cannot be reached fails the job and leaves no dump behind.
        let unreachable = Server {
            port: host_harness::free_port().to_string(),
            ..Server::of(&db)
        };
        let failed = scratch_dir("pg-failed");
        assert!(!run_cronjob(&unreachable, &failed, None).status.success());
        assert!(
            files(&failed).iter().all(|f| !f.ends_with(".dump")),
            "{:?}",
            files(&failed)
        );
    }

    #[test]
    fn restore_refuses_what_is_not_a_ledgers_dump_and_changes_nothing() {
        let db = TestDb::postgres();
        let server = Server::of(&db);
        let host = app("refused-pg", &db);
        record_history(&host);
        let before = answers(&host);
        let dir = scratch_dir("pg-refused");
        let not_a_dump = dir.join("ledger.dump");
        std::fs::write(&not_a_dump, "PGDMP but not really").unwrap();
        let line = refused(restore(&server, &not_a_dump));
        assert!(line.contains("not a pg_dump archive"), "{line}");
        let line = refused(restore(&server, &dir.join("missing.dump")));
        assert!(line.contains("no such file"), "{line}");
        let no_database = Command::new(repo().join("k8s/database/restore.sh"))
            .arg(&not_a_dump)
            .env_remove("PGDATABASE")
            .output()
            .unwrap();
        assert!(refused(no_database).contains("PGDATABASE"));
        assert_eq!(answers(&host), before);
    }
}

mod sqlite {
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
}
