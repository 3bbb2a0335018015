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
