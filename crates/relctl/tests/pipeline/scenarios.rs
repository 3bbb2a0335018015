//! The release story and every way it can go wrong, each from a pushed tag through the flow,
//! the approval in Rundeck and Karmada, with the ledger checked after each.

use super::build::built;
use super::doubles::{PUSHER, Pipeline, pairs, signed};
use super::{
    PREVIOUS, PRODUCTION_BEFORE, STAGING_BEFORE, VERSION, control_plane, exclusive, images_on,
    kubectl, production_images, restore_workloads,
};
use host_harness::repo;
use pipeline_standins::kestra::run::State;
use serde_json::json;
use std::process::Command;

#[test]
fn a_release_goes_from_tag_to_both_production_clusters_with_an_approval() {
    release_reaches_production(false);
}

#[test]
fn a_release_goes_from_tag_to_both_production_clusters_on_postgres() {
    release_reaches_production(true);
}

fn release_reaches_production(postgres: bool) {
    let _lock = exclusive();
    let mut pipeline = Pipeline::new("pipeline-happy", postgres);
    pipeline.recorded_as_built();
    pipeline.spinkube_on_the_way(false);
    let mut execution = pipeline.start();
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    assert_eq!(execution.ran.last().unwrap(), "wait_for_decision");
    // Paused: only the approver's resume moves it on.
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    let job = pipeline.approve("carol", "approve", &execution);
    assert!(job.succeeded, "approve-release failed: {}", job.output);
    let state = pipeline.kestra.run(&mut execution);
    let production = production_images();
    restore_workloads();
    assert_eq!(state, State::Success, "{:?}", execution.ran);

    let built = built();
    let pinned = format!("{}@{}", built.repository, built.digest);
    assert!(production.iter().all(|i| *i == pinned), "{production:?}");
    let release = pipeline.release(VERSION);
    assert_eq!(release["digest"], built.digest.as_str());
    assert_eq!(release["on_behalf_of"], PUSHER);
    assert_eq!(release["approval"]["state"], "approved");
    assert_eq!(release["approval"]["decided_by"], "carol");
    assert_eq!(release["approval"]["on_behalf_of"], PUSHER);
    assert_eq!(
        pipeline.events(VERSION),
        pairs(&[
            ("staging", "started"),
            ("staging", "succeeded"),
            ("prod-east", "started"),
            ("prod-west", "started"),
            ("prod-east", "succeeded"),
            ("prod-west", "succeeded"),
        ])
    );
    for deployment in release["deployments"].as_array().unwrap() {
        let url = deployment["execution_url"].as_str().unwrap();
        assert!(
            url.ends_with(&format!("/automatizacion/release/{}", execution.id)),
            "{url}"
        );
    }
    for cluster in pipeline
        .ledger
        .get("/api/clusters")
        .json()
        .as_array()
        .unwrap()
    {
        assert_eq!(
            cluster["current"]["version"], VERSION,
            "{}",
            cluster["name"]
        );
    }
    // Kestra was resumed once, on its 2.0 path, with Basic authentication.
    assert_eq!(
        pipeline.resumes(),
        [format!(
            "POST /api/v1/main/executions/{}/actions/resume Basic",
            execution.id
        )]
    );
    // Who did what: Kestra for the pusher, the approver as themself.
    let audit = pipeline.audit();
    let requested = audit
        .iter()
        .find(|(a, _, _)| a == "approval.requested")
        .unwrap();
    assert_eq!(
        (requested.1.as_str(), requested.2.as_deref()),
        ("kestra", Some(PUSHER))
    );
    let decided = audit
        .iter()
        .find(|(a, _, _)| a == "approval.decided")
        .unwrap();
    assert_eq!(decided.1, "carol");
    assert_eq!(
        execution.ran,
        [
            "staging",
            "clone",
            "build_and_push",
            "record_release",
            "deploy_staging",
            "request_approval",
            "wait_for_decision",
            "decision",
            "rejected",
            "production",
            "clone_release",
            "deploy_production",
        ]
    );
}

