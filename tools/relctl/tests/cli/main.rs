//! `relctl` as the pipeline runs it, against the ledger on spin-host: every refusal is one
//! line on stderr and a non-zero exit, and a refused step leaves the ledger exactly as it was;
//! and relctl as people use it at a shell (`reads`, `usage`).

mod analyze;
mod reads;
mod usage;

use host_harness::{Host, HostBuilder, release_body, token};
use serde_json::Value;
use std::process::{Command, Output};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn relctl(ledger: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relctl"));
    command
        .env_remove("LEDGER_TOKEN")
        .env("LEDGER_URL", ledger)
        .args(args);
    if let Some(token) = token {
        command.env("LEDGER_TOKEN", token);
    }
    command.output().unwrap()
}

/// The one line a refusal prints, after checking that it is one line and the exit is CODE.
fn refusal(output: &Output, code: i32) -> String {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "a refusal prints nothing on stdout"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("relctl: "), "{stderr}");
    stderr.trim_end().to_owned()
}

/// Everything the ledger holds that a step could change.
fn snapshot(ledger: &Host) -> (Value, Value, Value) {
    (
        ledger.get("/api/releases?limit=100").json(),
        ledger.get("/api/audit?limit=100").json(),
        ledger.get("/api/clusters").json(),
    )
}

/// `record-deployment` of VERSION to CLUSTER with STATUS.
fn deployment<'a>(version: &'a str, cluster: &'a str, status: &'a str) -> Vec<&'a str> {
    vec![
        "record-deployment",
        "--version",
        version,
        "--cluster",
        cluster,
        "--status",
        status,
    ]
}

/// `decide` on VERSION.
fn decision<'a>(version: &'a str, decision: &'a str, comment: &'a str) -> Vec<&'a str> {
    vec![
        "decide",
        "--version",
        version,
        "--decision",
        decision,
        "--comment",
        comment,
    ]
}

/// What a step that succeeds prints, trimmed.
fn succeeds(output: Output, args: &[&str]) -> String {
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn record(ledger: &Host, deployer: &str, version: &str, digest: &str) -> Output {
    relctl(
        &ledger.base,
        Some(deployer),
        &[
            "record-release",
            "--version",
            version,
            "--artifact",
            &format!("registry.example.com/acme/automatizacion:{version}"),
            "--digest",
            digest,
            "--commit",
            COMMIT,
        ],
    )
}

/// A ledger holding release 1.0.0, recorded by the pipeline's account (issuer `kestra`, which
/// the ledger trusts to act for others), and that account's token.
fn with_release_1_0_0(label: &str) -> (Host, String) {
    let public = pipeline_standins::key("kestra-1.pub.pem");
    let jwk: Value =
        serde_json::from_str(&token::ed25519_jwk(&public, "kestra-1").unwrap()).unwrap();
    let issuers = serde_json::json!([{"issuer": "kestra", "roles": ["deployer"],
                                      "acts_for_others": true, "jwks": {"keys": [jwk]}}]);
    let ledger = HostBuilder::new(label)
        .var("auth_issuers", &issuers.to_string())
        .start();
    let claims = token::Claims::new(
        "kestra",
        &["deployer".to_owned()],
        600,
        "kestra",
        token::DEFAULT_AUDIENCE,
    );
    let key = pipeline_standins::key("kestra-1.pem");
    let deployer = token::mint(&claims, &key, Some("kestra-1")).unwrap();
    assert!(record(&ledger, &deployer, "1.0.0", DIGEST).status.success());
    (ledger, deployer)
}

#[test]
fn recording_a_release_is_idempotent_by_digest() {
    let ledger = HostBuilder::new("relctl-idempotent").start();
    let deployer = token("kestra", &["deployer"]);
    let first = record(&ledger, &deployer, "2.0.0", DIGEST);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        String::from_utf8(first.stdout).unwrap().trim(),
        format!("2.0.0@{DIGEST}")
    );
    // The pipeline retries a step that may have gone through: the same digest is a success.
    let before = snapshot(&ledger);
    assert!(record(&ledger, &deployer, "2.0.0", DIGEST).status.success());
    assert_eq!(
        snapshot(&ledger).0,
        before.0,
        "recording again changed the releases"
    );
    // Another digest for the same version is a conflict.
    let other = DIGEST.replace("0123", "4567");
    let line = refusal(&record(&ledger, &deployer, "2.0.0", &other), 1);
    assert!(line.contains("refused (409)"), "{line}");
    assert_eq!(snapshot(&ledger).0, before.0);
}

