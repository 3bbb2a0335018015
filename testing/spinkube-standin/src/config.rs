//! Where the stand-in finds the members and Spin, and where it keeps its state.

use crate::desired::Services;
use std::collections::BTreeMap;
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
    /// Services of a member that the stand-in does not run but its cluster DNS answers for,
    /// by member: e.g. the platform's OpenTelemetry Collector, which the executor names.
    pub platform_services: BTreeMap<String, Services>,
}