#[test]
fn a_rejected_release_never_reaches_production() {
    let _lock = exclusive();
    let mut pipeline = Pipeline::new("pipeline-rejected", true);
    pipeline.recorded_as_built();
    pipeline.spinkube_on_the_way(false);
    let before = production_images();
    let mut execution = pipeline.start();
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    let job = pipeline.approve("dave", "reject", &execution);
    assert!(job.succeeded, "{}", job.output);
    let state = pipeline.kestra.run(&mut execution);
    let after = production_images();
    restore_workloads();

    let State::Failed(error) = state else {
        panic!("a rejected release fails the execution: {state:?}");
    };
    assert!(
        error.starts_with("rejected:") && error.contains("production is unchanged"),
        "{error}"
    );
    assert_eq!(before, after, "production changed");
    assert!(!execution.ran.contains(&"deploy_production".to_owned()));
    let release = pipeline.release(VERSION);
    assert_eq!(release["approval"]["state"], "rejected");
    assert_eq!(release["approval"]["decided_by"], "dave");
    assert_eq!(
        pipeline.events(VERSION),
        pairs(&[("staging", "started"), ("staging", "succeeded")])
    );
    // The errors branch ran (its notifications stay off).
    assert!(execution.ran.contains(&"log_failure".to_owned()));
}

#[test]
fn a_failed_staging_check_puts_the_previous_release_back() {
    let _lock = exclusive();
    let mut pipeline = Pipeline::new("pipeline-staging-fails", false);
    pipeline.seed_previous(false);
    pipeline.recorded_as_built();
    pipeline.spinkube_before("deploy_staging", &[("staging", "staging_url")], true);
    let mut execution = pipeline.start();
    execution.set_var("deploy_timeout", "5");
    let state = pipeline.kestra.run(&mut execution);
    let staging_after = images_on("staging", "automatizacion-staging");
    restore_workloads();

    let State::Failed(error) = state else {
        panic!("the staging check fails: {state:?}");
    };
    assert!(
        error.contains(&format!("{PREVIOUS} was put back")),
        "{error}"
    );
    let pinned = format!("registry.staging.internal:5000/acme/automatizacion@{STAGING_BEFORE}");
    assert!(
        staging_after.iter().all(|i| *i == pinned),
        "{staging_after:?}"
    );
    assert_eq!(
        pipeline.events(VERSION),
        pairs(&[
            ("staging", "started"),
            ("staging", "failed"),
            ("staging", "rolled_back")
        ])
    );
    let release = pipeline.release(VERSION);
    assert!(
        release["approval"].is_null(),
        "no approval after a failed staging check"
    );
    let failed = release["deployments"][1]["message"].as_str().unwrap();
    assert!(
        failed.contains("did not show staging running 1.4.0"),
        "{failed}"
    );
    assert_eq!(
        pipeline.ledger.get("/api/clusters").json()[0]["current"]["version"],
        PREVIOUS
    );
}

#[test]
fn a_failed_production_rollout_is_rolled_back_on_both_clusters() {
    let _lock = exclusive();
    let mut pipeline = Pipeline::new("pipeline-production-fails", true);
    pipeline.seed_previous(true);
    pipeline.recorded_as_built();
    pipeline.spinkube_on_the_way(true);
    let mut execution = pipeline.start();
    execution.set_var("deploy_timeout", "5");
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    assert!(pipeline.approve("carol", "approve", &execution).succeeded);
    let state = pipeline.kestra.run(&mut execution);
    let after = production_images();
    restore_workloads();

    let State::Failed(error) = state else {
        panic!("the production check fails: {state:?}");
    };
    assert!(
        error.starts_with("deploy_production:")
            && error.contains(&format!("{PREVIOUS} was put back")),
        "{error}"
    );
    assert!(
        after.iter().all(|i| i.ends_with(PRODUCTION_BEFORE)),
        "{after:?}"
    );
    let events = pipeline.events(VERSION);
    for cluster in ["prod-east", "prod-west"] {
        let of: Vec<&str> = events
            .iter()
            .filter(|(c, _)| c == cluster)
            .map(|(_, s)| s.as_str())
            .collect();
        assert_eq!(of, ["started", "failed", "rolled_back"], "{cluster}");
    }
    for cluster in pipeline
        .ledger
        .get("/api/clusters")
        .json()
        .as_array()
        .unwrap()
    {
        let want = if cluster["name"] == "staging" {
            VERSION
        } else {
            PREVIOUS
        };
        assert_eq!(cluster["current"]["version"], want, "{}", cluster["name"]);
    }
}

