//! For tests that let the stand-in run the clusters of the suite's shared control plane: what
//! they change there (the policies and overrides, the workloads' images and ConfigMaps, each
//! environment's Secret, every SpinApp's status) is put back as the repository and
//! `scripts/with-control-plane.sh` left it: every status ready, with nothing running.

use crate::kube::{kubectl, kubectl_json};
use crate::status;
use host_harness::control_plane::MEMBERS;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct PutBack {
    kubeconfigs: PathBuf,
    secrets: Vec<Value>,
    /// Production's failover toleration to put back instead of the repository's (`tolerating`).
    production_toleration: Option<u64>,
}

impl PutBack {
    /// Notes each environment's Secret on the control plane whose kubeconfigs are in
    /// KUBECONFIGS.
    ///
    /// # Panics
    /// When the control plane cannot be read.
    pub fn take(kubeconfigs: &Path) -> Self {
        let secret = |namespace: &str| {
            let args = ["-n", namespace, "get", "secret", "automatizacion-secrets"];
            let mut secret = kubectl_json(&kubeconfigs.join("karmada"), &args).unwrap();
            for field in [
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "managedFields",
            ] {
                secret["metadata"].as_object_mut().unwrap().remove(field);
            }
            secret
        };
        PutBack {
            kubeconfigs: kubeconfigs.to_owned(),
            secrets: vec![secret("automatizacion-staging"), secret("automatizacion")],
            production_toleration: None,
        }
    }

    /// Puts `karmada/` back with production's application failover tolerating an unhealthy
    /// cluster for SECONDS, not the repository's two minutes. For real nodes, where production
    /// is on the overlays' placeholder digests between tests and never ready: Karmada's failover
    /// controller remembers since when a cluster has been unhealthy, so the repository's clock,
    /// back for a moment, evicts at once (and `purgeMode: Never` keeps the evicted copy, which
    /// no later release reaches).
    #[must_use]
    pub fn tolerating(mut self, seconds: u64) -> Self {
        self.production_toleration = Some(seconds);
        self
    }
}

/// A kustomization in DIR of the repository's `karmada/` with production's failover toleration
/// at SECONDS. Kustomize takes a base only by a relative path.
fn karmada_tolerating(repo: &Path, seconds: u64, dir: &Path) -> std::io::Result<()> {
    let karmada = repo.join("karmada").canonicalize()?;
    let dir = std::path::absolute(dir)?;
    let up = "../".repeat(dir.components().count() - 1);
    let base = format!(
        "{up}{}",
        karmada.strip_prefix("/").unwrap_or(&karmada).display()
    );
    std::fs::create_dir_all(&dir)?;
    let kustomization = format!(
        "resources:\n  - {base}\npatches:\n  - target: {{kind: PropagationPolicy, name: \
         automatizacion-production}}\n    patch: |-\n      - op: replace\n        path: \
         /spec/failover/application/decisionConditions/tolerationSeconds\n        value: \
         {seconds}\n"
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization)
}

impl Drop for PutBack {
    fn drop(&mut self) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let karmada = self.kubeconfigs.join("karmada");
        let tolerating = std::env::temp_dir().join(format!("put-back-{}", std::process::id()));
        let policies = match self.production_toleration {
            None => Ok(repo.join("karmada")),
            Some(seconds) => {
                karmada_tolerating(&repo, seconds, &tolerating).map(|()| tolerating.clone())
            }
        };
        match policies {
            Ok(policies) => drop(kubectl(
                &karmada,
                &["apply", "-k", policies.to_str().unwrap()],
            )),
            Err(why) => eprintln!("put-back: karmada/ not put back: {why}"),
        }
        let _ = std::fs::remove_dir_all(&tolerating);
        for environment in ["staging", "production"] {
            let workload = repo.join("karmada/workloads").join(environment);
            let _ = kubectl(&karmada, &["apply", "-k", workload.to_str().unwrap()]);
        }
        let file =
            std::env::temp_dir().join(format!("put-back-secret-{}.json", std::process::id()));
        for secret in &self.secrets {
            if std::fs::write(&file, secret.to_string()).is_ok() {
                let _ = kubectl(&karmada, &["apply", "-f", file.to_str().unwrap()]);
            }
        }
        let _ = std::fs::remove_file(file);
        for member in MEMBERS {
            let _ = status::report_without_running(&self.kubeconfigs.join(member), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::karmada_tolerating;
    use crate::kube::kubectl;
    use std::path::Path;

    /// `kubectl kustomize` reads no cluster: any kubeconfig does.
    fn kustomize(dir: &Path) -> String {
        kubectl(
            Path::new("/dev/null"),
            &["kustomize", dir.to_str().unwrap()],
        )
        .unwrap()
    }

    /// The same objects as `karmada/`, but production's toleration, however deep the
    /// kustomization's folder is.
    #[test]
    fn karmada_tolerating_changes_only_productions_failover_clock() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let scratch = std::env::temp_dir().join(format!("tolerating-{}", std::process::id()));
        let dir = scratch.join("a/b");
        karmada_tolerating(&repo, 86_400, &dir).unwrap();
        let (tolerating, repository) = (kustomize(&dir), kustomize(&repo.join("karmada")));
        std::fs::remove_dir_all(&scratch).unwrap();
        assert!(
            repository.contains("tolerationSeconds: 120\n"),
            "{repository}"
        );
        let put_back = repository.replace("tolerationSeconds: 120\n", "tolerationSeconds: 86400\n");
        assert_eq!(tolerating, put_back);
    }
}
