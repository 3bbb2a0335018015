//! The one HTTP client setting the harness uses: statuses are answers, not errors, and no
//! exchange takes longer than 30 seconds.

use std::time::Duration;

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// The status of a GET of `url`, or `None` when nothing answers (readiness polling).
pub(crate) fn status_of(url: &str) -> Option<u16> {
    agent().get(url).call().ok().map(|r| r.status().as_u16())
}
