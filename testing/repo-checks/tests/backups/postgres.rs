use super::*;
use serde::Deserialize;

/// The test server as libpq's variables name it, and the database's own name.
pub(crate) struct Server {
    pub admin_url: String,
    pub host: String,
    pub port: String,
    pub database: String,
}

impl Server {
    pub fn of(db: &TestDb) -> Self {
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
    pub fn libpq(&self) -> Vec<(String, String)> {
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
    app_at(label, db.db_url().unwrap())
}

/// The app on real Spin over the PostgreSQL database URL names (as whichever role it names).
pub(crate) fn app_at(label: &str, url: &str) -> Host {
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
pub(crate) fn run_cronjob(server: &Server, backups: &Path, keep: Option<&str>) -> Output {
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

pub(crate) fn restore(server: &Server, dump: &Path) -> Output {
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
    // PGDATABASE may be a whole connection string; its password is never printed.
    let secret = "not-a-real-password";
    let url = format!(
        "postgresql://postgres:{secret}@{}:{}/{}",
        server.host, server.port, server.database
    );
    let restored = Command::new(repo().join("k8s/database/restore.sh"))
        .arg(&dump)
        .envs(server.libpq())
        .env("PGDATABASE", &url)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&restored.stdout),
        String::from_utf8_lossy(&restored.stderr)
    );
    succeeded(restored);
    assert!(!printed.contains(secret), "{printed}");
    assert!(printed.contains(&server.database), "{printed}");
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
