//! The SpinKube stand-in on the real Karmada control plane (`scripts/with-control-plane.sh`),
//! with the app's real artifact in the real OCI registry (`scripts/with-registry.sh`), one
//! PostgreSQL ledger (`scripts/with-postgres.sh`) and one Redis read model for every cluster,
//! as `k8s/database` gives real clusters.
//!
//! Production as `karmada/workloads/production` holds it, with the pushed digest, Secrets that
//! name this ledger and Redis, and `db_outbound_host` naming the ledger: Karmada places it on
//! prod-east and prod-west with their overrides, and the stand-in must serve each cluster's
//! console, follow a new digest or Secret only once it is ready, keep the old one serving when
//! the new one cannot be pulled or never gets ready, and stop what is deleted. One test, in
//! phases, because each phase starts from the world the one before left.

use host_harness::control_plane::{
    KARMADA, eventually_within, get as get_object, json_of, kubeconfigs, kubectl_ok,
};
use host_harness::{Redis, free_port, push_checkout, repo, scratch_dir, spin_bin};
use native_db::testing::TestDb;
use serde_json::{Value, json};
use spinkube_standin::put_back::PutBack;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NAMESPACE: &str = "automatizacion";
const MEMBERS: [&str; 2] = ["prod-east", "prod-west"];
const BACKEND: &str = "automatizacion-backend";
const FRONTEND: &str = "automatizacion-frontend";
const WAIT: Duration = Duration::from_secs(90);

/// Polls prod-east's backend until its `Progressing` condition's status and message satisfy
/// WANTED.
fn backend_progressing(what: &str, wanted: impl Fn(&str, &str) -> bool) {
    eventually_within(WAIT, what, || {
        let (status, message) = condition("prod-east", BACKEND, "Progressing")?;
        if wanted(&status, &message) {
            Ok(())
        } else {
            Err(message)
        }
    });
}

fn get(url: &str) -> Result<(u16, String), String> {
    let out = Command::new("curl")
        .args(["-s", "-m", "5", "-w", "\n%{http_code}", url])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').ok_or("no answer")?;
    Ok((code.parse().unwrap_or(0), body.to_owned()))
}

/// The stand-in for prod-east and prod-west, in a process group of its own with its Spins.
struct StandIn {
    child: Child,
    state: PathBuf,
}

