//! What was built: the release version and git commit stamped in by `build.rs` (the pipeline
//! sets `APP_VERSION` and `GIT_COMMIT`), shown by `/api/info`, `/metrics` and the OpenAPI
//! document.

/// The release this build is: `APP_VERSION`, else the package version.
pub const VERSION: &str = env!("BUILD_APP_VERSION");
/// The commit it was built from: `GIT_COMMIT`, else `git rev-parse HEAD`, else "unknown".
pub const COMMIT: &str = env!("BUILD_GIT_COMMIT");
