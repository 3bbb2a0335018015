//! A release's digest on the control plane: set in a checkout of the repository as the
//! pipeline sets it, applied, and read back from the members.

use super::*;

/// A copy of `k8s/` and `karmada/` whose ENVIRONMENT overlay pins DIGEST, as the pipeline's
/// `kustomize edit set image ghcr.io/acme/automatizacion@sha256:…` leaves it.
fn checkout_with_digest(environment: &str, digest: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "automatizacion-release-{environment}-{}-{digest:.8}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for tree in ["k8s", "karmada"] {
        copy_tree(&repo().join(tree), &dir.join(tree));
    }
    let overlay = dir.join(format!("k8s/overlays/{environment}/kustomization.yaml"));
    let text = std::fs::read_to_string(&overlay).unwrap();
    let pinned: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("digest: "))
        .collect();
    assert_eq!(pinned.len(), 1, "{environment} pins one image digest");
    let text = text.replace(pinned[0], &format!("    digest: sha256:{digest}"));
    std::fs::write(&overlay, text).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `kubectl apply -k karmada/workloads/ENVIRONMENT` from CHECKOUT, as karmada/README.md says.
fn apply_workload(checkout: &Path, environment: &str) {
    let dir = checkout.join(format!("karmada/workloads/{environment}"));
    kubectl(
        "karmada-apiserver",
        &["apply", "-k", dir.to_str().unwrap()],
        None,
    )
    .unwrap();
}

fn images_on(member: &str, namespace: &str) -> Result<Vec<(String, i64)>, String> {
    APPS.iter()
        .map(|app| {
            let spinapp = get(member, namespace, &format!("spinapp/{app}"))?;
            let image = spinapp["spec"]["image"].as_str().unwrap_or("").to_owned();
            Ok((
                image,
                spinapp["metadata"]["generation"].as_i64().unwrap_or(0),
            ))
        })
        .collect()
}

fn all_pin(images: &[(String, i64)], digest: &str) -> Result<(), String> {
    let suffix = format!("@sha256:{digest}");
    expect(
        images.iter().all(|(image, _)| image.ends_with(&suffix)),
        || format!("images are {images:?}"),
    )
}

#[test]
fn a_new_production_digest_on_the_control_plane_reaches_both_members() {
    let _lock = exclusive();
    let release = "3".repeat(64);
    let checkout = checkout_with_digest("production", &release);
    apply_workload(&checkout, "production");
    for member in ["prod-east", "prod-west"] {
        eventually(&format!("{member} running the new digest"), || {
            all_pin(&images_on(member, PRODUCTION)?, &release)
        });
        let images = images_on(member, PRODUCTION).unwrap();
        assert!(
            images.iter().all(|(image, _)| image.starts_with(IMAGE)),
            "{images:?}"
        );
    }
    // Put back what the repository pins, and wait until both members run it again.
    apply_workload(&repo(), "production");
    let pinned = repository_digest("production");
    for member in ["prod-east", "prod-west"] {
        eventually(&format!("{member} back on the pinned digest"), || {
            all_pin(&images_on(member, PRODUCTION)?, &pinned)
        });
    }
    std::fs::remove_dir_all(checkout).unwrap();
}

fn repository_digest(environment: &str) -> String {
    let path = repo().join(format!("k8s/overlays/{environment}/kustomization.yaml"));
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("digest: sha256:"))
        .unwrap();
    line.trim().trim_start_matches("digest: sha256:").to_owned()
}

#[test]
fn a_release_held_at_staging_never_touches_production() {
    let _lock = exclusive();
    let before: Vec<_> = ["prod-east", "prod-west"]
        .map(|member| images_on(member, PRODUCTION).unwrap())
        .into();
    let candidate = "4".repeat(64);
    let checkout = checkout_with_digest("staging", &candidate);
    apply_workload(&checkout, "staging");
    eventually("staging running the candidate", || {
        all_pin(&images_on("staging", STAGING)?, &candidate)
    });
    // Karmada propagates in about a second; give production the same chance to change.
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<_> = ["prod-east", "prod-west"]
        .map(|member| images_on(member, PRODUCTION).unwrap())
        .into();
    assert_eq!(
        before, after,
        "production changed (image or generation) while staging took the candidate"
    );
    let template = images_on("karmada-apiserver", PRODUCTION).unwrap();
    all_pin(&template, &repository_digest("production")).unwrap();

    apply_workload(&repo(), "staging");
    let pinned = repository_digest("staging");
    eventually("staging back on the pinned digest", || {
        all_pin(&images_on("staging", STAGING)?, &pinned)
    });
    std::fs::remove_dir_all(checkout).unwrap();
}
