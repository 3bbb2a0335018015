//! One pipeline for one scenario: a fresh ledger that trusts the pipeline's issuers, the Kestra
//! stand-in with the flow saved and its API double, the Rundeck stand-in with the jobs' keys,
//! globals and users, and, for the scenarios that deploy, the members run by the SpinKube
//! stand-in (`clusters`).

use super::build::{allowed_signers, built, checkout, origin};
use super::nodes::{Collector, OnNodes};
use super::{
    PREVIOUS, VERSION, kubeconfigs, path_with_tools, production_images, registry, restore_workloads,
};
use host_harness::{Host, HostBuilder, repo, scratch_dir, token};
use native_db::testing::TestDb;
use pipeline_standins::kestra::api::KestraApi;
use pipeline_standins::kestra::run::{Execution, Kestra, Shared, State};
use pipeline_standins::rundeck::{JobRun, Rundeck};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};

/// Kestra OSS's basic-auth account (an e-mail, as it requires) that the approve job resumes with.
pub const KESTRA_USER: &str = "release-bot@example.com";
pub const KESTRA_PASSWORD: &str = "Resume1sAllowed";
/// Who signed the tag, and so whose release it is.
pub const PUSHER: &str = "alice";

/// Where the project's mail about decisions and rollbacks goes (`project.globals.release_mail`).
pub const RELEASE_MAIL: &str = "releases@example.com";

/// The ledger address the jobs' `valuesUrl` carry until an administrator edits them.
const DOCUMENTED_LEDGER: &str = "https://ledger.automatizacion.example.com";

/// The ledger's `auth_issuers` for the test keys: Kestra and Rundeck's admins may deploy,
/// Rundeck may approve; Kestra alone acts for others (it names the tag's signer).
pub fn issuers() -> String {
    let jwk = |name: &str, kid: &str| -> Value {
        let public = pipeline_standins::key(&format!("{name}.pub.pem"));
        serde_json::from_str(&token::ed25519_jwk(&public, kid).unwrap()).unwrap()
    };
    json!([
        {"issuer": "kestra", "roles": ["deployer"], "jwks": {"keys": [jwk("kestra-1", "kestra-1")]},
         "acts_for_others": true},
        {"issuer": "rundeck", "roles": ["approver"], "jwks": {"keys": [jwk("rundeck-1", "rundeck-1")]}},
        {"issuer": "rundeck-admins", "roles": ["deployer"],
         "jwks": {"keys": [jwk("rundeck-admins-1", "rundeck-admins-1")]}},
    ])
    .to_string()
}

/// A ledger token signed by ISSUER's test key.
pub fn signed(issuer: &str, sub: &str, role: &str) -> String {
    let claims = token::Claims::new(
        sub,
        &[role.to_owned()],
        600,
        issuer,
        token::DEFAULT_AUDIENCE,
    );
    let key = pipeline_standins::key(&format!("{issuer}-1.pem"));
    token::mint(&claims, &key, Some(&format!("{issuer}-1"))).unwrap()
}

/// The Kestra stand-in with its secrets, on a fresh scratch directory.
pub fn kestra_standin(label: &str) -> Kestra {
    let kubeconfig = std::fs::read_to_string(kubeconfigs().join("karmada")).unwrap();
    let secrets = [
        ("RELEASE_WEBHOOK_KEY", "hook-key-1".to_owned()),
        ("GIT_USERNAME", String::new()),
        ("GIT_PASSWORD", String::new()),
        // The test registry takes no login (and `spin registry login` speaks only HTTPS).
        ("REGISTRY_USER", String::new()),
        ("REGISTRY_PASSWORD", String::new()),
        ("LEDGER_SIGNING_KEY", pipeline_standins::key("kestra-1.pem")),
        ("KARMADA_KUBECONFIG", kubeconfig),
        ("ALLOWED_SIGNERS", allowed_signers()),
    ];
    Kestra::new(&secrets, path_with_tools(), scratch_dir(label))
}

/// The release flow, as CI deploys it.
pub fn release_flow() -> String {
    std::fs::read_to_string(repo().join("kestra/flows/automatizacion.release.yml")).unwrap()
}

