//! The release pipeline, end to end, with everything real that can run here: real git, real
//! Spin 3.6.3 (`spin build`, `spin registry push`, `spin up --from REGISTRY@DIGEST`), a real OCI
//! registry (`scripts/with-registry.sh`), the real Karmada control plane
//! (`scripts/with-control-plane.sh`) and the ledger on spin-host, on SQLite and PostgreSQL.
//!
//! Kestra and Rundeck cannot run here, so stand-ins as strict as the real servers take their
//! place (`testing/pipeline-standins`): a **stand-in for Kestra** saves the flow file and
//! executes it, pausing where the flow pauses, with a **Kestra API double** that only a real
//! 2.0 resume call moves on; a **stand-in for Rundeck** runs the jobs' real scripts as named
//! users under the real ACL. The members run on **real SpinKube nodes** (`nodes`: the real
//! kubelet, containerd-shim-spin, kube-proxy and spin-operator), one set for the whole binary:
//! every SpinApp Karmada places is a pod, pulled from the registry, and the flow's smoke checks
//! reach the clusters' own Services. The production rollout on them in detail (`spinkube`): a
//! good release, one that cannot be pulled and one that never gets ready, the last two rolled
//! back while the previous one serves, then drift by hand until a deploy puts it back, then a
//! node that stops reporting, which relctl's wait for readiness names, and application
//! failover and failback (`drift`, `failover`, `failback`).
//!
//! The build and push run once (`build::built`), from a tag of this checkout with the test
//! clusters' settings on top; each scenario then runs the whole flow from a fresh ledger that
//! already holds the release as that build recorded it, so its `build_and_push` step takes the
//! recorded digest, as any re-run does.

mod approval;
mod build;
mod canary;
mod doubles;
mod drift;
mod failback;
mod failover;
mod failures;
mod identity;
mod kestra;
mod live_traffic;
mod nodes;
mod rollback;
mod scenarios;
mod spinkube;

use host_harness::control_plane::{KARMADA, exclusive, json_of, kubeconfigs, kubectl_ok};
use host_harness::spin_bin;
use std::path::PathBuf;

const VERSION: &str = "1.4.0";
const PREVIOUS: &str = "1.3.0";
fn registry() -> String {
    std::env::var("TEST_REGISTRY")
        .expect("TEST_REGISTRY: run through scripts/with-registry.sh (make test does)")
}

/// relctl and Spin first on PATH, as in the builder image.
fn path_with_tools() -> String {
    let relctl = PathBuf::from(env!("CARGO_BIN_EXE_relctl"));
    let spin = spin_bin();
    format!(
        "{}:{}:{}",
        relctl.parent().unwrap().display(),
        spin.parent().unwrap().canonicalize().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Every production SpinApp's image on prod-east, then on prod-west.
fn production_images() -> Vec<String> {
    let mut images = images_on("prod-east", "automatizacion");
    images.extend(images_on("prod-west", "automatizacion"));
    images
}

fn images_on(member: &str, namespace: &str) -> Vec<String> {
    let apps = json_of(member, &["-n", namespace, "get", "spinapps"]);
    apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["spec"]["image"].as_str().unwrap().to_owned())
        .collect()
}

/// Puts the control plane's workloads back as the repository pins them.
/// A staged rollout's policy, when one stopped half-way, goes too.
fn restore_workloads() {
    for environment in ["staging", "production"] {
        let workload = host_harness::repo().join(format!("karmada/workloads/{environment}"));
        kubectl_ok(KARMADA, &["apply", "-k", workload.to_str().unwrap()], None);
    }
    let hold = [
        "overridepolicies.policy.karmada.io",
        "automatizacion-stages",
    ];
    let delete = [
        &["-n", "automatizacion", "delete"],
        &hold[..],
        &["--ignore-not-found"],
    ];
    kubectl_ok(KARMADA, &delete.concat(), None);
}

/// The one line a refused command prints, after checking it exits with CODE.
fn one_line(output: &std::process::Output, code: i32) -> String {
    let line = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(output.status.code(), Some(code), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    line
}

/// What a command that must succeed printed, trimmed (else its stderr, in the failure).
fn succeeded(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
