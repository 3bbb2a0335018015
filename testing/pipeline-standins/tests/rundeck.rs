//! The Rundeck stand-in's key storage, filled as `rd keys create` fills it, and what a secure
//! option can load from it (`testing/reference/rundeck/runtime.json`, `keyStorage` and
//! `secureOptions`).

use pipeline_standins::rundeck::{PASSWORD, Rundeck, rd};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("standin-rundeck-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rundeck() -> Rundeck {
    Rundeck::new(
        &repo().join("rundeck/acl/automatizacion-releases.aclpolicy"),
        std::env::var("PATH").unwrap(),
    )
}

fn rd(rundeck: &mut Rundeck, args: &[&str], file: Option<&[u8]>) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    rd::run(rundeck, &args, file, &repo())
}

/// rundeck-cli reads a password file's first line only ("read the first line of the file
/// only, and leave off line breaks"); the other types take the whole file.
#[test]
fn rd_stores_a_password_files_first_line_only() {
    let mut rundeck = rundeck();
    let pem = pipeline_standins::key("rundeck-1.pem");
    let stored = |rundeck: &Rundeck, path: &str| rundeck.keys[path].clone();
    rd(
        &mut rundeck,
        &[
            "keys",
            "create",
            "-t",
            "password",
            "-p",
            "keys/a/pem",
            "-f",
            "x.pem",
        ],
        Some(pem.as_bytes()),
    )
    .unwrap();
    let key = stored(&rundeck, "keys/a/pem");
    assert_eq!(key.content, b"-----BEGIN PRIVATE KEY-----");
    assert_eq!(key.content_type, PASSWORD);
    rd(
        &mut rundeck,
        &[
            "keys",
            "create",
            "-t",
            "privateKey",
            "-p",
            "a/whole",
            "-f",
            "x.pem",
        ],
        Some(pem.as_bytes()),
    )
    .unwrap();
    assert_eq!(stored(&rundeck, "keys/a/whole").content, pem.as_bytes());
    for (args, file, why) in [
        (
            vec![
                "keys", "create", "-t", "password", "-p", "a/empty", "-f", "e",
            ],
            Some(&b"\r\nsecond line"[..]),
            "No content found in file: e",
        ),
        (
            vec!["keys", "create", "-t", "other", "-p", "a/o", "-f", "o"],
            Some(&b"x"[..]),
            "Type is not supported: other",
        ),
        (
            vec!["keys", "create", "-t", "password", "-p", "a/pem", "-f", "x"],
            Some(&b"again"[..]),
            "resource already exists: /keys/a/pem",
        ),
    ] {
        assert_eq!(rd(&mut rundeck, &args, file).unwrap_err(), why);
    }
}

/// The README's loading commands, run as they are written: every key reaches key storage
/// whole (as one line of base64) and as a password, which a secure option can load. The same
/// commands without the base64 step (as the README once had them) store a PEM key's first
/// line: the approver key would be `-----BEGIN PRIVATE KEY-----`.
#[test]
fn the_readmes_commands_store_whole_keys_a_secure_option_can_load() {
    use base64::Engine;
    let files = |label: &str| {
        let dir = scratch(label);
        for (file, content) in [
            (
                "rundeck-approver.pem",
                pipeline_standins::key("rundeck-1.pem"),
            ),
            (
                "rundeck-deployer.pem",
                pipeline_standins::key("rundeck-admins-1.pem"),
            ),
            ("kestra-password.txt", "Resume1sAllowed\n".to_owned()),
            (
                "karmada.kubeconfig",
                "apiVersion: v1\nkind: Config\n".to_owned(),
            ),
        ] {
            std::fs::write(dir.join(file), content).unwrap();
        }
        std::os::unix::fs::symlink(repo().join("rundeck"), dir.join("rundeck")).unwrap();
        dir
    };
    let readme = repo().join("rundeck/README.md");
    let mut rundeck = rundeck();
    rd::load_as_the_readme_says(&mut rundeck, &readme, &files("readme")).unwrap();
    let decoded = |path: &str| {
        let key = &rundeck.keys[path];
        assert_eq!(key.content_type, PASSWORD, "{path}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&key.content)
            .unwrap_or_else(|e| panic!("{path} is not one line of base64: {e}"));
        String::from_utf8(bytes).unwrap()
    };
    assert_eq!(
        decoded("keys/automatizacion/approver-signing-key"),
        pipeline_standins::key("rundeck-1.pem")
    );
    assert_eq!(
        decoded("keys/automatizacion/karmada-kubeconfig"),
        "apiVersion: v1\nkind: Config\n"
    );
    assert_eq!(
        rundeck.keys["keys/automatizacion/kestra-password"].content,
        b"Resume1sAllowed"
    );

    let old: String = std::fs::read_to_string(&readme)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("base64 ") && !l.starts_with("rm "))
        .map(|l| format!("{}\n", l.replace(".b64", "")))
        .collect();
    let old_readme = scratch("old-readme").join("README.md");
    std::fs::write(&old_readme, old).unwrap();
    let mut rundeck = self::rundeck();
    rd::load_as_the_readme_says(&mut rundeck, &old_readme, &files("old")).unwrap();
    assert_eq!(
        rundeck.keys["keys/automatizacion/approver-signing-key"].content,
        b"-----BEGIN PRIVATE KEY-----"
    );
}

