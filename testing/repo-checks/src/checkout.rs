//! The checkout, its files, the manifests as kustomize renders them, and the real schemas and
//! reference data beside it.

use manifest_check::{Object, Schemas};
use std::path::{Path, PathBuf};

/// The checkout's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the checkout, by its path from the root.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every file under DIR, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The objects kustomize renders from DIR (a path from the root).
pub fn rendered(dir: &str) -> Vec<Object> {
    manifest_check::render(&repo().join(dir)).unwrap()
}

/// The CRD schemas (SpinKube's and Karmada's) and the Kubernetes API types.
pub fn schemas() -> Schemas {
    let schemas = Schemas::load(&repo().join("target/parts/crds"))
        .expect("target/parts/crds: run `make tools` (scripts/parts.sh)");
    assert!(
        schemas
            .get("core.spinkube.dev/v1alpha1", "SpinApp")
            .is_some()
    );
    schemas
}

/// Reference facts about Kestra, Rundeck and kind, by their path under `testing/reference`.
pub fn reference(path: &str) -> serde_json::Value {
    let file = repo().join("testing/reference").join(path);
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// What COMMAND prints on stdout; it must succeed (else its stderr is the failure).
pub fn stdout_of(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
