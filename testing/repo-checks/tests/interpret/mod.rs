//! The interpreter's cases through `karmadactl interpret`, Karmada's own runner of a
//! customization: its gopher-lua, its arguments and its conversions, as the controllers use
//! them. The mlua sandbox beside it (`lua`) also proves what the scripts must not call; this
//! proves that Karmada's own Lua gives each case's hand-written output too.

use super::{cases, normalize};
use host_harness::scratch_dir;
use repo_checks::repo;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `karmadactl` as `scripts/parts.sh` puts it in `target/parts/bin`, else from PATH.
fn karmadactl() -> PathBuf {
    let fetched = repo().join("target/parts/bin/karmadactl");
    if fetched.is_file() {
        fetched
    } else {
        PathBuf::from("karmadactl")
    }
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

/// Runs one case with `karmadactl interpret --operation …`; the results by name.
fn interpret(case: &Value, dir: &Path) -> Vec<(String, Value)> {
    let customization = repo().join("karmada/interpreter/spinapp.yaml");
    let mut command = Command::new(karmadactl());
    command.arg("interpret").arg("-f").arg(customization);
    let object = |key: &str| write_json(dir, &format!("{key}.json"), &case[key]);
    let operation = match case["operation"].as_str().unwrap() {
        "GetReplicas" => "interpretReplica",
        "ReviseReplica" => {
            let replicas = case["desiredReplicas"].as_i64().unwrap().to_string();
            command.args(["--desired-replica", &replicas]);
            "reviseReplica"
        }
        "ReflectStatus" => "interpretStatus",
        "AggregateStatus" => {
            // One status item per YAML document, as karmadactl reads them.
            let items = case["statusItems"].as_array().unwrap();
            let documents: Vec<String> = items.iter().map(Value::to_string).collect();
            let file = dir.join("items.yaml");
            std::fs::write(&file, documents.join("\n---\n")).unwrap();
            command.arg("--status-file").arg(file);
            "aggregateStatus"
        }
        "InterpretHealth" => "interpretHealth",
        "GetDependencies" => "interpretDependency",
        other => panic!("unknown operation {other}"),
    };
    let observed = if case.get("observedObj").is_some() {
        object("observedObj")
    } else {
        object("desiredObj")
    };
    command
        .args(["--operation", operation])
        .arg("--observed-file")
        .arg(observed);
    let out = command
        .output()
        .expect("karmadactl (scripts/parts.sh fetches it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: {text}{}",
        case["name"],
        String::from_utf8_lossy(&out.stderr)
    );
    // Each result is one YAML document headed `# [i/n] NAME:`.
    text.split("\n---")
        .filter_map(|document| {
            let document = document.trim_start_matches("---").trim();
            let (head, body) = document.split_once('\n').unwrap_or((document, ""));
            let name = head
                .strip_prefix("# [")?
                .split_once("] ")?
                .1
                .trim_end_matches(':');
            let value: Value = serde_yaml::from_str(body).unwrap_or(Value::Null);
            Some((name.to_owned(), value))
        })
        .collect()
}

#[test]
fn every_interpreter_case_gives_its_output_in_karmadas_own_lua() {
    let dir = scratch_dir("karmadactl-interpret");
    for case in cases() {
        let results = interpret(&case, &dir);
        let got = match case["operation"].as_str().unwrap() {
            "GetReplicas" => {
                let named = |name: &str| {
                    let found = results.iter().find(|(n, _)| n == name);
                    found.map_or(Value::Null, |(_, v)| v.clone())
                };
                json!({"replicas": named("replica"), "requirement": named("requires")})
            }
            _ => results.into_iter().next().map_or(Value::Null, |(_, v)| v),
        };
        // Karmada returns the dependencies sorted, whatever order the script listed them in.
        let mut expected = case["expected"].clone();
        if case["operation"] == "GetDependencies" {
            sort_by_text(&mut expected);
        }
        assert_eq!(
            normalize(got),
            normalize(expected),
            "case `{}` in karmadactl interpret",
            case["name"].as_str().unwrap()
        );
    }
}

#[test]
fn karmadactl_checks_the_customization() {
    let out = Command::new(karmadactl())
        .args(["interpret", "--check", "-f"])
        .arg(repo().join("karmada/interpreter/spinapp.yaml"))
        .output()
        .expect("karmadactl (scripts/parts.sh fetches it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for operation in [
        "InterpretReplica",
        "ReviseReplica",
        "InterpretStatus",
        "AggregateStatus",
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(operation) && l.ends_with("PASS")),
            "{operation} not checked: {text}"
        );
    }
    assert!(!text.contains("FAIL"), "{text}");
}

/// Sorts a list by each item's JSON text.
fn sort_by_text(list: &mut Value) {
    if let Value::Array(items) = list {
        items.sort_by_key(Value::to_string);
    }
}