/// Kestra was down when the approver's job resumed it: the job fails with one line, the
/// execution stays paused, and running the job again resumes it without deciding twice.
#[test]
fn a_resume_that_failed_once_is_run_again_and_the_release_goes_on() {
    let _lock = exclusive();
    let mut pipeline = Pipeline::new("pipeline-resume-again", false);
    pipeline.recorded_as_built();
    pipeline.spinkube_on_the_way(false);
    let mut execution = pipeline.start();
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    pipeline.api.unavailable_for(1);
    let failed = pipeline.approve("carol", "approve", &execution);
    assert!(!failed.succeeded);
    let last = failed.output.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("relctl: refused (503)"),
        "{}",
        failed.output
    );
    assert_eq!(
        pipeline.kestra.run(&mut execution),
        State::Paused,
        "not resumed"
    );
    assert_eq!(pipeline.release(VERSION)["approval"]["state"], "approved");

    let again = pipeline.approve("carol", "approve", &execution);
    assert!(again.succeeded, "{}", again.output);
    let state = pipeline.kestra.run(&mut execution);
    restore_workloads();
    assert_eq!(state, State::Success, "{:?}", execution.ran);
    let decisions = pipeline
        .audit()
        .iter()
        .filter(|(a, _, _)| a == "approval.decided")
        .count();
    assert_eq!(decisions, 1, "decided once");
    // Someone else deciding differently after the fact is still refused.
    let late = pipeline.approve("dave", "reject", &execution);
    assert!(
        !late.succeeded && late.output.contains("refused (409)"),
        "{}",
        late.output
    );
}

/// A run stopped while it waited (its pause ran out); the same tag is released by running the
/// flow again: nothing is built, pushed or deployed to staging twice, the approval is not asked
/// for twice, and the release goes on from the pending approval.
#[test]
fn a_rerun_of_a_half_finished_version_continues_where_it_stopped() {
    let _lock = exclusive();
    let mut pipeline = Pipeline::new("pipeline-rerun", false);
    pipeline.recorded_as_built();
    pipeline.spinkube_before("deploy_staging", &[("staging", "staging_url")], false);
    let mut first = pipeline.start();
    assert_eq!(pipeline.kestra.run(&mut first), State::Paused);
    pipeline.kestra.expire(&mut first);
    let staging_events = pipeline.events(VERSION);

    // The second run cannot push at all: its registry is gone. It never tries.
    let mut second = pipeline.start();
    second.set_var("artifact", "127.0.0.1:9/automatizacion");
    let registry = format!("{}/automatizacion", super::registry());
    pipeline.kestra.before(
        "record_release",
        Box::new(move |execution| execution.set_var("artifact", &registry)),
    );
    pipeline.spinkube_before(
        "deploy_production",
        &[
            ("prod-east", "prod_east_url"),
            ("prod-west", "prod_west_url"),
        ],
        false,
    );
    assert_eq!(
        pipeline.kestra.run(&mut second),
        State::Paused,
        "{:?}",
        second.ran
    );
    assert_eq!(
        pipeline.events(VERSION),
        staging_events,
        "staging was deployed again"
    );
    assert_eq!(
        second.output("build_and_push", "digest").unwrap(),
        built().digest
    );
    assert_eq!(
        second.output("request_approval", "state").as_deref(),
        Some("pending")
    );
    let requests = pipeline
        .audit()
        .iter()
        .filter(|(a, _, _)| a == "approval.requested")
        .count();
    assert_eq!(requests, 1);
    assert!(pipeline.approve("carol", "approve", &second).succeeded);
    let state = pipeline.kestra.run(&mut second);
    let production = production_images();
    restore_workloads();
    assert_eq!(state, State::Success, "{:?}", second.ran);
    assert!(
        production.iter().all(|i| i.ends_with(&built().digest)),
        "{production:?}"
    );
}

