//! Where the stand-in finds the members and Spin, and where it keeps its state.

use std::path::PathBuf;

pub struct Config {
    /// One kubeconfig per member, named after it.
    pub kubeconfigs: PathBuf,
    pub members: Vec<String>,
    pub spin: PathBuf,
    /// Logs, runtime configs, Spin state and `endpoints.json`.
    pub state: PathBuf,
    /// Pull over plain HTTP (a loopback registry).
    pub insecure_registry: bool,
}
