//! The one real build: the flow's staging steps up to the deploy, run by the Kestra stand-in
//! from a clone of the tag (real git, the tag's SSH signature checked by real git and
//! ssh-keygen, `spin build`, `spin registry push`, the ledger record), once for the whole test
//! binary. And the git repository the flow clones: this checkout's HEAD, the test clusters'
//! settings, and the release's own manifests on top, tagged `v1.4.0` and signed by its pusher,
//! served from a bare copy.

use super::doubles::{
    KESTRA_PASSWORD, KESTRA_USER, PUSHER, issuers, kestra_standin, local_settings, put_settings,
    release_flow,
};
use super::{VERSION, registry};
use host_harness::{HostBuilder, Runtime, repo, scratch_dir};
use pipeline_standins::kestra::api::KestraApi;
use pipeline_standins::kestra::run::{Execution, State};
use pipeline_standins::kestra::server::seed_cargo_cache;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Built {
    pub digest: String,
    pub commit: String,
    /// Where the build pushed, without a tag.
    pub repository: String,
    /// The release as the build's ledger recorded it.
    pub recorded: Value,
    /// The staging working directory after the build.
    pub workdir: PathBuf,
}

fn git(args: &[&str]) -> String {
    let out = Command::new("git").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The tag's message, which the flow records as the release notes: a Markdown list, whose
/// first line begins with `-` as release notes usually do.
pub const TAG_MESSAGE: &str = "- Faster console\n- Notes that begin with a dash";

/// What v1.4.0's own commit adds to the manifests of the commit before it (which the previous
/// release, 1.3.0, was built from): a put-back that used the newer commit's manifests shows it.
pub const NEWER_MANIFESTS: &str = "  manifests_of: v1.4.0\n";

/// The people who sign tags, each with an SSH key made once per test binary (`ssh-keygen`),
/// and the allowed-signers file the administrator keeps as Kestra's ALLOWED_SIGNERS secret:
/// Alice and Mallory may push releases; the stranger's key is nobody's.
pub fn signers() -> &'static Path {
    static SIGNERS: OnceLock<PathBuf> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        let dir = scratch_dir("pipeline-signers");
        let mut allowed = String::new();
        for person in [PUSHER, "mallory", "stranger"] {
            let key = dir.join(person);
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", person, "-f"])
                .arg(&key)
                .output()
                .expect("ssh-keygen (openssh-client)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if person != "stranger" {
                let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
                allowed.push_str(&format!("{person} {public}"));
            }
        }
        std::fs::write(dir.join("allowed_signers"), allowed).unwrap();
        dir
    })
}

/// The allowed-signers file's text.
pub fn allowed_signers() -> String {
    std::fs::read_to_string(signers().join("allowed_signers")).unwrap()
}

/// Tags COMMIT `v1.4.0` in the work tree DIR, signed by SIGNER's key (`None`: an annotated
/// tag without a signature).
pub fn tag(dir: &str, commit: &str, signer: Option<&str>) {
    let tag = format!("v{VERSION}");
    let key = signer.map(|s| format!("user.signingkey={}", signers().join(s).display()));
    let mut args = vec![
        "-C",
        dir,
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.com",
        "-c",
        "gpg.format=ssh",
    ];
    if let Some(key) = &key {
        args.extend(["-c", key, "tag", "-s"]);
    } else {
        args.extend(["tag", "-a"]);
    }
    args.extend(["-f", &tag, "-m", TAG_MESSAGE, commit]);
    git(&args);
}

/// A bare repository holding this checkout's history and, on top, what a platform team's own
/// copy says for its clusters, here the test's (`test_clusters`), then the release's own
/// manifest change (`NEWER_MANIFESTS`), tagged `v1.4.0` and signed by the pusher: what the
/// flow's `repository_url` names in the tests.
pub fn origin() -> &'static Path {
    static ORIGIN: OnceLock<PathBuf> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let work = work_tree();
        let work_dir = work.to_str().unwrap();
        tag(work_dir, "HEAD", Some(PUSHER));
        bare(work_dir, "pipeline-origin")
    })
}