/// Alice pushed the tag; she approves others' releases, never her own.
#[test]
fn the_approver_who_pushed_the_tag_is_refused() {
    let _lock = exclusive();
    let mut pipeline = Pipeline::new("pipeline-own-release", false);
    pipeline.recorded_as_built();
    pipeline.spinkube_before("deploy_staging", &[("staging", "staging_url")], false);
    let mut execution = pipeline.start();
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    let own = pipeline.approve(PUSHER, "approve", &execution);
    restore_workloads();
    assert!(!own.succeeded);
    assert!(
        own.output.contains("refused (403)") && own.output.contains("someone else must decide"),
        "{}",
        own.output
    );
    assert!(pipeline.resumes().is_empty(), "Kestra was resumed");
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    assert_eq!(pipeline.release(VERSION)["approval"]["state"], "pending");
}

/// A token signed with Rundeck's approver key cannot deploy, whatever it claims.
#[test]
fn a_rundeck_signed_token_cannot_deploy() {
    let pipeline = Pipeline::new("pipeline-rundeck-deploys", false);
    pipeline.recorded_as_built();
    let before = pipeline.release(VERSION);
    let relctl = |issuer: &str, key: &str| {
        Command::new(env!("CARGO_BIN_EXE_relctl"))
            .args([
                "record-deployment",
                "--version",
                VERSION,
                "--cluster",
                "staging",
                "--status",
                "started",
            ])
            .env_remove("LEDGER_TOKEN")
            .env("LEDGER_URL", &pipeline.ledger.base)
            .env("LEDGER_SIGNING_KEY", pipeline_standins::key(key))
            .env("LEDGER_ISSUER", issuer)
            .env("LEDGER_KEY_ID", format!("{issuer}-1"))
            .env("LEDGER_SUBJECT", "mallory")
            .env("LEDGER_ROLE", "deployer")
            .output()
            .unwrap()
    };
    let refused = relctl("rundeck", "rundeck-1.pem");
    let line = String::from_utf8(refused.stderr).unwrap();
    assert_eq!(refused.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with("relctl: refused (403)") && line.contains("deployer"),
        "{line}"
    );
    // Claiming Kestra's issuer with Rundeck's key fails the signature.
    let forged = relctl("kestra", "rundeck-1.pem");
    assert!(String::from_utf8_lossy(&forged.stderr).contains("refused (401)"));
    assert_eq!(pipeline.release(VERSION), before, "the ledger changed");
    // The same token as an approver is fine: that is what Rundeck's key is for.
    let approver = signed("rundeck", "carol", "approver");
    assert_eq!(
        pipeline
            .ledger
            .get_as(&format!("/api/releases/{VERSION}"), Some(&approver))
            .status,
        200
    );
}

