//! relctl speaks Kestra 2.0: the `/actions/resume` path, HTTP Basic from the environment, and
//! one line for each way Kestra says no. The API double answers as Kestra does.

use super::doubles::{KESTRA_PASSWORD, KESTRA_USER, PUSHER};
use super::identity::{paused, ready_for_approval};
use std::process::Command;

#[test]
fn resuming_kestra_takes_basic_credentials_from_the_environment_only() {
    let mut pipeline = ready_for_approval("pipeline-resume", super::build::origin(), PUSHER);
    let start = pipeline.start();
    let execution = paused(&mut pipeline, start);
    let resume = |env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relctl"));
        command
            .args([
                "resume-kestra",
                "--url",
                &pipeline.api.base,
                "--execution",
                &execution.id,
                "--version",
                super::VERSION,
            ])
            .env_remove("KESTRA_USER")
            .env_remove("KESTRA_PASSWORD")
            .env_remove("KESTRA_API_TOKEN");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let one_line = super::one_line;
    let none = one_line(&resume(&[]), 2);
    assert!(none.contains("no Kestra credentials"), "{none}");
    let token = one_line(&resume(&[("KESTRA_API_TOKEN", "an-ee-token")]), 1);
    assert!(
        token.contains("refused (401)") && token.contains("HTTP Basic"),
        "{token}"
    );
    let user = ("KESTRA_USER", KESTRA_USER);
    let wrong = one_line(&resume(&[user, ("KESTRA_PASSWORD", "guess")]), 1);
    assert!(wrong.contains("refused (401)"), "{wrong}");
    let right = [user, ("KESTRA_PASSWORD", KESTRA_PASSWORD)];
    assert_eq!(
        super::succeeded(resume(&right)),
        format!("resumed {}", execution.id)
    );
    // Run again (the job's retry after a timeout), it finds the Pause done.
    assert_eq!(
        super::succeeded(resume(&right)),
        format!("{} was already resumed", execution.id)
    );
    // The 1.x path reads as "create an execution of flow `resume`" on 2.0.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{KESTRA_USER}:{KESTRA_PASSWORD}"));
    let mut old = agent
        .post(&format!(
            "{}/api/v1/main/executions/{}/resume",
            pipeline.api.base, execution.id
        ))
        .header("authorization", &format!("Basic {basic}"))
        .header("content-type", "multipart/form-data; boundary=x")
        .send("--x--\r\n")
        .unwrap();
    assert_eq!(old.status(), 404);
    assert!(
        old.body_mut()
            .read_to_string()
            .unwrap()
            .contains("Requested Flow is not found")
    );
}