/// Lead time for changes starts at the commit: `record-release` records the committer date
/// that the repository it runs in gives (`git show -s --format=%cI`), or the one it is told.
#[test]
fn a_release_carries_its_commit_time() {
    let ledger = HostBuilder::new("relctl-commit-time").start();
    let deployer = token("kestra", &["deployer"]);
    let repo = host_harness::scratch_dir("commit-time");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&repo)
            .env("GIT_COMMITTER_DATE", "2026-11-30T09:15:00+01:00")
            .env("GIT_AUTHOR_DATE", "2026-11-29T09:15:00+01:00")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        succeeds(out, args)
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "change"]);
    let commit = git(&["rev-parse", "HEAD"]);
    let record = |version: &str, extra: &[&str]| {
        let artifact = format!("registry.example.com/acme/automatizacion:{version}");
        let mut args = vec![
            "record-release",
            "--version",
            version,
            "--artifact",
            &artifact,
        ];
        args.extend(["--digest", DIGEST, "--commit", &commit]);
        args.extend(extra);
        let output = Command::new(env!("CARGO_BIN_EXE_relctl"))
            .current_dir(&repo)
            .env("LEDGER_URL", &ledger.base)
            .env("LEDGER_TOKEN", &deployer)
            .args(&args)
            .output()
            .unwrap();
        succeeds(output, &args);
        ledger.get(&format!("/api/releases/{version}")).json()["commit_time"].clone()
    };
    assert_eq!(record("1.0.0", &[]), "2026-11-30T08:15:00.000Z");
    let told = ["--commit-time", "2026-11-28T23:00:00-02:00"];
    assert_eq!(record("1.1.0", &told), "2026-11-29T01:00:00.000Z");
    // Outside a repository holding the commit, nothing is guessed.
    let elsewhere = relctl(
        &ledger.base,
        Some(&deployer),
        &[
            "record-release",
            "--version",
            "1.2.0",
            "--artifact",
            "r.example.com/a:1.2.0",
            "--digest",
            DIGEST,
            "--commit",
            COMMIT,
        ],
    );
    assert!(elsewhere.status.success());
    assert_eq!(
        ledger.get("/api/releases/1.2.0").json()["commit_time"],
        Value::Null
    );
}

/// What is wrong, the token, the arguments, the exit code and a word the line must hold.
type Case<'a> = (&'a str, Option<&'a str>, Vec<&'a str>, i32, &'a str);

