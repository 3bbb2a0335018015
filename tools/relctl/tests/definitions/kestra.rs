//! The release flow as a Kestra 2.0 OSS server takes it: it saves, its inputs and its webhook
//! behave, its expressions name what exists, and nothing the server would refuse slips through
//! the stand-in (each refusal below is one the real server makes, with its message).

use super::{FLOW, all_strings, ids, read, repo, tasks_in_order, yaml};
use pipeline_standins::kestra::run::Kestra;
use pipeline_standins::reference;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn kestra() -> Kestra {
    let workdirs = host_harness::scratch_dir("definitions-kestra");
    Kestra::new(
        &[("RELEASE_WEBHOOK_KEY", "hook-key-1".to_owned())],
        String::new(),
        workdirs,
    )
}

/// The flow's YAML with CHANGE applied, as a person would edit the file.
fn edited(change: impl FnOnce(&mut serde_yaml::Value)) -> String {
    let mut flow: serde_yaml::Value = serde_yaml::from_str(&read(FLOW)).unwrap();
    change(&mut flow);
    serde_yaml::to_string(&flow).unwrap()
}

fn staging_tasks(flow: &mut serde_yaml::Value) -> &mut Vec<serde_yaml::Value> {
    top_task(flow, "staging")["tasks"]
        .as_sequence_mut()
        .unwrap()
}

/// The top-level task ID of FLOW.
fn top_task<'a>(flow: &'a mut serde_yaml::Value, id: &str) -> &'a mut serde_yaml::Value {
    let tasks = flow["tasks"].as_sequence_mut().unwrap();
    tasks.iter_mut().find(|t| t["id"] == id).unwrap()
}

#[test]
fn the_flow_saves_and_the_stand_in_refuses_what_kestra_refuses() {
    let kestra = kestra();
    kestra
        .save(&read(FLOW))
        .unwrap_or_else(|e| panic!("the flow does not save: {e:#?}"));

    type Edit = Box<dyn FnOnce(&mut serde_yaml::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "a Pause inside the WorkingDirectory",
            Box::new(|flow| {
                let pause = top_task(flow, "wait_for_decision").clone();
                staging_tasks(flow).push(pause);
            }),
            "Only runnable tasks are allowed as children of a WorkingDirectory task",
        ),
        (
            "the person's label inside the WorkingDirectory, where the signer is known",
            Box::new(|flow| {
                let label = top_task(flow, "label_person").clone();
                staging_tasks(flow).push(label);
            }),
            "Only runnable tasks are allowed as children of a WorkingDirectory task",
        ),
        (
            "flow-level plugin defaults, which Kestra 2.0 no longer parses",
            Box::new(|flow| {
                flow["pluginDefaults"] = serde_yaml::from_str(
                    "[{type: io.kestra.plugin.scripts.shell.Commands, values: {containerImage: x}}]",
                )
                .unwrap()
            }),
            "pluginDefaults",
        ),
        (
            "two tasks with one id",
            Box::new(|flow| top_task(flow, "decision")["id"] = "clone".into()),
            "Duplicate task id with name [clone]",
        ),
        (
            "a dot in a task id",
            Box::new(|flow| staging_tasks(flow)[1]["id"] = "build.push".into()),
            "must match",
        ),
        (
            "a key the task does not have",
            Box::new(|flow| staging_tasks(flow)[1]["commandz"] = "x".into()),
            "Unrecognized field \"commandz\"",
        ),
        (
            "an enum value the property does not take",
            Box::new(|flow| top_task(flow, "wait_for_decision")["behavior"] = "WAIT".into()),
            "is not one of",
        ),
        (
            "an input with a default that is not required",
            Box::new(|flow| {
                flow["inputs"][0]["defaults"] = "1.0.0".into();
                flow["inputs"][0]["required"] = false.into();
            }),
            "Inputs with a default value must be required",
        ),
        (
            "a dashed name read with a dot",
            Box::new(|flow| {
                staging_tasks(flow)[2]["env"]["VERSION"] = "{{ inputs.the-version }}".into()
            }),
            "Invalid input reference",
        ),
        (
            "a core alias removed in 2.0",
            Box::new(|flow| {
                top_task(flow, "wait_for_decision")["type"] =
                    "io.kestra.core.tasks.flows.Pause".into()
            }),
            "Invalid type",
        ),
        (
            "a validator that does not compile",
            Box::new(|flow| flow["inputs"][0]["validator"] = "(unclosed".into()),
            "invalid pattern",
        ),
        (
            "1.x trigger conditions",
            Box::new(|flow| {
                flow["triggers"][0]["conditions"] = serde_yaml::Value::Sequence(vec![])
            }),
            "Unrecognized field \"conditions\"",
        ),
        (
            "a WorkingDirectory with nothing in it",
            Box::new(|flow| staging_tasks(flow).clear()),
            "The 'tasks' property cannot be empty",
        ),
    ];
    for (what, change, message) in cases {
        let refused = kestra.save(&edited(change)).expect_err(what);
        assert!(
            refused
                .iter()
                .any(|v| v.contains(message) && v.starts_with("Invalid entity: ")),
            "{what}: {refused:#?}"
        );
    }
    // A key given twice is a parsing error, not the last value winning.
    let twice = read(FLOW).replacen(
        "namespace: automatizacion",
        "namespace: automatizacion\nnamespace: other",
        1,
    );
    let refused = kestra.save(&twice).unwrap_err();
    assert!(refused[0].contains("duplicate"), "{refused:?}");
}

