//! The platform layer's Spin runtime (`k8s/platform/spin`): whichever way a cluster gets the
//! shim, the RuntimeClass it ends up with is the one the executor names, and its handler is a
//! runtime the nodes' containerd really has.

use super::of_kind;
use manifest_check::{Object, parse_yaml, validate};
use repo_checks::{read, rendered, schemas};

fn objects(path: &str) -> Vec<Object> {
    parse_yaml(&read(path), path).unwrap()
}

/// The version versions.env pins for KEY.
fn pinned(key: &str) -> String {
    read("k8s/platform/versions.env")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("versions.env pins no {key}"))
        .to_owned()
}

#[test]
fn the_platform_files_fit_their_schemas() {
    let schemas = schemas();
    for path in [
        "k8s/platform/spin/runtime-class.yaml",
        "k8s/platform/spin/shim.yaml",
    ] {
        let violations = validate(&schemas, &objects(path));
        assert!(violations.is_empty(), "{path}: {violations:?}");
    }
}

/// runtime-class-manager v0.2.0 registers a shim in containerd under its binary's name without
/// `containerd-shim-` (`shim.RuntimeName`), and names the RuntimeClass after the Shim's
/// `runtimeClass.name`; the shim's release names each archive after the binary it holds.
#[test]
fn each_way_to_the_shim_ends_in_the_runtime_class_the_executor_names() {
    let executor = rendered("k8s/platform/spin/executor");
    let executor = &of_kind(&executor, "SpinAppExecutor")[0].value;
    let runtime = executor["spec"]["deploymentConfig"]["runtimeClassName"]
        .as_str()
        .unwrap();

    let preinstalled = &objects("k8s/platform/spin/runtime-class.yaml")[0];
    assert_eq!(preinstalled.kind(), "RuntimeClass");
    assert_eq!(preinstalled.name(), runtime);
    let handler = preinstalled.value["handler"].as_str().unwrap();
    let containerd = read("local-dev/manifests/node/containerd.toml");
    let registered =
        format!("containerd.runtimes.{handler}]\n      runtime_type = \"io.containerd.spin.v2\"");
    assert!(
        containerd.contains(&registered),
        "the nodes' containerd has no Spin runtime `{handler}`"
    );

    let shim = &objects("k8s/platform/spin/shim.yaml")[0].value;
    assert_eq!(shim["spec"]["runtimeClass"]["name"], runtime);
    let platforms = shim["spec"]["fetchStrategy"]["platforms"]
        .as_array()
        .unwrap();
    let mut arches: Vec<&str> = Vec::new();
    for platform in platforms {
        let arch = platform["arch"].as_str().unwrap();
        arches.push(arch);
        let location = platform["location"].as_str().unwrap();
        let version = format!("/releases/download/{}/", pinned("SHIM_SPIN_VERSION"));
        assert!(
            location.contains(&version),
            "{location}: not the pinned shim"
        );
        let archive = location.rsplit('/').next().unwrap();
        let binary = archive
            .strip_suffix(&format!("-linux-{arch}.tar.gz"))
            .unwrap_or_else(|| panic!("{archive} is not the {arch} archive"));
        let runtime_name = binary.strip_prefix("containerd-shim-").unwrap();
        assert_eq!(shim["spec"]["runtimeClass"]["handler"], runtime_name);
    }
    arches.sort();
    assert_eq!(arches, ["aarch64", "x86_64"]);
}
