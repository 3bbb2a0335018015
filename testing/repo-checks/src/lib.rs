//! What the repository checks share: where the checkout is, its files, the manifests as
//! kustomize renders them with the real schemas to check them against.

mod checkout;
pub mod shell;

pub use checkout::{files_under, read, reference, rendered, repo, schemas, stdout_of};
