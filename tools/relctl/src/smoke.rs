//! The smoke check of a deployed instance: what a rollout asks before it records success.

use crate::cli;
use crate::failure::Failure;
use crate::ledger_client::agent;
use ledger::types::{ClusterName, Version};
use std::time::{Duration, Instant};

/// `relctl smoke`.
pub fn smoke_check(args: &cli::Smoke) -> Result<String, Failure> {
    let timeout = Duration::from_secs(args.timeout);
    smoke(&args.url, &args.cluster, &args.version, timeout)
}

/// Polls URL/api/info until it names CLUSTER and VERSION, or TIMEOUT passes.
pub fn smoke(
    url: &str,
    cluster: &ClusterName,
    version: &Version,
    timeout: Duration,
) -> Result<String, Failure> {
    let url = format!("{}/api/info", url.trim_end_matches('/'));
    let agent = agent(Duration::from_secs(10));
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match agent.get(&url).call() {
            Err(e) => format!("no answer ({e})"),
            Ok(mut response) if response.status() == 200 => {
                let info: serde_json::Value =
                    serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default())
                        .unwrap_or_default();
                if info["cluster_name"] == cluster.as_str() && info["version"] == version.as_str() {
                    return Ok(format!("{cluster} serves {version}"));
                }
                format!(
                    "it names cluster {} and version {}",
                    info["cluster_name"], info["version"]
                )
            }
            Ok(response) => format!("it answered {}", response.status()),
        };
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut(format!(
                "{url} did not show {cluster} running {version} within {}s: {seen}",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
