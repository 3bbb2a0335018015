//! The drift watch, `automatizacion.observe`, as Kestra 2.0 takes it: it saves, runs every five
//! minutes, hands values to `relctl observe` only through the environment, and shares the
//! release flow's builder and ledger identity. The stand-in refuses the Schedule mistakes the
//! real server refuses (a cron it cannot parse, a zone it does not know, an input the trigger
//! leaves without a value), with Kestra's messages.

use super::{FLOW, OBSERVE_FLOW, read, tasks_in_order, yaml};
use pipeline_standins::kestra::run::Kestra;

fn kestra() -> Kestra {
    Kestra::new(
        &[],
        String::new(),
        host_harness::scratch_dir("observe-flow"),
    )
}

fn edited(change: impl FnOnce(&mut serde_yaml::Value)) -> String {
    let mut flow: serde_yaml::Value = serde_yaml::from_str(&read(OBSERVE_FLOW)).unwrap();
    change(&mut flow);
    serde_yaml::to_string(&flow).unwrap()
}

#[test]
fn the_observe_flow_saves_and_bad_schedules_are_refused_as_kestra_refuses_them() {
    let kestra = kestra();
    kestra
        .save(&read(OBSERVE_FLOW))
        .unwrap_or_else(|e| panic!("the observe flow does not save: {e:#?}"));
    type Edit = Box<dyn FnOnce(&mut serde_yaml::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "a cron of four fields",
            Box::new(|flow| flow["triggers"][0]["cron"] = "*/5 * * *".into()),
            "invalid cron expression '*/5 * * *'",
        ),
        (
            "a minute past 59",
            Box::new(|flow| flow["triggers"][0]["cron"] = "75 * * * *".into()),
            "invalid cron expression '75 * * * *'",
        ),
        (
            "a zone Java does not know",
            Box::new(|flow| flow["triggers"][0]["timezone"] = "CEST".into()),
            "timezone '(CEST)' is not a valid time-zone ID",
        ),
        (
            "an input the schedule gives no value",
            Box::new(|flow| {
                let input: serde_yaml::Value =
                    serde_yaml::from_str("{id: cluster, type: STRING}").unwrap();
                flow["inputs"] = serde_yaml::Value::Sequence(vec![input]);
            }),
            "Missing inputs for Schedule Trigger 'every_five_minutes', missing inputs: 'cluster'",
        ),
        (
            "a concurrency behaviour Kestra does not have",
            Box::new(|flow| flow["concurrency"]["behavior"] = "SKIP".into()),
            "SKIP",
        ),
    ];
    for (what, change, message) in cases {
        let refused = kestra
            .save(&edited(change))
            .expect_err(&format!("the stand-in saved a flow with {what}"));
        assert!(
            refused.iter().any(|v| v.contains(message)),
            "{what}: {refused:#?}"
        );
    }
}

#[test]
fn every_five_minutes_relctl_observe_and_failback_run_with_the_release_flows_identity() {
    let flow = yaml(OBSERVE_FLOW);
    let release = yaml(FLOW);
    let trigger = &flow["triggers"][0];
    assert_eq!(trigger["type"], "io.kestra.plugin.core.trigger.Schedule");
    assert_eq!(trigger["cron"], "*/5 * * * *");
    for shared in [
        "builder_image",
        "ledger_issuer",
        "ledger_key_id",
        "ledger_url",
    ] {
        assert_eq!(
            flow["variables"][shared], release["variables"][shared],
            "{shared} differs from the release flow's"
        );
    }
    let tasks = tasks_in_order(&flow["tasks"]);
    let commands: Vec<String> = tasks
        .iter()
        .flat_map(|t| t["commands"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    assert_eq!(commands, ["relctl observe", "relctl failback"]);
    let readme = read("kestra/README.md");
    let text = read(OBSERVE_FLOW);
    for (at, _) in text.match_indices("secret('") {
        let name = &text[at + 8..at + 8 + text[at + 8..].find('\'').unwrap()];
        assert!(
            readme.contains(&format!("`{name}`")),
            "kestra/README.md lacks {name}"
        );
    }
    assert!(
        readme.contains("automatizacion.observe"),
        "the README names the flow"
    );
}