#[test]
fn inputs_pass_their_validators_as_kestra_checks_them() {
    let mut kestra = kestra();
    kestra.save(&read(FLOW)).unwrap();
    let create = |kestra: &mut Kestra, inputs: &[(&str, &str)]| {
        kestra
            .create("automatizacion", "release", inputs)
            .map(|e| e.variables["inputs"].clone())
    };
    let inputs = create(&mut kestra, &[("version", "1.4.0-rc.1+b7")]).unwrap();
    assert_eq!(inputs["version"], "1.4.0-rc.1+b7");
    // A manual run names the tag and nothing else: no input names a person.
    for (inputs, message) in [
        (
            vec![("version", "vfoo")],
            "Invalid value for input `version`",
        ),
        (vec![("version", "1.4")], "must match the pattern"),
        (vec![], "Missing required input:version"),
        (
            vec![("version", "1.4.0"), ("requested_by", "mallory")],
            "no input requested_by",
        ),
        (
            vec![("version", "1.4.0"), ("git_ref", "main")],
            "no input git_ref",
        ),
    ] {
        let refused = create(&mut kestra, &inputs).unwrap_err();
        assert!(refused.contains(message), "{inputs:?}: {refused}");
    }
}

/// GitHub's push event, as the webhook receives it (JSON).
fn push(reference: &str, deleted: bool) -> Value {
    json!({"ref": reference, "deleted": deleted, "created": !deleted,
           "pusher": {"name": "alice", "email": "alice@example.com"}})
}

#[test]
fn only_a_pushed_tag_starts_a_release() {
    let mut kestra = kestra();
    kestra.save(&read(FLOW)).unwrap();
    let hook = |kestra: &mut Kestra, key: &str, body: &Value| {
        kestra.webhook("automatizacion", "release", key, body)
    };
    let started = hook(&mut kestra, "hook-key-1", &push("refs/tags/v1.4.0", false))
        .unwrap()
        .expect("a pushed tag starts a release");
    assert_eq!(
        started.variables["inputs"],
        json!({"version": "1.4.0"}),
        "the body's pusher names nobody in the release"
    );
    // A deleted tag is a push too; a branch push names no tag: neither starts anything (204).
    assert!(
        hook(&mut kestra, "hook-key-1", &push("refs/tags/v1.4.0", true))
            .unwrap()
            .is_none()
    );
    assert!(
        hook(&mut kestra, "hook-key-1", &push("refs/heads/main", false))
            .unwrap()
            .is_none()
    );
    // A body that is not GitHub's JSON (no `deleted`) starts nothing either.
    let plain = json!({"ref": "refs/tags/v1.5.0"});
    assert!(hook(&mut kestra, "hook-key-1", &plain).unwrap().is_none());
    // A tag that is not a version is refused before anything is built.
    let refused = hook(&mut kestra, "hook-key-1", &push("refs/tags/vfoo", false)).unwrap_err();
    assert!(
        refused.contains("Invalid value for input `version`"),
        "{refused}"
    );
    let wrong_key = hook(&mut kestra, "guess", &push("refs/tags/v1.4.0", false)).unwrap_err();
    assert!(wrong_key.contains("Webhook not found"), "{wrong_key}");
}

