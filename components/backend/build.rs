//! Stamps the release version and the git commit into the build for `/api/info` and the
//! build-info metric. `APP_VERSION` (the pipeline sets it to the release's version) wins over
//! the package version; `GIT_COMMIT` wins over `git rev-parse HEAD`; else "unknown".

fn main() {
    println!("cargo:rerun-if-env-changed=APP_VERSION");
    let version = std::env::var("APP_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| std::env::var("CARGO_PKG_VERSION").unwrap_or_default());
    println!("cargo:rustc-env=BUILD_APP_VERSION={version}");
    println!("cargo:rerun-if-env-changed=GIT_COMMIT");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    let commit = std::env::var("GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        });
    println!(
        "cargo:rustc-env=BUILD_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}