#[test]
fn bad_input_and_refusing_servers_get_one_line_and_change_nothing() {
    let ledger = HostBuilder::new("relctl-refusals").start();
    let deployer = token("kestra", &["deployer"]);
    assert_eq!(
        ledger
            .post_json("/api/releases", &deployer, &release_body("1.0.0"))
            .status,
        201
    );
    let before = snapshot(&ledger);
    let base = ledger.base.clone();
    let expired = {
        let roles = ["deployer".to_owned()];
        let iss = token::DEFAULT_ISSUER;
        let mut claims = token::Claims::new("kestra", &roles, 60, iss, token::DEFAULT_AUDIENCE);
        // Issued two hours ago, valid for a minute.
        claims.iat -= 7200;
        claims.nbf -= 7200;
        claims.exp -= 7200;
        token::mint_hs256(&claims, host_harness::HMAC_KEY.as_bytes()).unwrap()
    };
    let viewer = token("viewer", &["viewer"]);
    let deploy = deployment("1.0.0", "staging", "started");
    let bad_digest = [
        "record-release",
        "--version",
        "3.0.0",
        "--artifact",
        "r/a:3.0.0",
        "--digest",
        "sha256:abc",
        "--commit",
        COMMIT,
    ];
    let mut bad_commit_time = bad_digest.to_vec();
    bad_commit_time[6] = DIGEST;
    bad_commit_time.extend(["--commit-time", "2026-12-01T09:30:00"]);
    let request = |version| vec!["request-approval", "--version", version];
    let mut cases: Vec<Case> = vec![
        ("no token", None, deploy.clone(), 2, "no ledger token"),
        (
            "an expired token",
            Some(&expired),
            deploy.clone(),
            1,
            "(401)",
        ),
        ("the wrong role", Some(&viewer), deploy.clone(), 1, "(403)"),
    ];
    let as_deployer = [
        (
            "an unknown version",
            deployment("9.9.9", "staging", "started"),
            1,
            "(404)",
        ),
        (
            "a digest that is not sha256 and 64 hex",
            bad_digest.to_vec(),
            2,
            "sha256",
        ),
        (
            "a commit time without an offset",
            bad_commit_time,
            2,
            "RFC 3339",
        ),
        ("a version that is not semver", request("v1"), 2, "version"),
        (
            "an unknown cluster",
            deployment("1.0.0", "mars", "started"),
            1,
            "(422)",
        ),
        (
            "an approval without a staging success",
            request("1.0.0"),
            1,
            "(409)",
        ),
        (
            "production without an approval",
            deployment("1.0.0", "prod-east", "started"),
            1,
            "(409)",
        ),
        (
            "an empty comment",
            decision("1.0.0", "approve", " "),
            2,
            "--comment",
        ),
    ];
    for (what, args, code, expected) in as_deployer {
        cases.push((what, Some(&deployer), args, code, expected));
    }
    for (what, token, args, code, expected) in cases {
        let line = refusal(&relctl(&base, token, &args), code);
        assert!(line.contains(expected), "{what}: {line}");
        assert_eq!(snapshot(&ledger), before, "{what} changed the ledger");
    }
    // Nothing answers: a clear line after the retries of a read.
    let gone = format!("http://127.0.0.1:{}", host_harness::free_port());
    let state = ["approval-state", "--version", "1.0.0"];
    let line = refusal(&relctl(&gone, Some(&deployer), &state), 1);
    assert!(line.contains("cannot reach the ledger"), "{line}");
    // A flag relctl does not know is a usage error from clap (exit 2), before anything is sent.
    let output = relctl(&base, Some(&deployer), &["record-release", "--sha", DIGEST]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(snapshot(&ledger), before);
}

#[test]
fn reads_print_exactly_what_the_next_step_needs() {
    let (ledger, deployer) = with_release_1_0_0("relctl-reads");
    let base = ledger.base.clone();
    let run_as = |token: &str, args: &[&str]| relctl(&base, Some(token), args);
    let stdout = |args: &[&str]| succeeds(run_as(&deployer, args), args);
    assert_eq!(stdout(&["approval-state", "--version", "1.0.0"]), "none");
    assert_eq!(
        stdout(&["release-artifact", "--version", "1.0.0"]),
        format!("registry.example.com/acme/automatizacion@{DIGEST}")
    );
    let staging = ["current-release", "--cluster", "staging"];
    let line = refusal(&run_as(&deployer, &staging), 1);
    assert!(line.contains("no release runs on staging"), "{line}");
    for status in ["started", "succeeded"] {
        stdout(&deployment("1.0.0", "staging", status));
    }
    assert_eq!(stdout(&staging), DIGEST);
    assert_eq!(
        stdout(&[&staging[..], &["--field", "version"]].concat()),
        "1.0.0"
    );
    assert_eq!(
        stdout(&["request-approval", "--version", "1.0.0"]),
        "pending"
    );
    assert_eq!(stdout(&["approval-state", "--version", "1.0.0"]), "pending");
    // The approver's short-lived token, as the Rundeck job mints it for its user.
    let mint = Command::new(env!("CARGO_BIN_EXE_relctl"))
        .args([
            "token", "--sub", "alice", "--role", "approver", "--ttl", "10m",
        ])
        .env("SPIN_VARIABLE_AUTH_HMAC_KEY", host_harness::HMAC_KEY)
        .output()
        .unwrap();
    let alice = String::from_utf8(mint.stdout).unwrap().trim().to_owned();
    let approve = decision("1.0.0", "approve", "looks good");
    assert_eq!(succeeds(run_as(&alice, &approve), &approve), "approved");
    // Deciding twice is refused by the ledger, with its reason.
    let again = run_as(&alice, &decision("1.0.0", "reject", "oops"));
    assert!(refusal(&again, 1).contains("refused (409)"));
    assert_eq!(
        stdout(&["approval-state", "--version", "1.0.0"]),
        "approved"
    );
}

#[test]
fn push_digest_reads_spins_output_and_refuses_output_without_one() {
    let run = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_relctl"))
            .arg("push-digest")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let pushed = run(&format!(
        "Pushing app to the Registry.\nPushed with digest {DIGEST}\n"
    ));
    assert_eq!(String::from_utf8(pushed.stdout).unwrap().trim(), DIGEST);
    let line = refusal(&run("Error: cannot push: unauthorized\n"), 2);
    assert!(line.contains("no digest"), "{line}");
}

/// A pipeline step may run twice (a re-run, a retried job): asking again for an approval
/// prints its state, and the same person deciding the same way again succeeds, both without
/// recording anything twice. Anyone else, or another decision, is still refused.
#[test]
fn steps_a_pipeline_repeats_succeed_again_and_record_once() {
    let (ledger, deployer) = with_release_1_0_0("relctl-repeat");
    let base = ledger.base.clone();
    let ok = |args: &[&str]| succeeds(relctl(&base, Some(&deployer), args), args);
    for status in ["started", "succeeded"] {
        ok(&deployment("1.0.0", "staging", status));
    }
    let request = [
        "request-approval",
        "--version",
        "1.0.0",
        "--on-behalf-of",
        "Erin",
    ];
    assert_eq!(ok(&request), "pending");
    assert_eq!(ok(&request), "pending");
    let decide = |who: &str, choice: &str| {
        let approver = token(who, &["approver"]);
        relctl(&base, Some(&approver), &decision("1.0.0", choice, "green"))
    };
    let erin = refusal(&decide("erin", "approve"), 1);
    assert!(
        erin.contains("refused (403)"),
        "the person it was requested for: {erin}"
    );
    for _ in 0..2 {
        let alice = decide("alice", "approve");
        assert_eq!(String::from_utf8(alice.stdout).unwrap().trim(), "approved");
    }
    assert!(refusal(&decide("alice", "reject"), 1).contains("refused (409)"));
    assert!(refusal(&decide("bob", "approve"), 1).contains("refused (409)"));
    assert_eq!(ok(&request), "approved");
    let audit = ledger.get("/api/audit?limit=100").json();
    let count = |action: &str| {
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action)
            .count()
    };
    assert_eq!(
        (count("approval.requested"), count("approval.decided")),
        (1, 1)
    );
}

