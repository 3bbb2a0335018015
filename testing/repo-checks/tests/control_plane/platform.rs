//! The platform layer the members get (`k8s/platform/spin`): the RuntimeClass each member's
//! platform install applies, never Karmada; runtime-class-manager's Shim against its own CRD;
//! and the node label and wait `install.sh` runs around the manager, on a real API server.
//! (The manager itself needs its images from ghcr.io, which no machine here reaches.)

use super::crds_on_prod_east;
use host_harness::control_plane::{MEMBERS, get, kubectl};
use manifest_check::parse_yaml;
use repo_checks::repo;
use serde_json::json;
use std::process::Command;

#[test]
fn every_member_has_the_runtime_class_from_its_platform_install_not_from_karmada() {
    for member in MEMBERS {
        let class = get(member, "", "runtimeclass/wasmtime-spin-v2")
            .unwrap_or_else(|e| panic!("{member} has no RuntimeClass: {e}"));
        assert_eq!(class["handler"], "spin", "{member}");
        let karmadas: Vec<&String> = class["metadata"]["labels"]
            .as_object()
            .map(|labels| labels.keys().filter(|k| k.contains("karmada.io")).collect())
            .unwrap_or_default();
        assert!(
            karmadas.is_empty(),
            "{member}: Karmada manages it: {karmadas:?}"
        );
    }
    let found = get("karmada-apiserver", "", "runtimeclass/wasmtime-spin-v2");
    assert!(
        found.is_err(),
        "the Karmada API server holds a RuntimeClass to propagate"
    );
}

#[test]
fn the_shim_passes_runtime_class_managers_crd_which_refuses_what_it_does_not_define() {
    crds_on_prod_east("runtime-class-manager");
    let strict = ["apply", "--dry-run=server", "--validate=strict", "-f", "-"];
    let path = repo().join("k8s/platform/spin/shim.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let out = kubectl("prod-east", &strict, Some(&text)).unwrap();
    assert!(out.contains("shim.runtime.spinkube.dev/spin-v2"), "{out}");
    let mut shim = parse_yaml(&text, "shim.yaml").unwrap().remove(0).value;
    shim["spec"]["rolloutStrategy"] = json!({"type": "canary"});
    shim["spec"]["fetchStrategy"]["platforms"][0]["arch"] = json!("riscv64");
    let error = kubectl("prod-east", &strict, Some(&shim.to_string()))
        .expect_err("an unknown strategy and architecture are refused");
    assert!(
        error.contains("spec.rolloutStrategy.type") && error.contains("arch"),
        "{error}"
    );
}

/// `install.sh`'s label and wait, as its dry run prints them, on a Node object of the Karmada
/// API server (where no scheduler places pods): the wait holds while the manager's label is
/// missing or `pending`, and ends once it says `provisioned`.
#[test]
fn install_sh_labels_the_shims_nodes_and_waits_until_the_manager_provisions_them() {
    let plan = Command::new(repo().join("k8s/platform/install.sh"))
        .args(["--dry-run", "--shim-nodes=automatizacion-check=rcm"])
        .output()
        .unwrap();
    assert!(plan.status.success());
    let plan = String::from_utf8(plan.stdout).unwrap();
    let command = |prefix: &str| -> Vec<String> {
        let line = plan
            .lines()
            .find_map(|l| l.strip_prefix(&format!("+ kubectl {prefix}")))
            .unwrap_or_else(|| panic!("install.sh never runs kubectl {prefix}: {plan}"));
        let rest = line.split_whitespace().map(str::to_owned);
        prefix
            .split_whitespace()
            .map(str::to_owned)
            .chain(rest)
            .collect()
    };
    let (label, wait) = (command("label node"), command("wait node"));
    let on_karmada = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl("karmada-apiserver", &args, None)
    };
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "automatizacion-rcm-check", "labels": {"automatizacion-check": "rcm"}}});
    kubectl(
        "karmada-apiserver",
        &["apply", "-f", "-"],
        Some(&node.to_string()),
    )
    .unwrap();
    on_karmada(&label).unwrap();
    let labelled = get("karmada-apiserver", "", "node/automatizacion-rcm-check").unwrap();
    assert_eq!(labelled["metadata"]["labels"]["spin"], "true");
    let briefly: Vec<String> = wait
        .iter()
        .map(|a| {
            if a.starts_with("--timeout=") {
                "--timeout=2s".into()
            } else {
                a.clone()
            }
        })
        .collect();
    for state in [None, Some("pending"), Some("failed")] {
        if let Some(state) = state {
            let set = format!("spin-v2={state}");
            let args = [
                "label",
                "node/automatizacion-rcm-check",
                "--overwrite",
                set.as_str(),
            ];
            kubectl("karmada-apiserver", &args, None).unwrap();
        }
        assert!(
            on_karmada(&briefly).is_err(),
            "the wait ended with spin-v2={state:?}"
        );
    }
    let done = [
        "label",
        "node/automatizacion-rcm-check",
        "--overwrite",
        "spin-v2=provisioned",
    ];
    kubectl("karmada-apiserver", &done, None).unwrap();
    on_karmada(&wait).unwrap();
    kubectl(
        "karmada-apiserver",
        &["delete", "node/automatizacion-rcm-check"],
        None,
    )
    .unwrap();
}