/// Rundeck's rollback asks the ledger before it touches production: a release that was never
/// approved is refused, and nothing changes anywhere.
#[test]
fn a_rollback_to_a_release_never_approved_is_refused_with_production_untouched() {
    let _lock = exclusive();
    let pipeline = Pipeline::new("pipeline-rollback-refused", false);
    pipeline.seed_previous(false);
    let before = (
        production_images(),
        pipeline.ledger.get("/api/audit?limit=100").json(),
    );
    let run = pipeline.roll_back("root", PREVIOUS);
    assert!(!run.succeeded);
    assert!(
        run.output.contains("never approved for production"),
        "{}",
        run.output
    );
    let after = (
        production_images(),
        pipeline.ledger.get("/api/audit?limit=100").json(),
    );
    assert_eq!(before, after, "production or the ledger changed");
    // An approver may not run it at all.
    assert!(
        pipeline
            .roll_back("carol", PREVIOUS)
            .output
            .starts_with("Unauthorized")
    );
}

/// Rolling back is a deploy of the earlier release from its own commit's manifests: recorded
/// `started` and `succeeded` for it, `rolled_back` for what ran, production on its digest.
#[test]
fn a_rollback_puts_an_approved_release_back_from_its_own_commit() {
    let _lock = exclusive();
    let pipeline = Pipeline::new("pipeline-rollback", true);
    pipeline.seed_previous(true);
    pipeline.recorded_as_built();
    // 1.4.0 reached production (recorded as the flow would, then applied as Karmada had it).
    let deployer = host_harness::token("kestra", &["deployer"]);
    let ledger = &pipeline.ledger;
    let record = |cluster: &str, status: &str| {
        let path = format!("/api/releases/{VERSION}/deployments");
        let reply = ledger.post_json(
            &path,
            &deployer,
            &json!({"cluster": cluster, "status": status}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    };
    record("staging", "succeeded");
    assert_eq!(
        ledger
            .post_json(
                &format!("/api/releases/{VERSION}/approval"),
                &deployer,
                &json!({})
            )
            .status,
        201
    );
    // Alice pushed it, so Carol approves.
    let carol = host_harness::token("carol", &["approver"]);
    let decision = json!({"decision": "approve", "comment": "ship it"});
    let path = format!("/api/releases/{VERSION}/approval/decision");
    assert_eq!(ledger.post_json(&path, &carol, &decision).status, 200);
    record("prod-east", "succeeded");
    record("prod-west", "succeeded");

    let run = pipeline.roll_back("root", PREVIOUS);
    let production = production_images();
    restore_workloads();
    assert!(run.succeeded, "{}", run.output);
    assert!(
        production.iter().all(|i| i.ends_with(PRODUCTION_BEFORE)),
        "{production:?}"
    );
    for cluster in ["prod-east", "prod-west"] {
        let current: Vec<(String, String)> = pipeline
            .events(VERSION)
            .into_iter()
            .filter(|(c, _)| c == cluster)
            .collect();
        assert_eq!(current.last().unwrap().1, "rolled_back", "{cluster}");
        let previous: Vec<String> = pipeline
            .events(PREVIOUS)
            .into_iter()
            .filter(|(c, _)| c == cluster)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(previous, ["succeeded", "started", "succeeded"], "{cluster}");
    }
    for cluster in ledger.get("/api/clusters").json().as_array().unwrap() {
        let want = if cluster["name"] == "staging" {
            VERSION
        } else {
            PREVIOUS
        };
        assert_eq!(cluster["current"]["version"], want, "{}", cluster["name"]);
    }
    let rolled = pipeline.release(VERSION)["deployments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        rolled["recorded_by"], "root",
        "recorded as the person who ran the job"
    );
}

#[test]
fn waiting_for_readiness_times_out_with_each_clusters_conditions() {
    let _lock = exclusive();
    let kubeconfig = control_plane().join("karmada");
    let wait = |timeout: &str| {
        Command::new(env!("CARGO_BIN_EXE_relctl"))
            .args([
                "wait-ready",
                "--namespace",
                "automatizacion",
                "--timeout",
                timeout,
            ])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()
            .unwrap()
    };
    let ready = wait("30");
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    assert_eq!(
        String::from_utf8(ready.stdout).unwrap().trim(),
        "automatizacion-backend 6/6, automatizacion-frontend 6/6"
    );
    // What the SpinKube operator would report when prod-west's replicas are down.
    let down = json!({"status": {"readyReplicas": 0, "conditions": [{
        "type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
        "message": "0 of 2 replicas ready", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    let patched = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(control_plane().join("all"))
        .args([
            "--context",
            "prod-west",
            "-n",
            "automatizacion",
            "patch",
            "spinapp",
            "automatizacion-frontend",
        ])
        .args([
            "--subresource=status",
            "--type=merge",
            "-p",
            &down.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        patched.status.success(),
        "{}",
        String::from_utf8_lossy(&patched.stderr)
    );
    // Karmada aggregates the report within a second or two; wait until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while kubectl(
        "karmada-apiserver",
        &[
            "-n",
            "automatizacion",
            "get",
            "spinapp",
            "automatizacion-frontend",
        ],
    )["status"]["readyReplicas"]
        != 4
    {
        assert!(
            std::time::Instant::now() < deadline,
            "Karmada never aggregated prod-west's report"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let timed_out = wait("4");
    // The operator stand-in reports every member SpinApp ready again.
    let restored = Command::new(repo().join("local-dev/control-plane.sh"))
        .arg("report-ready")
        .env("CONTROL_PLANE_DIR", control_plane().parent().unwrap())
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );

    assert_eq!(timed_out.status.code(), Some(3));
    let line = String::from_utf8(timed_out.stderr).unwrap();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains("automatizacion-frontend: 4/6 ready"),
        "{line}"
    );
    assert!(line.contains("Available=False (prod-west"), "{line}");
}

/// relctl speaks Kestra 2.0: the `/actions/resume` path, HTTP Basic from the environment, and
/// one line for each way Kestra says no. The double answers as Kestra does.
#[test]
fn resuming_kestra_takes_basic_credentials_from_the_environment_only() {
    let mut pipeline = Pipeline::new("pipeline-resume", false);
    pipeline.recorded_as_built();
    let mut execution = pipeline.start();
    execution.breakpoint = Some("clone".into());
    // A paused execution for the double to know (stopped before anything ran).
    assert_eq!(pipeline.kestra.run(&mut execution), State::Paused);
    let resume = |env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relctl"));
        command
            .args([
                "resume-kestra",
                "--url",
                &pipeline.api.base,
                "--execution",
                &execution.id,
            ])
            .env_remove("KESTRA_USER")
            .env_remove("KESTRA_PASSWORD")
            .env_remove("KESTRA_API_TOKEN");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let one_line = |output: &std::process::Output, code: i32| {
        let line = String::from_utf8(output.stderr.clone()).unwrap();
        assert_eq!(output.status.code(), Some(code), "{line}");
        assert_eq!(line.lines().count(), 1, "{line}");
        line
    };
    let none = one_line(&resume(&[]), 2);
    assert!(none.contains("no Kestra credentials"), "{none}");
    let token = one_line(&resume(&[("KESTRA_API_TOKEN", "an-ee-token")]), 1);
    assert!(
        token.contains("refused (401)") && token.contains("HTTP Basic"),
        "{token}"
    );
    let user = ("KESTRA_USER", super::doubles::KESTRA_USER);
    let wrong = one_line(&resume(&[user, ("KESTRA_PASSWORD", "guess")]), 1);
    assert!(wrong.contains("refused (401)"), "{wrong}");
    let right = [user, ("KESTRA_PASSWORD", super::doubles::KESTRA_PASSWORD)];
    let resumed = resume(&right);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        String::from_utf8(resumed.stdout).unwrap().trim(),
        format!("resumed {}", execution.id)
    );
    let twice = one_line(&resume(&right), 1);
    assert!(
        twice.contains("refused (409)") && twice.contains("is not paused"),
        "{twice}"
    );
    // The 1.x path reads as "create an execution of flow `resume`" on 2.0.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        super::doubles::KESTRA_USER,
        super::doubles::KESTRA_PASSWORD
    ));
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