/// Release notes are usually a Markdown list, and a comment may start with a dash too: values
/// that begin with `-` are values, not flags (clap would otherwise read them as options and
/// exit 2).
#[test]
fn notes_and_comments_may_begin_with_a_dash() {
    let ledger = HostBuilder::new("relctl-dashes").start();
    let deployer = token("kestra", &["deployer"]);
    let notes = "- Faster console\n- Fewer clicks";
    let args = [
        "record-release",
        "--version",
        "3.0.0",
        "--artifact",
        "registry.example.com/acme/automatizacion:3.0.0",
        "--digest",
        DIGEST,
        "--commit",
        COMMIT,
        "--notes",
        notes,
    ];
    succeeds(relctl(&ledger.base, Some(&deployer), &args), &args);
    let release = ledger.get("/api/releases/3.0.0").json();
    assert_eq!(release["notes"], notes);
    let staged = deployment("3.0.0", "staging", "succeeded");
    succeeds(relctl(&ledger.base, Some(&deployer), &staged), &staged);
    let request = ["request-approval", "--version", "3.0.0"];
    succeeds(relctl(&ledger.base, Some(&deployer), &request), &request);
    let approver = token("carol", &["approver"]);
    let decide = decision("3.0.0", "reject", "-- not this week");
    succeeds(relctl(&ledger.base, Some(&approver), &decide), &decide);
    let release = ledger.get("/api/releases/3.0.0").json();
    assert_eq!(release["approval"]["comment"], "-- not this week");
}