/// The `{{ … }}` expressions of a text.
fn expressions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push(rest[start + 2..start + end].trim().to_owned());
        rest = &rest[start + end + 2..];
    }
    out
}

/// `kestra/settings.example`: each installation's settings, name → value.
fn settings() -> BTreeMap<String, String> {
    read("kestra/settings.example")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l.split_once('=').expect("NAME=VALUE");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// The keys an expression reads with `kv('KEY')`.
fn kv_keys(expression: &str) -> Vec<&str> {
    expression
        .match_indices("kv('")
        .map(|(at, _)| {
            let tail = &expression[at + 4..];
            &tail[..tail.find('\'').unwrap_or(tail.len())]
        })
        .collect()
}

/// Every setting of `kestra/settings.example` is read by a flow, and every flow reads its
/// installation's settings only there: nothing is left in `variables` to edit by hand.
#[test]
fn the_flows_read_every_installation_setting_from_the_kv_store() {
    let mut read_somewhere = BTreeSet::new();
    for path in [FLOW, "kestra/flows/automatizacion.observe.yml"] {
        let flow = yaml(path);
        assert!(
            flow.get("variables").is_none(),
            "{path}: settings belong in kv()"
        );
        let text = read(path);
        for expression in expressions(&text) {
            for key in kv_keys(&expression) {
                read_somewhere.insert(key.to_owned());
            }
        }
    }
    let declared: BTreeSet<String> = settings().into_keys().collect();
    assert_eq!(read_somewhere, declared);
}

/// The names after PREFIX (`inputs.`, `vars.`, `outputs.`) in an expression.
fn names_after<'a>(expression: &'a str, prefix: &str) -> Vec<&'a str> {
    expression
        .match_indices(prefix)
        .filter(|(at, _)| {
            let before = if *at == 0 {
                b' '
            } else {
                expression.as_bytes()[at - 1]
            };
            !(before.is_ascii_alphanumeric() || before == b'.')
        })
        .map(|(at, _)| {
            let tail = &expression[at + prefix.len()..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            &tail[..end]
        })
        .collect()
}

#[test]
fn every_expression_names_something_declared_before_it() {
    let flow = yaml(FLOW);
    let inputs: BTreeSet<&str> = ids(&flow["inputs"]).into_iter().collect();
    let settings = settings();
    let ordered = tasks_in_order(&flow["tasks"]);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut checked = 0;
    for task in ordered.iter().chain(flow["errors"].as_array().unwrap()) {
        let id = task["id"].as_str().unwrap().to_owned();
        let mut own = task.clone();
        for nested in ["tasks", "then", "else", "errors", "finally"] {
            own.as_object_mut().unwrap().remove(nested);
        }
        let mut texts = Vec::new();
        all_strings(&own, &mut texts);
        for expression in texts.iter().flat_map(|t| expressions(t)) {
            checked += 1;
            for name in names_after(&expression, "inputs.") {
                assert!(
                    inputs.contains(name),
                    "{id}: {{{{ {expression} }}}} names no input"
                );
            }
            assert!(
                names_after(&expression, "vars.").is_empty(),
                "{id}: {{{{ {expression} }}}}: installation settings come from kv()"
            );
            for name in kv_keys(&expression) {
                assert!(
                    settings.contains_key(name),
                    "{id}: {{{{ {expression} }}}} reads a setting kestra/settings.example lacks"
                );
            }
            for name in names_after(&expression, "outputs.") {
                assert!(
                    seen.contains(name),
                    "{id}: {{{{ {expression} }}}} names no earlier task"
                );
            }
        }
        seen.insert(id);
    }
    assert!(checked > 30, "only {checked} expressions found");
    for key in flow["triggers"][0]["inputs"].as_object().unwrap().keys() {
        assert!(
            inputs.contains(key.as_str()),
            "the trigger sets an undeclared input {key}"
        );
    }
}