/// The release's work tree: HEAD, the test clusters' commit, the release's own commit.
fn work_tree() -> PathBuf {
    let work = scratch_dir("pipeline-origin-work").join("automatizacion");
    let source = format!("file://{}", repo().canonicalize().unwrap().display());
    git(&["clone", "-q", &source, work.to_str().unwrap()]);
    let head = git(&["-C", repo().to_str().unwrap(), "rev-parse", "HEAD"]);
    let work_dir = work.to_str().unwrap();
    git(&["-C", work_dir, "checkout", "-q", &head]);
    test_clusters(&work);
    commit(
        work_dir,
        "The test clusters: staging's registry on loopback, fewer production replicas",
    );
    let config = work.join("k8s/base/config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}{NEWER_MANIFESTS}")).unwrap();
    commit(work_dir, "v1.4.0's own manifests");
    work
}

/// Commits every change in the work tree DIR, with MESSAGE; its id.
fn commit(dir: &str, message: &str) -> String {
    let identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"];
    git(&[&["-C", dir][..], &identity, &["commit", "-qam", message]].concat());
    git(&["-C", dir, "rev-parse", "HEAD"])
}

/// A bare copy of the work tree DIR, as a git host serves it.
fn bare(dir: &str, label: &str) -> PathBuf {
    let origin = scratch_dir(label).join("origin.git");
    let work_url = format!("file://{dir}");
    git(&["clone", "-q", "--bare", &work_url, origin.to_str().unwrap()]);
    origin
}

/// The origin with v1.4.0 tagged again by WHO (`Some(person)`, `None`: unsigned), or changed
/// after its signature (`forged`), for the scenarios of who is behind a release.
pub fn origin_tagged(label: &str, who: Option<&str>, forged: bool) -> PathBuf {
    let work = scratch_dir(&format!("{label}-work")).join("automatizacion");
    let source = format!("file://{}", origin().display());
    git(&["clone", "-q", &source, work.to_str().unwrap()]);
    let dir = work.to_str().unwrap();
    let release = git(&["-C", dir, "rev-parse", &format!("v{VERSION}^{{commit}}")]);
    tag(dir, &release, who);
    if forged {
        let tag = format!("v{VERSION}");
        let object = git(&["-C", dir, "cat-file", "tag", &tag]);
        let changed = object.replacen("- Faster console", "- Slower console", 1) + "\n";
        let mut write = Command::new("git")
            .args(["-C", dir, "hash-object", "-t", "tag", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        write
            .stdin
            .take()
            .unwrap()
            .write_all(changed.as_bytes())
            .unwrap();
        let out = write.wait_with_output().unwrap();
        let id = String::from_utf8(out.stdout).unwrap();
        git(&[
            "-C",
            dir,
            "update-ref",
            &format!("refs/tags/{tag}"),
            id.trim(),
        ]);
    }
    bare(dir, label)
}

/// Production's replicas in the test clusters' copy (the repository's 6 are for real
/// machines): each of them is a pod with its own shim on two cores, and every production
/// rollout of the suite starts them all. Karmada's weights still divide them, 2 and 1.
pub const PRODUCTION_REPLICAS: i64 = 3;

/// The test clusters' own settings, as a platform team sets its copy: staging's registry
/// mirror is the test registry, and production runs `PRODUCTION_REPLICAS`. (Their pods reach
/// PostgreSQL by the Service names the repository gives it, as any cluster's:
/// `nodes::OnNodes` makes those Services.)
fn test_clusters(checkout: &Path) {
    edit(
        checkout,
        "karmada/overrides/staging.yaml",
        "value: registry.staging.internal:5000",
        &format!("value: {}", registry()),
    );
    edit(
        checkout,
        "karmada/workloads/production/kustomization.yaml",
        "path: /spec/replicas\n        value: 6",
        &format!("path: /spec/replicas\n        value: {PRODUCTION_REPLICAS}"),
    );
}

fn edit(checkout: &Path, file: &str, from: &str, to: &str) {
    let path = checkout.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} no longer says {from}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

/// A full clone of the origin: the checkout on the Rundeck node that rollbacks read.
pub fn checkout() -> &'static Path {
    static CHECKOUT: OnceLock<PathBuf> = OnceLock::new();
    CHECKOUT.get_or_init(|| {
        let checkout = scratch_dir("pipeline-checkout").join("automatizacion");
        let source = format!("file://{}", origin().display());
        git(&["clone", "-q", &source, checkout.to_str().unwrap()]);
        checkout
    })
}

/// Runs the flow for a pushed tag until it would deploy to staging, once per test binary.
pub fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let ledger = HostBuilder::new("pipeline-build")
            .var("auth_issuers", &issuers())
            .start();
        let mut kestra = kestra_standin("pipeline-build");
        kestra
            .save(&release_flow())
            .unwrap_or_else(|e| panic!("the flow does not save: {e:#?}"));
        let api = KestraApi::start(kestra.shared.clone(), KESTRA_USER, KESTRA_PASSWORD);
        put_settings(
            &api.base,
            &local_settings(&ledger.base, "http://127.0.0.1:9"),
        );
        // The push event names a pusher; the flow ignores it (the signature names the person).
        let push = serde_json::json!({"ref": format!("refs/tags/v{VERSION}"), "deleted": false,
                                      "pusher": {"name": "whoever-the-body-says"}});
        let mut execution: Execution = kestra
            .webhook("automatizacion", "release", "hook-key-1", &push)
            .unwrap()
            .unwrap();
        execution.breakpoint = Some("deploy_staging".into());
        kestra.before(
            "build_and_push",
            Box::new(|execution: &mut Execution| {
                // What the builder image's Cargo cache would hold.
                let clone = execution.workdir.as_deref().unwrap();
                seed_cargo_cache(clone, &repo().join("target")).unwrap();
            }),
        );
        let building = host_harness::OneBuildAtATime::wait();
        let state = kestra.run(&mut execution);
        drop(building);
        assert_eq!(state, State::Paused, "{state:?} after {:?}", execution.ran);
        assert_eq!(
            execution.ran,
            [
                "label_version",
                "staging",
                "clone",
                "verify_tag",
                "build_and_push",
                "record_release"
            ]
        );
        let recorded = ledger.get(&format!("/api/releases/{VERSION}")).json();
        Built {
            digest: execution.output("build_and_push", "digest").unwrap(),
            commit: execution.output("build_and_push", "commit").unwrap(),
            repository: format!("{}/automatizacion", registry()),
            recorded,
            workdir: execution.workdir.clone().unwrap(),
        }
    })
}

