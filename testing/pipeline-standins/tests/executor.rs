//! The Kestra stand-in's executor on small flows: pauses hold until the API double resumes
//! them, a flow with `concurrency.limit: 1` queues its second execution, and a task that fails
//! runs the `errors` branch.

use pipeline_standins::kestra::api::KestraApi;
use pipeline_standins::kestra::run::{Kestra, State};

const FLOW: &str = r#"
id: gate
namespace: demo
concurrency:
  limit: 1
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "resumed {{ execution.id }}"
errors:
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: failed
"#;

fn kestra() -> Kestra {
    let dir = std::env::temp_dir().join(format!("standin-executor-{}", std::process::id()));
    Kestra::new(&[], String::new(), dir)
}

#[test]
fn a_pause_holds_until_resumed_and_a_second_execution_waits_its_turn() {
    let mut kestra = kestra();
    kestra.save(FLOW).unwrap();
    let api = KestraApi::start(kestra.shared.clone(), "bot@example.com", "Passw0rdX");
    let mut first = kestra.create("demo", "gate", &[]).unwrap();
    assert_eq!(kestra.run(&mut first), State::Paused);
    assert_eq!(kestra.run(&mut first), State::Paused, "nobody resumed it");
    let mut second = kestra.create("demo", "gate", &[]).unwrap();
    assert_eq!(second.state, State::Queued);
    assert_eq!(kestra.run(&mut second), State::Queued);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resume = |id: &str, auth: &str| {
        agent
            .post(&format!(
                "{}/api/v1/main/executions/{id}/actions/resume",
                api.base
            ))
            .header("authorization", auth)
            .header("content-type", "multipart/form-data; boundary=b")
            .send("--b--\r\n")
            .unwrap()
            .status()
            .as_u16()
    };
    let basic = "Basic Ym90QGV4YW1wbGUuY29tOlBhc3N3MHJkWA==";
    assert_eq!(resume(&first.id, "Bearer token"), 401);
    assert_eq!(resume("nope", basic), 404);
    assert_eq!(resume(&first.id, basic), 200);
    assert_eq!(resume(&first.id, basic), 409, "not paused any more");
    assert_eq!(kestra.run(&mut first), State::Success);
    assert_eq!(first.ran, ["wait", "after"]);
    assert_eq!(kestra.run(&mut second), State::Paused, "its turn came");
}

#[test]
fn flows_the_server_refuses_are_not_saved() {
    let kestra = kestra();
    for (edit, (from, to), why) in [
        (
            "two tasks with one id",
            ("id: after", "id: wait"),
            "Duplicate task id with name [wait]",
        ),
        (
            "a 1.x concurrency policy",
            ("limit: 1", "limit: 1\n  policy: QUEUE"),
            "Unrecognized field \"policy\"",
        ),
    ] {
        let refused = kestra.save(&FLOW.replace(from, to)).unwrap_err();
        assert!(
            refused.iter().any(|v| v.contains(why)),
            "{edit}: {refused:?}"
        );
    }
}