/// Kestra's KV settings as an installation sets them: `kestra/settings.example` with the
/// values SETTINGS give, loaded by `kestra/put-settings.sh` through the API at API, as CI does.
pub fn put_settings(api: &str, settings: &[(&str, String)]) {
    let mut text = std::fs::read_to_string(repo().join("kestra/settings.example")).unwrap();
    for (name, value) in settings {
        let at = text
            .find(&format!("\n{name}="))
            .unwrap_or_else(|| panic!("kestra/settings.example has no {name}"))
            + 1;
        let end = text[at..].find('\n').map_or(text.len(), |e| at + e);
        text.replace_range(at..end, &format!("{name}={value}"));
    }
    let file = scratch_dir("kestra-settings").join("settings");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(repo().join("kestra/put-settings.sh"))
        .arg(&file)
        .env("KESTRA_URL", api)
        .env("KESTRA_USER", KESTRA_USER)
        .env("KESTRA_PASSWORD", KESTRA_PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kestra/put-settings.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Changes setting NAME of the flows' namespace in the KV store SHARED holds.
pub fn change_setting(shared: &Arc<Mutex<Shared>>, name: &str, value: Value) {
    let mut shared = shared.lock().unwrap();
    let key = ("automatizacion".to_owned(), name.to_owned());
    assert!(shared.kv.contains_key(&key), "no setting {name} was loaded");
    shared.kv.insert(key, value);
}

/// The settings every test run sets: where the repository, registry, ledger and Kestra are.
pub fn local_settings(ledger: &str, kestra: &str) -> Vec<(&'static str, String)> {
    vec![
        ("repository_url", format!("file://{}", origin().display())),
        ("artifact", format!("{}/automatizacion", registry())),
        ("spin_registry_flags", "--push-flag=--insecure".into()),
        ("ledger_url", ledger.to_owned()),
        ("kestra_url", kestra.to_owned()),
        // A production rollout is a dozen pods starting on two cores, beside the other lane's.
        ("deploy_timeout", "180".into()),
        // Production all at once: these scenarios' previous production release is the
        // overlays' placeholder, which no registry holds, and a cluster held on it would stay
        // unready until Karmada failed it over. `canary` and `spinkube` stage releases over a
        // previous one that runs.
        ("production_stages", String::new()),
        ("production_prometheus", String::new()),
    ]
}

pub struct Pipeline {
    /// The members' nodes, when this scenario's release runs on them. First, so that the
    /// control plane is put back before the ledger goes.
    pub on: Option<OnNodes>,
    pub ledger: Host,
    _db: Option<TestDb>,
    pub kestra: Kestra,
    pub api: KestraApi,
    pub rundeck: Rundeck,
}

impl Pipeline {
    pub fn new(label: &str, postgres: bool) -> Self {
        let builder = HostBuilder::new(label).var("auth_issuers", &issuers());
        let (ledger, db) = if postgres {
            let db = TestDb::postgres();
            let url = db.db_url().unwrap().to_owned();
            let authority = format!(
                "postgres://{}",
                url.split('@').nth(1).unwrap().split('/').next().unwrap()
            );
            let ledger = builder
                .var("db_url", &url)
                .var("db_outbound_host", &authority)
                .start();
            (ledger, Some(db))
        } else {
            (builder.start(), None)
        };
        let kestra = kestra_standin(label);
        let api = KestraApi::start(kestra.shared.clone(), KESTRA_USER, KESTRA_PASSWORD);
        kestra
            .save(&release_flow())
            .unwrap_or_else(|e| panic!("the flow does not save: {e:#?}"));
        put_settings(&api.base, &local_settings(&ledger.base, &api.base));
        let mut rundeck = Rundeck::new(
            &repo().join("rundeck/acl/automatizacion-releases.aclpolicy"),
            path_with_tools(),
        );
        load_as_the_readme_says(&mut rundeck);
        for (global, value) in [
            ("ledger_url", ledger.base.clone()),
            ("kestra_url", api.base.clone()),
            ("kestra_user", KESTRA_USER.to_owned()),
            ("approver_key_id", "rundeck-1".to_owned()),
            ("deployer_key_id", "rundeck-admins-1".to_owned()),
            ("checkout", checkout().display().to_string()),
            ("release_mail", RELEASE_MAIL.to_owned()),
        ] {
            rundeck.globals.insert(global.into(), value);
        }
        // Alice pushes tags and approves others' releases; Carol and Dave approve; Root runs
        // rollbacks.
        for (user, group) in [
            (PUSHER, "release-approvers"),
            ("carol", "release-approvers"),
            ("dave", "release-approvers"),
            ("root", "release-admins"),
        ] {
            rundeck.users.insert(user.into(), vec![group.into()]);
        }
        Pipeline {
            on: None,
            ledger,
            _db: db,
            kestra,
            api,
            rundeck,
        }
    }

    /// A pipeline whose ledger already holds the release as the one build recorded it.
    pub fn for_the_build(label: &str, postgres: bool) -> Self {
        let pipeline = Self::new(label, postgres);
        pipeline.recorded_as_built();
        pipeline
    }

    /// A release of VERSION, as the webhook starts it for a pushed tag (the push names a
    /// pusher; the flow ignores it and takes the tag's signer).
    pub fn start(&mut self) -> Execution {
        let push = json!({"ref": format!("refs/tags/v{VERSION}"), "deleted": false,
                          "pusher": {"name": "whoever-the-body-says"}});
        self.kestra
            .webhook("automatizacion", "release", "hook-key-1", &push)
            .unwrap()
            .expect("a pushed tag starts a release")
    }

    /// A pipeline whose members run what Karmada gives them as pods on real nodes: the flow's
    /// smoke URLs name each cluster's backend Service.
    pub fn on_clusters(label: &str, postgres: bool) -> Self {
        Self::on_clusters_with(label, postgres, &[])
    }

    /// As `on_clusters`, the members in COLLECTORS also sending their spans to their own.
    pub fn on_clusters_with(label: &str, postgres: bool, collectors: &[Collector]) -> Self {
        let mut pipeline = Self::new(label, postgres);
        let on = OnNodes::start(collectors);
        let mut settings = local_settings(&pipeline.ledger.base, &pipeline.api.base);
        for (setting, member, namespace) in [
            ("staging_url", "staging", "automatizacion-staging"),
            ("prod_east_url", "prod-east", "automatizacion"),
            ("prod_west_url", "prod-west", "automatizacion"),
        ] {
            settings.push((setting, on.backend(member, namespace)));
        }
        put_settings(&pipeline.api.base, &settings);
        pipeline.on = Some(on);
        pipeline
    }

    /// A pipeline on the clusters for the built release, its execution waiting for the approver.
    pub fn waiting_for_approval(label: &str, postgres: bool) -> (Self, Execution) {
        let mut pipeline = Self::on_clusters(label, postgres);
        pipeline.recorded_as_built();
        let execution = pipeline.run_to_the_pause();
        (pipeline, execution)
    }

    /// A release started by the pushed tag and run until it waits for the approver.
    pub fn run_to_the_pause(&mut self) -> Execution {
        let mut execution = self.start();
        assert_eq!(
            self.kestra.run(&mut execution),
            State::Paused,
            "{:?}",
            execution.ran
        );
        execution
    }

    /// Runs EXECUTION on from where it stopped, and reads production's images before the
    /// control plane's workloads are put back for the next scenario.
    pub fn finish(&mut self, execution: &mut Execution) -> (State, Vec<String>) {
        let state = self.kestra.run(execution);
        let production = production_images();
        restore_workloads();
        (state, production)
    }

    /// The release as the one build recorded it: built and pushed from the tag's commit, for
    /// the pusher. (The flow's `build_and_push` then takes the recorded digest, as a re-run.)
    pub fn recorded_as_built(&self) {
        self.recorded_for(PUSHER);
    }

    /// The release as the one build recorded it, for SIGNER.
    pub fn recorded_for(&self, signer: &str) {
        let built = built();
        let body = json!({"version": VERSION, "artifact": format!("{}:{VERSION}", built.repository),
                          "digest": built.digest, "commit": built.commit,
                          "notes": "No release notes.", "on_behalf_of": signer});
        let reply = self.ledger.post_json(
            "/api/releases",
            &signed("kestra", "kestra", "deployer"),
            &body,
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    /// A release PREVIOUS that already ran on staging, and on production when asked, from the
    /// commit before the tag's (`previous_commit`), at `previous_image`: what is put back
    /// really runs, as a cluster's previous release does.
    pub fn seed_previous(&self, production: bool) {
        self.checked_on_staging(PREVIOUS, previous_image(), &previous_commit());
        if production {
            self.approved_by_carol(PREVIOUS);
            self.record(PREVIOUS, "prod-east", "succeeded");
            self.record(PREVIOUS, "prod-west", "succeeded");
        }
    }

    /// VERSION built as IMAGE from COMMIT (`record_build`), and checked on staging.
    pub fn checked_on_staging(&self, version: &str, image: &str, commit: &str) {
        record_build(&self.ledger, version, image, commit);
        self.record(version, "staging", "succeeded");
    }

    /// Records a deployment event as Kestra does.
    pub fn record(&self, version: &str, cluster: &str, status: &str) {
        let path = format!("/api/releases/{version}/deployments");
        let event = json!({"cluster": cluster, "status": status});
        let reply = self
            .ledger
            .post_json(&path, &token("kestra", &["deployer"]), &event);
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    /// Kestra asks for VERSION's approval and Carol (who pushed nothing) approves it.
    pub fn approved_by_carol(&self, version: &str) {
        let path = format!("/api/releases/{version}/approval");
        let deployer = token("kestra", &["deployer"]);
        let reply = self.ledger.post_json(&path, &deployer, &json!({}));
        assert_eq!(reply.status, 201, "{}", reply.body);
        let decision = json!({"decision": "approve", "comment": "ship it"});
        let carol = token("carol", &["approver"]);
        let reply = self
            .ledger
            .post_json(&format!("{path}/decision"), &carol, &decision);
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// A fault no real cluster gives on demand: from TASK on, the smoke checks of the URL
    /// SETTINGS reach the ledger's own `/api/info`, which names cluster `local` and another
    /// version; and since the check fails at once, TASK's waits are cut to TIMEOUT seconds
    /// (the steps before it keep the pipeline's, which a busy machine needs).
    pub fn smoke_finds_another_version(
        &mut self,
        task: &str,
        settings: &[&'static str],
        timeout: u32,
    ) {
        let ledger = self.ledger.base.clone();
        let settings = settings.to_vec();
        let shared = self.kestra.shared.clone();
        self.kestra.before(
            task,
            Box::new(move |_: &mut Execution| {
                for setting in &settings {
                    change_setting(&shared, setting, ledger.as_str().into());
                }
                change_setting(&shared, "deploy_timeout", timeout.into());
            }),
        );
    }

    /// Changes setting NAME in Kestra's KV store, as an operator would; the flow reads it at
    /// its next task.
    pub fn change_setting(&self, name: &str, value: Value) {
        change_setting(&self.kestra.shared, name, value);
    }

    /// USER runs `approve-release` in Rundeck for the paused EXECUTION.
    pub fn approve(&self, user: &str, decision: &str, execution: &Execution) -> JobRun {
        let comment = format!("{decision}d after reading the staging check");
        self.rundeck.run(
            &repo().join("rundeck/jobs/approve-release.yaml"),
            user,
            &[
                ("version", VERSION),
                ("decision", decision),
                ("comment", &comment),
                ("kestra_execution", &execution.id),
            ],
        )
    }

    /// What Rundeck's run form of JOB (a file under `rundeck/jobs`) lists for OPTION, shown to
    /// USER: the job as loaded once its `valuesUrl` names this ledger, as rundeck/README.md
    /// says to edit it.
    pub fn choices(&self, job: &str, option: &str, user: &str) -> Result<Vec<String>, String> {
        let written = std::fs::read_to_string(repo().join("rundeck/jobs").join(job)).unwrap();
        let edited = written.replace(DOCUMENTED_LEDGER, &self.ledger.base);
        assert_ne!(edited, written, "{job} names the documented ledger address");
        let file = scratch_dir("rundeck-job").join(job);
        std::fs::write(&file, edited).unwrap();
        let values = self.rundeck.option_values(&file, option, user, &[])?;
        Ok(values.into_iter().map(|(_, value)| value).collect())
    }

    /// USER runs `rollback-production` to TO_VERSION.
    pub fn roll_back(&self, user: &str, to_version: &str) -> JobRun {
        self.rundeck.run(
            &repo().join("rundeck/jobs/rollback-production.yaml"),
            user,
            &[("to_version", to_version)],
        )
    }

    pub fn release(&self, version: &str) -> Value {
        self.ledger.get(&format!("/api/releases/{version}")).json()
    }

    /// (cluster, status) of VERSION's deployment events, oldest first.
    pub fn events(&self, version: &str) -> Vec<(String, String)> {
        let deployments = &self.release(version)["deployments"];
        let event = |d: &Value| (text(d, "cluster"), text(d, "status"));
        deployments.as_array().unwrap().iter().map(event).collect()
    }

    /// (action, actor, on_behalf_of) of every audit entry, oldest first.
    pub fn audit(&self) -> Vec<(String, String, Option<String>)> {
        let audit = self.ledger.get("/api/audit?limit=100").json();
        let entry = |e: &Value| {
            let on_behalf_of = e["on_behalf_of"].as_str().map(str::to_owned);
            (text(e, "action"), text(e, "actor"), on_behalf_of)
        };
        let mut entries: Vec<_> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(entry)
            .collect();
        entries.reverse();
        entries
    }

    /// How many audit entries record ACTION.
    pub fn audited(&self, action: &str) -> usize {
        self.audit().iter().filter(|(a, _, _)| a == action).count()
    }

    /// (cluster, version) of what each cluster runs, as the ledger knows it.
    pub fn current_versions(&self) -> Vec<(String, String)> {
        let clusters = self.ledger.get("/api/clusters").json();
        clusters
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let version = c["current"]["version"].as_str().unwrap_or("none");
                (c["name"].as_str().unwrap().to_owned(), version.to_owned())
            })
            .collect()
    }

    /// EXECUTION's state as Kestra's API shows it (`RUNNING`, `PAUSED`, …).
    pub fn execution_state(&self, execution: &Execution) -> String {
        let shared = self.kestra.shared.lock().unwrap();
        let view = pipeline_standins::kestra::api::execution(&shared, &execution.id).unwrap();
        view["state"]["current"].as_str().unwrap().to_owned()
    }

    /// The API double's resume calls: `POST …/actions/resume Basic` for each.
    pub fn resumes(&self) -> Vec<String> {
        let calls = self.api.calls.lock().unwrap();
        calls
            .iter()
            .filter(|call| call.starts_with("POST ") && call.contains("/actions/resume "))
            .cloned()
            .collect()
    }
}

/// VERSION recorded in LEDGER as the flow's `build_and_push` records a build: the artifact
/// IMAGE (`repository@digest`, tagged VERSION) built from COMMIT.
pub fn record_build(ledger: &Host, version: &str, image: &str, commit: &str) {
    let (repository, digest) = image.split_once('@').expect("IMAGE is repository@digest");
    let mut body = host_harness::release_body(version);
    body["artifact"] = format!("{repository}:{version}").into();
    body["digest"] = digest.into();
    body["commit"] = commit.into();
    let reply = ledger.post_json("/api/releases", &token("kestra", &["deployer"]), &body);
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// PREVIOUS's artifact, `REGISTRY/automatizacion@DIGEST`: this checkout's build pushed once per
/// test binary.
pub fn previous_image() -> &'static str {
    static PUSHED: OnceLock<String> = OnceLock::new();
    PUSHED.get_or_init(|| host_harness::push_checkout(&registry(), PREVIOUS))
}

/// The commit before the tag's: the test clusters' settings without v1.4.0's own manifests,
/// what the previous release (1.3.0) was built from.
pub fn previous_commit() -> String {
    let out = std::process::Command::new("git")
        .args(["--git-dir", origin().to_str().unwrap(), "rev-parse"])
        .arg(format!("v{VERSION}^"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Rundeck's key storage as `rundeck/README.md` says to fill it (`rd keys create`, as rd sends
/// it), from files named as it names them: the test keys, Kestra's password, the control
/// plane's kubeconfig.
fn load_as_the_readme_says(rundeck: &mut Rundeck) {
    let dir = scratch_dir("rundeck-loading");
    let kubeconfig = std::fs::read_to_string(kubeconfigs().join("karmada")).unwrap();
    for (file, content) in [
        (
            "rundeck-approver.pem",
            pipeline_standins::key("rundeck-1.pem"),
        ),
        (
            "rundeck-deployer.pem",
            pipeline_standins::key("rundeck-admins-1.pem"),
        ),
        ("kestra-password.txt", format!("{KESTRA_PASSWORD}\n")),
        ("karmada.kubeconfig", kubeconfig),
        (
            "ledger-viewer-token.txt",
            format!("{}\n", token("rundeck", &["viewer"])),
        ),
    ] {
        std::fs::write(dir.join(file), content).unwrap();
    }
    std::os::unix::fs::symlink(repo().join("rundeck"), dir.join("rundeck")).unwrap();
    pipeline_standins::rundeck::rd::load_as_the_readme_says(
        rundeck,
        &repo().join("rundeck/README.md"),
        &dir,
    )
    .unwrap_or_else(|e| panic!("rundeck/README.md's loading commands: {e}"));
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The statuses of CLUSTER's events among EVENTS, oldest first.
pub fn statuses_on(events: &[(String, String)], cluster: &str) -> Vec<String> {
    events
        .iter()
        .filter(|(c, _)| c == cluster)
        .map(|(_, s)| s.clone())
        .collect()
}

/// Staging on VERSION, production on WANT.
pub fn staging_new_production(want: &str) -> Vec<(String, String)> {
    pairs(&[
        ("staging", VERSION),
        ("prod-east", want),
        ("prod-west", want),
    ])
}

/// The text at KEY of a record.
fn text(record: &Value, key: &str) -> String {
    record[key].as_str().unwrap().to_owned()
}
