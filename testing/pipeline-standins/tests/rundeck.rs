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
            ("ledger-viewer-token.txt", "eyJ.viewer.token\n".to_owned()),
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
    assert_eq!(
        rundeck.keys["keys/automatizacion/ledger-viewer-token"].content,
        b"eyJ.viewer.token"
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

/// A web server on loopback that answers every request with STATUS, CONTENT_TYPE and BODY,
/// and keeps each request's head, lower-cased.
struct Remote {
    base: String,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn remote(status: &'static str, content_type: &'static str, body: &'static str) -> Remote {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut head = String::new();
            while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
            kept.lock().unwrap().push(head.to_lowercase());
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = (&stream).write_all(answer.as_bytes());
        }
    });
    Remote { base, heads }
}

/// A job that approvers may see, whose `version` option lists values from VALUES_URL, with
/// the token at TOKEN_PATH.
fn job_listing(label: &str, values_url: &str, token_path: &str) -> PathBuf {
    let job = scratch(label).join("job.yaml");
    let yaml = format!(
        r#"- name: approve-release
  group: automatizacion
  uuid: 0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9
  options:
    - name: version
      valuesUrl: {values_url}
      configRemoteUrl:
        authenticationType: BEARER_TOKEN
        tokenStoragePath: {token_path}
  sequence:
    commands:
      - script: 'true'
"#
    );
    std::fs::write(&job, yaml).unwrap();
    job
}

fn with_token(content_type: &str) -> Rundeck {
    let mut rundeck = rundeck();
    let stored = pipeline_standins::rundeck::StoredKey {
        content: b"eyJ.viewer.token".to_vec(),
        content_type: content_type.into(),
    };
    rundeck
        .keys
        .insert("keys/automatizacion/ledger-viewer-token".into(), stored);
    rundeck.globals.insert("folder".into(), "a/b c".into());
    rundeck
        .users
        .insert("ana".into(), vec!["release-approvers".into()]);
    rundeck
}

/// Rundeck 6.1.0's remote option values (`loadOptionsRemoteValues`): references expanded and
/// encoded (a URI component before the `?`, form-encoded after), the token a user may read
/// sent as a bearer token, `Bearer null` when not, and the JSON shapes it takes.
#[test]
fn remote_option_values_are_fetched_with_the_users_token_and_taken_as_rundeck_takes_them() {
    let server = remote(
        "200 OK",
        "application/json; charset=utf-8",
        r#"[{"name": "1.4.0 (pending)", "value": "1.4.0"}]"#,
    );
    let url = format!(
        "{}/list/${{globals.folder}}?job=${{job.name}}&folder=${{globals.folder}}\
         &chosen=${{option.decision.value}}",
        server.base
    );
    let token = "keys/automatizacion/ledger-viewer-token";
    let job = job_listing("remote-values", &url, token);
    let rundeck = with_token(PASSWORD);
    let values = rundeck.option_values(&job, "version", "ana", &[("decision", "approve")]);
    assert_eq!(
        values,
        Ok(vec![("1.4.0 (pending)".to_owned(), "1.4.0".to_owned())])
    );
    let head = server.heads.lock().unwrap()[0].clone();
    assert!(
        head.starts_with("get /list/a%2fb%20c?job=approve-release&folder=a%2fb+c&chosen=approve "),
        "{head}"
    );
    assert!(
        head.contains("\r\nauthorization: bearer eyj.viewer.token\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\naccept: application/json\r\n"), "{head}");

    // A token the user may not read as a password is no token: Groovy sends the word null.
    let not_a_password = with_token("application/octet-stream");
    let job = job_listing("remote-unreadable", &format!("{}/list", server.base), token);
    not_a_password
        .option_values(&job, "version", "ana", &[])
        .unwrap();
    let head = server.heads.lock().unwrap()[1].clone();
    assert!(
        head.contains("\r\nauthorization: bearer null\r\n"),
        "{head}"
    );
    // An unknown reference stays as written, which no URL may hold.
    let unknown = format!("{}/list?where=${{globals.nothing}}", server.base);
    let job_unknown = job_listing("remote-unknown", &unknown, token);
    let refused = rundeck.option_values(&job_unknown, "version", "ana", &[]);
    assert!(refused.unwrap_err().contains("Illegal character"));
    assert_eq!(server.heads.lock().unwrap().len(), 2, "nothing was sent");
    // Whoever may not see the job sees no values either.
    let hidden = rundeck.option_values(&job, "version", "mallory", &[]);
    assert!(hidden.unwrap_err().contains("Could not find"));
}