/// Kestra waits 30 s for its executor to act on a resume, then answers 504, and the executor
/// still resumes the execution when it gets to it (`runtime.json`, `resumeEndpoint`); here on
/// a shortened clock (0.5 s, and an executor that takes 1 s).
#[test]
fn a_resume_the_executor_confirms_late_is_a_504_that_still_resumes() {
    let mut kestra = kestra();
    kestra.save(FLOW).unwrap();
    let api = KestraApi::start(kestra.shared.clone(), "bot@example.com", "Passw0rdX");
    api.resume_clock(
        std::time::Duration::from_millis(500),
        std::time::Duration::from_secs(1),
    );
    let mut first = kestra.create("demo", "gate", &[]).unwrap();
    assert_eq!(kestra.run(&mut first), State::Paused);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let basic = "Basic Ym90QGV4YW1wbGUuY29tOlBhc3N3MHJkWA==";
    let status = agent
        .post(&format!(
            "{}/api/v1/main/executions/{}/actions/resume",
            api.base, first.id
        ))
        .header("authorization", basic)
        .header("content-type", "multipart/form-data; boundary=b")
        .send("--b--\r\n")
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 504);
    let state = || {
        let mut response = agent
            .get(&format!("{}/api/v1/main/executions/{}", api.base, first.id))
            .header("authorization", basic)
            .call()
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        body["state"]["current"].as_str().unwrap().to_owned()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while state() != "RUNNING" {
        assert!(std::time::Instant::now() < deadline, "never resumed");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(kestra.run(&mut first), State::Success);
}

/// `concurrency.behavior`: CANCEL and FAIL end a second execution at once, while the first
/// holds the limit (QUEUE, the default, is above).
#[test]
fn a_second_execution_is_cancelled_or_failed_as_the_flow_says() {
    for (behavior, expected) in [
        ("CANCEL", State::Cancelled),
        (
            "FAIL",
            State::Failed("Execution is FAILED due to concurrency limit exceeded".into()),
        ),
    ] {
        let mut kestra = kestra();
        let flow = FLOW.replace("limit: 1", &format!("limit: 1\n  behavior: {behavior}"));
        kestra.save(&flow).unwrap();
        let mut first = kestra.create("demo", "gate", &[]).unwrap();
        assert_eq!(kestra.run(&mut first), State::Paused);
        let mut second = kestra.create("demo", "gate", &[]).unwrap();
        assert_eq!(second.state, expected, "{behavior}");
        assert_eq!(kestra.run(&mut second), expected, "{behavior}");
        assert!(second.ran.is_empty(), "{behavior}: no task runs");
    }
}

/// A Webhook's key is rendered with the flow and the trigger in scope, never the request: a
/// key that reads the body matches nothing (Kestra logs "Unable to render the webhook key"
/// and answers 404).
#[test]
fn a_webhook_key_never_sees_the_request() {
    let mut kestra = kestra();
    let flow = r#"
id: hooked
namespace: demo
triggers:
  - id: by_secret
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ flow.id }}-{{ trigger.id }}"
  - id: by_body
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ trigger.body.key }}"
tasks:
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: hi
"#;
    kestra.save(flow).unwrap();
    let body = serde_json::json!({"key": "chosen-by-the-caller"});
    assert!(
        kestra
            .webhook("demo", "hooked", "hooked-by_secret", &body)
            .unwrap()
            .is_some()
    );
    let refused = kestra
        .webhook("demo", "hooked", "chosen-by-the-caller", &body)
        .unwrap_err();
    assert!(refused.contains("Webhook not found"), "{refused}");
}