#[test]
fn the_build_pushes_the_exact_artifact_spinkube_runs() {
    let built = built();
    let head = git(&["-C", repo().to_str().unwrap(), "rev-parse", "HEAD"]);
    let tagged = origin().to_str().unwrap();
    let parent = git(&["--git-dir", tagged, "rev-parse", &format!("v{VERSION}^^")]);
    assert_eq!(
        parent, head,
        "the tag is this checkout's HEAD, the clusters' settings and the release's manifests"
    );
    let tag = git(&[
        "--git-dir",
        tagged,
        "rev-parse",
        &format!("v{VERSION}^{{commit}}"),
    ]);
    assert_eq!(built.commit, tag, "the tag's commit was built");
    // The digest from Spin's output is the registry's own digest of the manifest.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!(
        "http://{}/v2/automatizacion/manifests/{VERSION}",
        registry()
    );
    let mut response = agent
        .get(&url)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["docker-content-digest"]
            .to_str()
            .unwrap(),
        built.digest
    );
    let manifest: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let wasm_layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["mediaType"] == "application/vnd.wasm.content.layer.v1+wasm")
        .count();
    assert_eq!(wasm_layers, 2, "one layer per component: {manifest}");
    // The build leaves nothing behind for the tasks after it.
    assert!(built.workdir.join("spin.toml").exists());
    assert!(
        !built.workdir.join("target").exists(),
        "target/ is carried into later tasks"
    );
    // The ledger holds the release as pushed, recorded by Kestra for the tag's signer (its
    // webhook named nobody), with the tag's message as its notes, leading dash and all.
    assert_eq!(built.recorded["digest"], built.digest.as_str());
    assert_eq!(built.recorded["commit"], built.commit.as_str());
    assert_eq!(built.recorded["created_by"], "kestra");
    assert_eq!(built.recorded["on_behalf_of"], PUSHER);
    assert_eq!(built.recorded["notes"], TAG_MESSAGE);
    // Real Spin runs it from the registry by digest, as SpinKube does, and it knows its release.
    let instance = HostBuilder::on(Runtime::Spin, "pipeline-artifact")
        .from_registry(&format!("{}@{}", built.repository, built.digest))
        .var("cluster_name", "staging")
        .start();
    let info = instance.get("/api/info").json();
    assert_eq!(info["version"], VERSION);
    assert_eq!(info["commit"], built.commit.as_str());
    assert_eq!(info["cluster_name"], "staging");
}
