//! The Rundeck jobs and ACL as Rundeck 6.1 takes them: they load, locations are the
//! administrator's project globals (never an option an approver can point elsewhere), secrets
//! come from key storage, and each group reads only the keys its job needs, checked by running
//! the jobs as users of each group under the ACL.

use super::{ACL, JOBS, read, repo, yaml};
use pipeline_standins::rundeck::{PASSWORD, Rundeck, StoredKey, acl_problems, job_problems};
use std::collections::BTreeSet;

#[test]
fn the_jobs_load_and_take_their_locations_from_project_globals() {
    let readme = read("rundeck/README.md");
    for path in JOBS {
        let document = yaml(path);
        let jobs = document.as_array().expect("a job file is a list of jobs");
        assert_eq!(jobs.len(), 1, "{path}");
        let job = &jobs[0];
        assert_eq!(job_problems(job), Vec::<String>::new(), "{path}");
        let options = job["options"].as_array().unwrap();
        let names: BTreeSet<String> = options
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_uppercase())
            .collect();
        // Where the ledger, Kestra and the checkout are is not the runner's to choose.
        for name in &names {
            assert!(
                !name.contains("URL") && !name.contains("CHECKOUT"),
                "{path}: option {name} lets whoever runs the job choose a location"
            );
        }
        let script = job["sequence"]["commands"][0]["script"].as_str().unwrap();
        assert!(script.starts_with("set -eu"), "{path}");
        for (at, _) in script.match_indices("$RD_OPTION_") {
            let name: String = script[at + 11..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                names.contains(&name),
                "{path}: the script reads undeclared option {name}"
            );
        }
        for (at, _) in script.match_indices("$RD_GLOBALS_") {
            let name: String = script[at + 12..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let global = format!("project.globals.{}", name.to_lowercase());
            assert!(
                readme.contains(&global),
                "rundeck/README.md does not say how to set {global}"
            );
        }
        // The ledger hears the person who runs the job.
        assert!(
            script.contains("LEDGER_SUBJECT=\"$RD_JOB_USERNAME\""),
            "{path}"
        );
        for option in options {
            if let Some(storage) = option["storagePath"].as_str() {
                assert_eq!(option["secure"], true, "{path}: {}", option["name"]);
                assert!(
                    readme.contains(&format!("`{storage}`")),
                    "rundeck/README.md does not list {storage}"
                );
            }
        }
    }
    let approve = &yaml(JOBS[0])[0];
    let decision = approve["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "decision")
        .unwrap();
    assert_eq!(decision["enforced"], true);
    assert_eq!(decision["values"], serde_json::json!(["approve", "reject"]));
    // The execution is checked to be this release's before anything is recorded, and Kestra
    // is resumed only after the ledger accepted the decision (set -e stops before it).
    let script = approve["sequence"]["commands"][0]["script"]
        .as_str()
        .unwrap();
    let check = script.find("relctl resume-kestra --check-only").unwrap();
    let decide = script.find("relctl decide").unwrap();
    let resume = script.rfind("relctl resume-kestra --execution").unwrap();
    assert!(check < decide && decide < resume, "{script}");
    // The same check refuses what Rundeck would.
    let mut broken = approve.clone();
    broken["loglevel"] = "LOUD".into();
    broken["options"][0]["requird"] = true.into();
    let problems = job_problems(&broken);
    assert!(
        problems.iter().any(|p| p.contains("loglevel"))
            && problems.iter().any(|p| p.contains("requird")),
        "{problems:?}"
    );
}

#[test]
fn the_acl_loads_and_grants_each_group_only_what_its_job_needs() {
    assert_eq!(acl_problems(&read(ACL)), Vec::<String>::new());
    let broken = read(ACL).replacen(
        "allow: [read, view, run]",
        "allow: [read, view, run, fly]",
        1,
    );
    assert!(acl_problems(&broken).iter().any(|p| p.contains("fly")));

    // Run each job as a member of each group, with a stand-in that records instead of calling
    // anything: what the ACL lets through is whatever reaches the script.
    let mut rundeck = Rundeck::new(&repo().join(ACL), String::new());
    for (path, value) in [
        ("keys/automatizacion/approver-signing-key", "approver-key"),
        ("keys/automatizacion/kestra-password", "kestra-password"),
        ("keys/automatizacion/deployer-signing-key", "deployer-key"),
        ("keys/automatizacion/karmada-kubeconfig", "kubeconfig"),
    ] {
        let stored = StoredKey {
            content: value.as_bytes().to_vec(),
            content_type: PASSWORD.into(),
        };
        rundeck.keys.insert(path.into(), stored);
    }
    rundeck
        .users
        .insert("ana".into(), vec!["release-approvers".into()]);
    rundeck
        .users
        .insert("root".into(), vec!["release-admins".into()]);
    rundeck
        .users
        .insert("dev".into(), vec!["developers".into()]);
    let approve = repo().join(JOBS[0]);
    let rollback = repo().join(JOBS[1]);
    let approve_options = [
        ("version", "1.4.0"),
        ("decision", "approve"),
        ("comment", "green"),
        ("kestra_execution", "abc123"),
    ];
    // The stand-in's PATH has no relctl: a job the ACL lets through fails at its first call,
    // after its options were resolved; one the ACL stops never starts its script (`rd run`
    // does not even find a job its user may not read).
    let refused = |run: pipeline_standins::rundeck::JobRun| {
        run.output
            .starts_with("Could not find a unique job with name: automatizacion/")
    };
    assert!(
        !refused(rundeck.run(&approve, "ana", &approve_options)),
        "approvers run approve-release"
    );
    assert!(
        !refused(rundeck.run(&approve, "root", &approve_options)),
        "admins run approve-release"
    );
    assert!(
        refused(rundeck.run(&approve, "dev", &approve_options)),
        "nobody else does"
    );
    let rollback_options = [("to_version", "1.3.0")];
    assert!(
        !refused(rundeck.run(&rollback, "root", &rollback_options)),
        "admins roll back"
    );
    let approver = rundeck.run(&rollback, "ana", &rollback_options);
    assert!(refused(approver), "approvers do not roll back");
    // Each group reads exactly the keys its jobs load.
    for (path, approvers, admins) in [
        ("approver-signing-key", true, true),
        ("kestra-password", true, true),
        ("deployer-signing-key", false, true),
        ("karmada-kubeconfig", false, true),
    ] {
        let path = format!("keys/automatizacion/{path}");
        assert_eq!(
            rundeck.may_read("ana", &path),
            approvers,
            "approvers and {path}"
        );
        assert_eq!(rundeck.may_read("root", &path), admins, "admins and {path}");
        assert!(!rundeck.may_read("dev", &path), "others and {path}");
    }
    // Were approvers let run the rollback, they still could not read its keys.
    let text = read(ACL);
    let widened = text.replacen(
        "        name: approve-release\n      allow: [read, view, run]\n  node:",
        "        name: approve-release\n      allow: [read, view, run]\n    - equals:\n        group: automatizacion\n        name: rollback-production\n      allow: [read, view, run]\n  node:",
        1,
    );
    assert_ne!(
        widened, text,
        "the approvers' policy is where the test expects it"
    );
    let widened_file = host_harness::scratch_dir("acl").join("widened.aclpolicy");
    std::fs::write(&widened_file, widened).unwrap();
    let mut widened = Rundeck::new(&widened_file, String::new());
    widened.keys = rundeck.keys.clone();
    widened.users = rundeck.users.clone();
    let run = widened.run(&rollback, "ana", &rollback_options);
    assert!(
        run.output.contains(
            "storage value from \"keys/automatizacion/deployer-signing-key\" could not be read"
        ),
        "{}",
        run.output
    );
    // Options are checked as Rundeck checks them.
    let good = [
        ("version", "1.0.0"),
        ("decision", "approve"),
        ("comment", "x"),
        ("kestra_execution", "a"),
    ];
    let refused_with = |changed: (&'static str, &'static str), why: &str| {
        let mut options: Vec<_> = good
            .iter()
            .filter(|(n, _)| *n != changed.0)
            .copied()
            .collect();
        options.push(changed);
        let run = rundeck.run(&approve, "ana", &options);
        assert!(run.output.contains(why), "{changed:?}: {}", run.output);
    };
    refused_with(("version", "v1"), "doesn't match");
    refused_with(("decision", "maybe"), "allowed values");
    refused_with(("kestra_url", "https://evil.example"), "not declared");
}

/// The release options list the ledger's releases in the state their job needs (Rundeck's
/// remote option values), from the documented ledger address that project globals also name,
/// with a token both groups may read; the lists help without deciding (not enforced). Every
/// job mails the release list, at least when it fails, at an address from project globals.
#[test]
fn the_run_forms_list_releases_from_the_ledger_and_every_job_mails_the_release_list() {
    let readme = read("rundeck/README.md");
    let mut rundeck = Rundeck::new(&repo().join(ACL), String::new());
    rundeck
        .users
        .insert("ana".into(), vec!["release-approvers".into()]);
    rundeck
        .users
        .insert("root".into(), vec!["release-admins".into()]);
    for (path, option, state) in [
        (JOBS[0], "version", "pending"),
        (JOBS[1], "to_version", "approved"),
    ] {
        let job = &yaml(path)[0];
        let listed = job["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == option)
            .unwrap();
        let url = listed["valuesUrl"].as_str().unwrap();
        let (address, query) = url.split_once("/api/choices/releases?").unwrap();
        assert_eq!(query, format!("state={state}"), "{path}");
        assert!(
            readme.contains(&format!(
                "`project.globals.ledger_url` | the ledger API, e.g. `{address}`"
            )),
            "{path}: {address} is not the address rundeck/README.md's globals give"
        );
        assert_ne!(
            listed["enforced"], true,
            "{path}: a list to help, not a rule"
        );
        let remote = &listed["configRemoteUrl"];
        assert_eq!(remote["authenticationType"], "BEARER_TOKEN", "{path}");
        let token = remote["tokenStoragePath"].as_str().unwrap();
        assert!(readme.contains(&format!("rd keys create -t password -p {token} ")));
        for user in ["ana", "root"] {
            assert!(rundeck.may_read(user, token), "{user} cannot read {token}");
        }

        let failure = &job["notification"]["onfailure"][0]["email"];
        let recipients = failure["recipients"].as_str().unwrap_or_default();
        let global = recipients
            .strip_prefix("${globals.")
            .and_then(|g| g.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{path}: failures mail {recipients:?}, not a global"));
        assert!(
            readme.contains(&format!("`project.globals.{global}`")),
            "rundeck/README.md does not say how to set project.globals.{global}"
        );
    }
}
