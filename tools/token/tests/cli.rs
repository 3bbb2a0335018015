//! The `token` binary as users call it.

use std::process::Command;

fn token(args: &[&str], key_file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_token"))
        .args(args)
        .arg("--key-file")
        .arg(key_file)
        .env_remove("SPIN_VARIABLE_AUTH_HMAC_KEY")
        .output()
        .unwrap()
}

fn key_file(label: &str, key: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("token-cli-test-{}-{label}", std::process::id()));
    std::fs::write(&path, format!("{key}\n")).unwrap();
    path
}

#[test]
fn mints_a_token_the_key_verifies() {
    let key = "0123456789abcdef0123456789abcdef-cli";
    let out = token(
        &[
            "--sub", "kestra", "--role", "deployer", "--role", "viewer", "--ttl", "2h",
        ],
        &key_file("good", key),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwt = String::from_utf8(out.stdout).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&[token::DEFAULT_AUDIENCE]);
    validation.set_issuer(&[token::DEFAULT_ISSUER]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        jwt.trim(),
        &jsonwebtoken::DecodingKey::from_secret(key.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], "kestra");
    assert_eq!(claims["roles"], serde_json::json!(["deployer", "viewer"]));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        7200
    );
}

#[test]
fn refuses_bad_arguments_with_one_line_and_exit_2() {
    let key = key_file("bad-args", "0123456789abcdef0123456789abcdef-bad");
    for args in [
        &["--sub", "x", "--role", "god"][..],
        &["--role", "viewer"],
        &["--sub", "x"],
        &["--sub", "x", "--role", "viewer", "--ttl", "forever"],
        &["--sub", "x", "--role", "viewer", "--colour", "red"],
    ] {
        let out = token(args, &key);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("token: "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let short = token(
        &["--sub", "x", "--role", "viewer"],
        &key_file("short", "short"),
    );
    assert_eq!(short.status.code(), Some(2));
}

#[test]
fn keygen_prints_a_fresh_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_token"))
        .arg("keygen")
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout).unwrap();
    assert_eq!(key.trim().len(), 64);
}