impl StandIn {
    fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let state = scratch_dir("spinkube-standin");
        let log = std::fs::File::create(state.join("standin.log")).unwrap();
        eprintln!(
            "the stand-in's log: {}",
            state.join("standin.log").display()
        );
        let child = Command::new(env!("CARGO_BIN_EXE_spinkube-standin"))
            .arg("--kubeconfigs")
            .arg(kubeconfigs())
            .args(["--members", &MEMBERS.join(",")])
            .arg("--state")
            .arg(&state)
            .arg("--spin")
            .arg(spin_bin())
            .arg("--insecure-registry")
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        StandIn { child, state }
    }

    /// The URL each app serves at on MEMBER, once the stand-in says it does.
    fn endpoint(&self, member: &str, app: &str) -> Result<String, String> {
        let text = std::fs::read_to_string(self.state.join("endpoints.json"))
            .map_err(|e| e.to_string())?;
        let endpoints: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        endpoints[member][format!("{NAMESPACE}/{app}")]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{member} does not serve {app}: {endpoints}"))
    }

    /// How many Spin processes the stand-in runs.
    fn processes(&self) -> usize {
        let out = Command::new("pgrep")
            .args(["-g", &self.child.id().to_string(), "-f", "spin up"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// `scripts/make-secrets.sh` with DB_URL and KV_URL, applied to the control plane.
fn apply_secrets(db_url: &str, kv_url: &str) {
    let out = Command::new(repo().join("scripts/make-secrets.sh"))
        .env("DB_URL", db_url)
        .env("KV_URL", kv_url)
        .output()
        .unwrap();
    assert!(out.status.success());
    kubectl_ok(
        KARMADA,
        &["apply", "-f", "-"],
        Some(&String::from_utf8(out.stdout).unwrap()),
    );
}

fn set_image(app: &str, image: &str) {
    let patch = json!({"spec": {"image": image}}).to_string();
    let args = [
        "-n",
        NAMESPACE,
        "patch",
        "spinapp",
        app,
        "--type=merge",
        "-p",
        &patch,
    ];
    kubectl_ok(KARMADA, &args, None);
}

/// The member's SpinApp status condition of TYPE: (status, message).
fn condition(member: &str, app: &str, kind: &str) -> Result<(String, String), String> {
    let spinapp = json_of(member, &["-n", NAMESPACE, "get", "spinapp", app]);
    let conditions = spinapp["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = conditions
        .iter()
        .find(|c| c["type"] == kind)
        .ok_or("no condition yet")?;
    let text = |k: &str| found[k].as_str().unwrap_or_default().to_owned();
    Ok((text("status"), text("message")))
}

/// What the Deployment the operator would make of APP on MEMBER says: its pod template's image
/// and, once its controller has seen that spec, the old replicas still running and the new
/// ones available (relctl's `rollout::judge` reads the same).
fn deployment(member: &str, app: &str) -> Result<(String, i64, i64), String> {
    let deployment = get_object(member, NAMESPACE, &format!("deployment/{app}"))?;
    let count = |v: &Value| v.as_i64().unwrap_or(0);
    let status = &deployment["status"];
    if count(&status["observedGeneration"]) < count(&deployment["metadata"]["generation"]) {
        return Err(format!("{app} on {member}: its spec not yet seen"));
    }
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"].as_str();
    let old = count(&status["replicas"]) - count(&status["updatedReplicas"]);
    Ok((
        image.unwrap_or_default().to_owned(),
        old,
        count(&status["availableReplicas"]),
    ))
}

fn info(url: &str) -> Result<Value, String> {
    match get(&format!("{url}/api/info"))? {
        (200, body) => serde_json::from_str(&body).map_err(|e| e.to_string()),
        (code, body) => Err(format!("{code}: {body}")),
    }
}

fn pg_authority(url: &str) -> (String, String) {
    let after = url.split('@').nth(1).unwrap();
    let authority = after.split('/').next().unwrap();
    (format!("postgres://{authority}"), authority.to_owned())
}

#[test]
fn the_standin_serves_each_cluster_what_karmada_placed_there() {
    let _put_back = PutBack::take(&kubeconfigs());
    let db = TestDb::postgres();
    let db_url = db.db_url().unwrap().to_owned();
    let (outbound, _) = pg_authority(&db_url);
    let redis = Redis::start();
    let registry = std::env::var("TEST_REGISTRY")
        .expect("TEST_REGISTRY: run through scripts/with-registry.sh (make test does)");
    let image = push_checkout(&registry, "standin");
    apply_secrets(&db_url, &redis.url);
    let patch = json!({"data": {"db_outbound_host": outbound}}).to_string();
    let args = [
        "-n",
        NAMESPACE,
        "patch",
        "configmap",
        "automatizacion-config",
        "--type=merge",
        "-p",
        &patch,
    ];
    kubectl_ok(KARMADA, &args, None);
    for app in [BACKEND, FRONTEND] {
        set_image(app, &image);
    }
    let standin = StandIn::start();

    // Each cluster's console, served by that cluster, from Karmada's overrides.
    for (member, region) in [("prod-east", "eu-east-1"), ("prod-west", "eu-west-1")] {
        let console = eventually_within(WAIT, &format!("{member}'s console"), || {
            let url = standin.endpoint(member, FRONTEND)?;
            match get(&url)? {
                (200, page) => Ok(page),
                (code, _) => Err(format!("{code}")),
            }
        });
        let served_by = format!("Served by <strong>{member}</strong> ({region})");
        assert!(console.contains(&served_by), "{console}");
    }
    // The statuses on the members may still be the ones the status-only mode (nothing runs)
    // wrote before this test: wait until the stand-in itself serves every backend ready.
    let mut ready_backends = Vec::new();
    for member in ["prod-east", "prod-west"] {
        ready_backends.push(eventually_within(
            WAIT,
            &format!("{member}'s backend ready"),
            || {
                let url = standin.endpoint(member, BACKEND)?;
                match get(&format!("{url}/api/ready"))? {
                    (200, _) => Ok(url),
                    (code, body) => Err(format!("{code}: {body}")),
                }
            },
        ));
    }
    eventually_within(
        WAIT,
        "Karmada aggregates 6 ready replicas of each app",
        || {
            for app in [BACKEND, FRONTEND] {
                let template = json_of(KARMADA, &["-n", NAMESPACE, "get", "spinapp", app]);
                let ready = template["status"]["readyReplicas"].as_i64();
                if ready != Some(6) {
                    return Err(format!("{app}: {ready:?}"));
                }
            }
            Ok(())
        },
    );
    assert_eq!(standin.processes(), 4, "one Spin per SpinApp per cluster");
    let serving = ready_backends.swap_remove(0);
    // Each SpinApp's Deployment says it is rolled out: the image, no old replica left.
    for member in MEMBERS {
        for app in [BACKEND, FRONTEND] {
            eventually_within(WAIT, "the Deployment is rolled out", || {
                match deployment(member, app)? {
                    (found, 0, available) if found == image && available > 0 => Ok(()),
                    other => Err(format!("{app} on {member}: {other:?}")),
                }
            });
        }
    }

    // A digest that cannot be pulled: the old one serves on, and the status says why.
    let repository = image.split('@').next().unwrap();
    let unpullable = format!("{repository}@sha256:{}", "0".repeat(64));
    set_image(BACKEND, &unpullable);
    backend_progressing("the unpullable digest is reported", |status, message| {
        status == "False" && message.contains("manifest unknown")
    });
    assert_eq!(
        condition("prod-east", BACKEND, "Available").unwrap().0,
        "True"
    );
    assert_eq!(info(&serving).unwrap()["cluster_name"], "prod-east");
    assert_eq!(standin.endpoint("prod-east", BACKEND).unwrap(), serving);
    // Its Deployment has taken the new spec, and its old replicas still run.
    eventually_within(
        WAIT,
        "the Deployment takes the digest",
        || match deployment("prod-east", BACKEND)? {
            (template, old, _) if template == unpullable && old > 0 => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    set_image(BACKEND, &image);

    // A Secret whose db_url the app cannot use: it starts, never gets ready, and the old one
    // serves on until the right Secret is back.
    let (_, authority) = pg_authority(&db_url);
    let wrong = db_url.replace(&authority, &format!("127.0.0.1:{}", free_port()));
    apply_secrets(&wrong, &redis.url);
    backend_progressing(
        "a new backend starts beside the serving one",
        |status, message| status == "True" && message.starts_with("SpinKube stand-in: starting"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        assert_eq!(standin.endpoint("prod-east", BACKEND).unwrap(), serving);
        let ready = get(&format!("{serving}/api/ready")).unwrap();
        assert_eq!(
            ready.0, 200,
            "the serving backend is the ready one: {}",
            ready.1
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        condition("prod-east", BACKEND, "Available").unwrap().0,
        "True"
    );
    apply_secrets(&db_url, &redis.url);
    backend_progressing("the backend settles", |status, message| {
        status == "True" && message.ends_with("up to date")
    });

    // A deleted SpinApp's process stops.
    let frontend = standin.endpoint("prod-west", FRONTEND).unwrap();
    kubectl_ok(
        KARMADA,
        &["-n", NAMESPACE, "delete", "spinapp", FRONTEND],
        None,
    );
    // Its process stops first, then the stand-in's next listing of endpoints leaves it out.
    eventually_within(WAIT, "prod-west's console stops", || {
        match (get(&frontend), standin.endpoint("prod-west", FRONTEND)) {
            (Ok((0, _)) | Err(_), Err(_)) => Ok(()),
            (Ok((0, _)) | Err(_), Ok(listed)) => Err(format!("still listed at {listed}")),
            (Ok((code, _)), _) => Err(format!("still answers {code}")),
        }
    });
    eventually_within(WAIT, "its Deployment goes with it", || {
        match get_object("prod-west", NAMESPACE, &format!("deployment/{FRONTEND}")) {
            Ok(_) => Err("still there".into()),
            Err(_) => Ok(()),
        }
    });
}