/// Commands are rendered by Kestra before the shell sees them: an expression there would paste
/// a tag's or a note's text into the script. Every value reaches a command through `env`.
#[test]
fn inputs_and_outputs_reach_commands_only_through_the_environment() {
    let flow = yaml(FLOW);
    let ordered = tasks_in_order(&flow["tasks"]);
    let mut scripts = 0;
    for task in &ordered {
        for list in ["commands", "beforeCommands"] {
            for command in task[list].as_array().into_iter().flatten() {
                scripts += 1;
                let command = command.as_str().unwrap();
                assert!(!command.contains("{{"), "{}: {command}", task["id"]);
            }
        }
    }
    assert!(scripts >= 8, "only {scripts} commands found");
}

#[test]
fn the_flow_uses_kestra_2_names_and_pins_what_it_builds_with() {
    let flow = yaml(FLOW);
    let semantics = reference::kestra_semantics();
    let aliases: BTreeSet<String> = semantics["plugins"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|p| p["aliases"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let mut ordered = tasks_in_order(&flow["tasks"]);
    ordered.extend(tasks_in_order(&flow["errors"]));
    for task in &ordered {
        let kind = task["type"].as_str().unwrap();
        assert!(
            !aliases.contains(kind),
            "{}: {kind} is a 1.x alias",
            task["id"]
        );
        if kind == "io.kestra.plugin.git.Clone" {
            assert!(
                task.get("branch").is_none(),
                "{}: a tag or commit is not a branch",
                task["id"]
            );
            assert!(task.get("tag").is_some() || task.get("commit").is_some());
        }
    }
    let image = &settings()["builder_image"];
    let (_, digest) = image
        .split_once('@')
        .expect("the builder image is pinned by digest");
    assert!(ledger::types::Digest::parse(digest).is_ok(), "{digest}");
    assert_eq!(flow["concurrency"]["limit"], 1);
    // The pause is outside any working directory, and production starts from a fresh one.
    let top = ids(&flow["tasks"]);
    let pause = top.iter().position(|t| *t == "wait_for_decision").unwrap();
    let production = top.iter().position(|t| *t == "production").unwrap();
    assert!(top.iter().position(|t| *t == "staging").unwrap() < pause && pause < production);
}

#[test]
fn every_secret_is_documented() {
    let readme = read("kestra/README.md");
    let text = read(FLOW);
    for (at, _) in text.match_indices("secret('") {
        let name = &text[at + 8..at + 8 + text[at + 8..].find('\'').unwrap()];
        assert!(
            readme.contains(&format!("`{name}`")),
            "kestra/README.md does not list {name}"
        );
    }
    assert!(
        repo().join(".containerignore").exists(),
        "the builder's context ignores target/"
    );
}

/// The builder builds with the toolchain its image carries (never one rustup would download
/// for the repository's `stable`), from a context without local build state; and no README
/// tells people to load flows with a server command Kestra 2.0 removed.
#[test]
fn the_builder_is_pinned_and_the_docs_use_kestra_2_commands() {
    let containerfile = read("kestra/builder/Containerfile");
    let base = containerfile
        .lines()
        .find_map(|l| l.strip_prefix("FROM docker.io/library/rust:"))
        .and_then(|tag| tag.split('-').next())
        .unwrap();
    assert!(
        containerfile.contains(&format!("RUSTUP_TOOLCHAIN={base}")),
        "the builder must pin RUSTUP_TOOLCHAIN to its image's Rust {base}"
    );
    // podman and buildah read .containerignore; `docker build` reads only .dockerignore.
    let ignored = read(".containerignore");
    assert!(ignored.lines().any(|l| l.trim() == "target/"), "{ignored}");
    assert_eq!(
        read(".dockerignore"),
        ignored,
        "docker would send what podman leaves out"
    );
    let removed = reference::kestra_semantics()["cli"]["removed"]["commands"].clone();
    for readme in ["kestra/README.md", "rundeck/README.md", "README.md"] {
        let text = read(readme);
        for command in removed.as_array().unwrap() {
            let command = command.as_str().unwrap();
            let words: Vec<&str> = command
                .split_whitespace()
                .take_while(|w| !w.starts_with('<'))
                .collect();
            let typed = words.join(" ");
            assert!(
                !text.contains(&typed),
                "{readme} tells people to run `{typed}`, removed in Kestra 2.0"
            );
        }
    }
}
