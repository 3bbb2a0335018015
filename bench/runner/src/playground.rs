//! The playground (`local-dev/playground.sh`): how long `up` takes and the memory it holds,
//! against its first step, the control plane alone (`local-dev/control-plane.sh`), measured in
//! the same run; and how long `release` takes to walk a version to the approval.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Figures {
    control_plane: (Duration, u64),
    playground: (Duration, u64),
    release: Duration,
}

/// Runs SCRIPT ARGS from the checkout with VAR=DIR; its stdout, or why it failed.
fn run(repo: &Path, script: &str, args: &[&str], var: &str, dir: &Path) -> Result<String> {
    let out = Command::new(repo.join(script))
        .args(args)
        .env(var, dir)
        .current_dir(repo)
        .output()
        .with_context(|| format!("cannot run {script}"))?;
    if !out.status.success() {
        bail!(
            "{script} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The MiB figure of the line of STATUS that starts with PREFIX.
fn mib(status: &str, prefix: &str) -> Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no `{prefix}` figure in:\n{status}"))
}

/// `up`, `status` and `down` of the control plane, then of the playground with a release.
pub fn measure(repo: &Path) -> Result<Figures> {
    let target = repo.join("target");
    let (script, var, dir) = (
        "local-dev/control-plane.sh",
        "CONTROL_PLANE_DIR",
        target.join("bench-control-plane"),
    );
    let started = Instant::now();
    let up = run(repo, script, &["up"], var, &dir);
    let took = started.elapsed();
    let status = up.and_then(|_| run(repo, script, &["status"], var, &dir));
    run(repo, script, &["down"], var, &dir)?;
    let control_plane = (
        took,
        mib(&status?, "resident memory of all of the above: ")?,
    );

    let (script, var, dir) = (
        "local-dev/playground.sh",
        "PLAYGROUND_DIR",
        target.join("bench-playground"),
    );
    let measured = (|| -> Result<(Duration, u64, Duration)> {
        let started = Instant::now();
        run(repo, script, &["up"], var, &dir)?;
        let up = started.elapsed();
        let memory = mib(&run(repo, script, &["status"], var, &dir)?, "memory: ")?;
        let started = Instant::now();
        run(repo, script, &["release", "1.4.0"], var, &dir)?;
        Ok((up, memory, started.elapsed()))
    })();
    run(repo, script, &["down"], var, &dir)?;
    let (up, memory, release) = measured?;
    Ok(Figures {
        control_plane,
        playground: (up, memory),
        release,
    })
}

pub fn print(figures: &Figures) {
    let (cp_time, cp_mib) = figures.control_plane;
    let (time, mib) = figures.playground;
    println!(
        "playground: up in {:.0} s ({:.1}× the control plane alone, {:.0} s), {mib} MiB resident \
         ({:.1}× the control plane alone, {cp_mib} MiB); `release 1.4.0` to the approval in {:.0} s",
        time.as_secs_f64(),
        time.as_secs_f64() / cp_time.as_secs_f64(),
        cp_time.as_secs_f64(),
        mib as f64 / cp_mib.max(1) as f64,
        figures.release.as_secs_f64()
    );
}
