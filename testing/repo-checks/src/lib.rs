//! What the repository checks share: where the checkout is, its files, the manifests as
//! kustomize renders them with the real schemas to check them against, and the Karmada control
//! plane the suite starts (`scripts/with-control-plane.sh`).

mod checkout;
pub mod control_plane;

pub use checkout::{read, reference, rendered, repo, schemas, stdout_of};
