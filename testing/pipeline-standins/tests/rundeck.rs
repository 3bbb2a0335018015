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