/// A script task runs as Kestra's Docker runner runs it: in a working directory that belongs to
/// Kestra's user while the commands run as root, so git's ownership check refuses a checkout
/// there, unless the task trusts it (`safe.directory`, command-line scope).
#[test]
fn a_checkout_in_a_script_task_belongs_to_kestras_user() {
    let dir = std::env::temp_dir().join(format!("standin-owners-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let origin = dir.join("origin");
    std::fs::create_dir_all(&origin).unwrap();
    let git = std::process::Command::new("sh")
        .arg("-c")
        .arg("git init -q . && git -c user.name=t -c user.email=t@e commit -q --allow-empty -m x")
        .current_dir(&origin)
        .status()
        .unwrap();
    assert!(git.success());
    let url = format!("file://{}", origin.display());
    let mut kestra = Kestra::new(&[], std::env::var("PATH").unwrap(), dir.join("work"));
    let flow = |id: &str, trust: bool| {
        let env = if trust {
            "\n        env:\n          GIT_CONFIG_COUNT: \"1\"\n          GIT_CONFIG_KEY_0: safe.directory\n          GIT_CONFIG_VALUE_0: \"*\""
        } else {
            ""
        };
        format!(
            r#"
id: {id}
namespace: demo
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: checkout
        type: io.kestra.plugin.git.Clone
        url: {url}
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands{env}
        commands:
          - test "$(stat -c %u .git)" = 1000
          - git rev-parse HEAD
"#
        )
    };
    kestra.save(&flow("plain", false)).unwrap();
    kestra.save(&flow("trusted", true)).unwrap();
    let mut plain = kestra.create("demo", "plain", &[]).unwrap();
    let State::Failed(why) = kestra.run(&mut plain) else {
        panic!("git took a checkout it does not own: {:?}", plain.ran)
    };
    assert!(
        why.starts_with("read:") && why.contains("dubious ownership"),
        "{why}"
    );
    let mut trusted = kestra.create("demo", "trusted", &[]).unwrap();
    assert_eq!(
        kestra.run(&mut trusted),
        State::Success,
        "{:?}",
        trusted.ran
    );
}

/// The `Labels` task (Labels.java @ c94e774): values rendered and merged into the execution's
/// labels, a later one overwriting an earlier; `GET …/executions/{id}` lists them; a `system.`
/// key or an empty value fails the task with Kestra's words.
#[test]
fn labels_merge_into_the_execution_and_refuse_system_keys_and_empty_values() {
    let flow = |labels: &str| {
        format!(
            r#"
id: labelled
namespace: demo
inputs:
  - id: version
    type: STRING
tasks:
  - id: first
    type: io.kestra.plugin.core.execution.Labels
    labels:
      version: "{{{{ inputs.version }}}}"
      stage: early
  - id: second
    type: io.kestra.plugin.core.execution.Labels
    labels: {labels}
  - id: seen
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ labels.version }}}}"
"#
        )
    };
    let mut kestra = kestra();
    kestra
        .save(&flow(r#"[{key: stage, value: "late"}]"#))
        .unwrap();
    let mut execution = kestra
        .create("demo", "labelled", &[("version", "1.4.0")])
        .unwrap();
    assert_eq!(kestra.run(&mut execution), State::Success);
    let shown =
        pipeline_standins::kestra::api::execution(&kestra.shared.lock().unwrap(), &execution.id)
            .unwrap();
    assert_eq!(
        shown["labels"],
        serde_json::json!([{"key": "stage", "value": "late"}, {"key": "version", "value": "1.4.0"}])
    );

    for (labels, said) in [
        (
            r#"{system.correlationId: x}"#,
            "System labels can only be set by Kestra itself, offending label: system.correlationId=x",
        ),
        (
            r#"{person: ""}"#,
            "Label values cannot be empty, offending label: person",
        ),
    ] {
        let mut kestra = self::kestra();
        kestra.save(&flow(labels)).unwrap();
        let mut execution = kestra
            .create("demo", "labelled", &[("version", "1.4.0")])
            .unwrap();
        match kestra.run(&mut execution) {
            State::Failed(why) => assert!(why.contains(said), "{why}"),
            other => panic!("{labels}: {other:?}"),
        }
    }
}

/// `kv('KEY')` reads the flow's namespace, else its parents'; a key nowhere fails the task with
/// Kestra's words (KvFunction.java @ c94e774).
#[test]
fn kv_reads_the_namespace_then_its_parents_and_a_missing_key_fails() {
    let flow = r#"
id: settled
namespace: demo.team
tasks:
  - id: label
    type: io.kestra.plugin.core.execution.Labels
    labels:
      where: "{{ kv('where') }}"
      how_long: "{{ kv('how_long') }}"
  - id: missing
    type: io.kestra.plugin.core.log.Log
    message: "{{ kv('nowhere') }}"
"#;
    let mut kestra = kestra();
    kestra.save(flow).unwrap();
    {
        let mut shared = kestra.shared.lock().unwrap();
        let mut put = |namespace: &str, key: &str, value: serde_json::Value| {
            shared.kv.insert((namespace.into(), key.into()), value);
        };
        put("demo", "where", "parent".into());
        put("demo.team", "where", "own".into());
        put("demo", "how_long", 600.into());
        put("other", "nowhere", "elsewhere".into());
    }
    let mut run = kestra.create("demo.team", "settled", &[]).unwrap();
    match kestra.run(&mut run) {
        State::Failed(why) => assert!(
            why.contains("The key 'nowhere' does not exist in the namespace 'demo.team'."),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        run.variables["labels"]["where"], "own",
        "its own namespace first"
    );
    assert_eq!(
        run.variables["labels"]["how_long"], "600",
        "then its parent's"
    );
}
