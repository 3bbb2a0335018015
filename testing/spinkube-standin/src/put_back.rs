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
        }
    }
}

impl Drop for PutBack {
    fn drop(&mut self) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let karmada = self.kubeconfigs.join("karmada");
        let _ = kubectl(
            &karmada,
            &["apply", "-k", repo.join("karmada").to_str().unwrap()],
        );
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