#[test]
fn rundeck_takes_only_json_lists_of_choices_and_retries_an_error_status() {
    let rundeck = with_token(PASSWORD);
    let token = "keys/automatizacion/ledger-viewer-token";
    let values_from = |label: &str, server: &Remote| {
        let job = job_listing(label, &format!("{}/list", server.base), token);
        rundeck.option_values(&job, "version", "ana", &[])
    };
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<Vec<_>>()
    };
    let strings = remote("200 OK", "application/json", r#"["1.4.0", "1.3.2"]"#);
    assert_eq!(
        values_from("strings", &strings),
        Ok(pairs(&[("1.4.0", "1.4.0"), ("1.3.2", "1.3.2")]))
    );
    let object = remote("200 OK", "application/json", r#"{"Latest": "1.4.0"}"#);
    assert_eq!(
        values_from("object", &object),
        Ok(pairs(&[("Latest", "1.4.0")]))
    );
    let empty = remote("200 OK", "application/json", "[]");
    assert_eq!(values_from("empty", &empty), Err("Empty result".to_owned()));
    let nameless = remote("200 OK", "application/json", r#"[{"value": "1.4.0"}]"#);
    let refused = values_from("nameless", &nameless).unwrap_err();
    assert!(refused.contains("Item: 0 has no 'name' entry"), "{refused}");
    let page = remote("200 OK", "text/html", "<p>1.4.0</p>");
    let refused = values_from("html", &page).unwrap_err();
    assert!(
        refused.contains("Unexpected content type received: text/html"),
        "{refused}"
    );
    assert_eq!(page.heads.lock().unwrap().len(), 1, "a 200 is not retried");
    let down = remote("503 Service Unavailable", "application/json", "{}");
    let refused = values_from("down", &down).unwrap_err();
    assert!(
        refused.contains("Server returned an error response: 503"),
        "{refused}"
    );
    assert_eq!(
        down.heads.lock().unwrap().len(),
        5,
        "remoteUrlRetry's default"
    );
}

/// What `rd jobs load` refuses in an option's `configRemoteUrl` (an enum's unknown name) and
/// in `notification` (`job-format.json`: its triggers, an entry's keys, e-mail recipients).
#[test]
fn remote_url_settings_and_notifications_load_only_as_rundeck_reads_them() {
    let job = |extra: &str| -> serde_json::Value {
        let yaml = format!("name: j\nsequence:\n  commands:\n    - script: 'true'\n{extra}");
        serde_yaml::from_str(&yaml).unwrap()
    };
    let problems = |extra: &str| pipeline_standins::rundeck::job_problems(&job(extra));
    assert_eq!(
        problems(
            "options:\n  - name: v\n    valuesUrl: http://x\n    configRemoteUrl:\n      \
             authenticationType: BEARER_TOKEN\n      tokenStoragePath: keys/t\n\
             notification:\n  onfailure:\n    - email:\n        recipients: a@b\n        \
             attachLog: true\n"
        ),
        Vec::<String>::new()
    );
    let bearer =
        problems("options:\n  - name: v\n    configRemoteUrl:\n      authenticationType: TOKEN\n");
    assert!(bearer[0].contains("authenticationType"), "{bearer:?}");
    let misspelt = problems("options:\n  - name: v\n    configRemoteUrl:\n      token: keys/t\n");
    assert!(
        misspelt[0].contains("configRemoteUrl.token"),
        "{misspelt:?}"
    );
    let trigger = problems("notification:\n  onfinish:\n    - email:\n        recipients: a@b\n");
    assert!(trigger[0].contains("onfinish"), "{trigger:?}");
    let nobody = problems("notification:\n  onfailure:\n    - email:\n        subject: s\n");
    assert!(nobody[0].contains("recipients: required"), "{nobody:?}");
}

/// E-mail notifications go out when a run starts and when it ends, to recipients expanded from
/// project globals and options as Rundeck's `NotificationService` does; an unresolved
/// reference is left as written. A run the ACL refuses never starts, and notifies nobody.
#[test]
fn notifications_follow_the_run_with_globals_expanded() {
    let job = scratch("notifications").join("job.yaml");
    let write_job = |script: &str| {
        let yaml = format!(
            r#"- name: approve-release
  group: automatizacion
  uuid: 0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9
  options:
    - name: team
  notification:
    onstart:
      - email:
          recipients: ${{globals.release_mail}}
    onsuccess:
      - email:
          recipients: ${{option.team}}@example.com
    onfailure:
      - email:
          recipients: ${{globals.missing}}
  sequence:
    commands:
      - script: {script}
"#
        );
        std::fs::write(&job, yaml).unwrap();
    };
    let mut rundeck = rundeck();
    rundeck
        .globals
        .insert("release_mail".into(), "releases@example.com".into());
    rundeck
        .users
        .insert("ana".into(), vec!["release-approvers".into()]);
    let notices = |run: &pipeline_standins::rundeck::JobRun| {
        run.notified
            .iter()
            .map(|n| format!("{} {}", n.trigger, n.recipients))
            .collect::<Vec<_>>()
    };
    write_job("'true'");
    let run = rundeck.run(&job, "ana", &[("team", "sre")]);
    assert_eq!(
        notices(&run),
        ["onstart releases@example.com", "onsuccess sre@example.com"]
    );
    write_job("'exit 1'");
    let run = rundeck.run(&job, "ana", &[]);
    assert_eq!(
        notices(&run),
        [
            "onstart releases@example.com",
            "onfailure ${globals.missing}"
        ]
    );
    assert!(rundeck.run(&job, "mallory", &[]).notified.is_empty());
}