/// What reaches a job's script, as Rundeck exports it (`secureOptions.exposure`,
/// `plainDefaultIgnored`, `missingOrUnreadable`, `projectGlobals`): an exposed secure option
/// as `RD_OPTION_*` and `RD_SECUREOPTION_*`, a "Secure Remote Authentication" one not at all, a
/// secure option with a literal default never (not even a value given for it), and names with
/// anything but letters, digits and `_` as `_`. A required secure option whose key the user
/// may not read stops the run with Rundeck's words.
#[test]
fn secure_options_and_globals_reach_the_script_as_rundeck_exports_them() {
    let dir = scratch("exports");
    let job = dir.join("job.yaml");
    let write_job = |required_key: &str| {
        let yaml = format!(
            r#"- name: approve-release
  group: automatizacion
  uuid: 0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9
  options:
    - name: plain-one
      value: default
    - name: exposed
      secure: true
      valueExposed: true
      storagePath: keys/automatizacion/approver-signing-key
    - name: hidden
      secure: true
      storagePath: keys/automatizacion/approver-signing-key
    - name: literal
      secure: true
      valueExposed: true
      value: in-the-job-file
    - name: needed
      secure: true
      valueExposed: true
      required: true
      storagePath: {required_key}
  sequence:
    commands:
      - script: env | grep '^RD_' | sort
"#
        );
        std::fs::write(&job, yaml).unwrap();
    };
    let mut rundeck = rundeck();
    for path in [
        "keys/automatizacion/approver-signing-key",
        "keys/automatizacion/kestra-password",
        "keys/automatizacion/deployer-signing-key",
    ] {
        let stored = pipeline_standins::rundeck::StoredKey {
            content: path.rsplit('/').next().unwrap().as_bytes().to_vec(),
            content_type: PASSWORD.into(),
        };
        rundeck.keys.insert(path.into(), stored);
    }
    rundeck
        .globals
        .insert("kestra-url".into(), "http://kestra:8080".into());
    rundeck
        .users
        .insert("ana".into(), vec!["release-approvers".into()]);

    write_job("keys/automatizacion/kestra-password");
    let run = rundeck.run(&job, "ana", &[("literal", "typed-in")]);
    assert!(run.succeeded, "{}", run.output);
    let exported: Vec<&str> = run
        .output
        .lines()
        .filter(|l| !l.starts_with("RD_JOB_"))
        .collect();
    assert_eq!(
        exported,
        [
            "RD_GLOBALS_KESTRA_URL=http://kestra:8080",
            "RD_OPTION_EXPOSED=approver-signing-key",
            "RD_OPTION_NEEDED=kestra-password",
            "RD_OPTION_PLAIN_ONE=default",
            "RD_SECUREOPTION_EXPOSED=approver-signing-key",
            "RD_SECUREOPTION_NEEDED=kestra-password",
        ]
    );

    // Approvers may not read the deployer key.
    write_job("keys/automatizacion/deployer-signing-key");
    let refused = rundeck.run(&job, "ana", &[]);
    assert!(!refused.succeeded);
    assert_eq!(
        refused.output,
        "Option needed is required, but storage value from \
         \"keys/automatizacion/deployer-signing-key\" could not be read."
    );
}
