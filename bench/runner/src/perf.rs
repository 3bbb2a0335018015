//! Where a request's time goes inside a runtime: `perf record -g` on the server's whole process
//! group while the load generator sends one kind of request, then the frames that hold the
//! most samples by themselves (`perf report --no-children`), with their binary. Spin's release
//! binary is stripped, so its own frames show as addresses; the kernel's, libc's and SQLite's
//! symbols still name what a request waits on.

use crate::load::{Call, load};
use crate::servers::{Server, group_pids};
use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How many frames each profile prints.
const TOP: usize = 8;

/// One profile: what was sent, the binaries holding the samples as `(share %, binary)`, and
/// the top frames as `(share %, binary, symbol)`.
pub struct Profile {
    pub server: &'static str,
    pub request: &'static str,
    pub binaries: Vec<(f64, String)>,
    pub frames: Vec<(f64, String, String)>,
}

/// Profiles SERVER while it answers MAKE's requests for DURATION at concurrency 16.
pub async fn profile(
    server: &Server,
    request: &'static str,
    duration: Duration,
    make: impl Fn(usize, usize) -> Call + Send + Sync + 'static,
) -> Result<Profile> {
    let pids = group_pids(server.group)
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let label = request.split_whitespace().next().unwrap_or("request");
    let data =
        crate::servers::scratch(&format!("perf-{}-{label}", server.group))?.join("perf.data");
    let mut recorder = Command::new("perf")
        .args(["record", "-g", "-F", "999", "-o"])
        .arg(&data)
        .args(["-p", &pids, "--", "sleep"])
        .arg(duration.as_secs().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("perf (Debian's linux-perf; make tools installs it)")?;
    load(&server.addr, duration, make).await?;
    if !recorder.wait()?.success() {
        bail!("perf record failed on {} ({request})", server.name);
    }
    let report = |sort: &str| -> Result<Vec<String>> {
        let out = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--sort",
                sort,
            ])
            .args(["--percent-limit", "1", "-i"])
            .arg(&data)
            .output()?;
        if !out.status.success() {
            bail!(
                "perf report failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    };
    let binaries = report("dso")?
        .iter()
        .filter_map(|line| {
            let (share, binary, _) = frame(&format!("{line} -"))?;
            Some((share, binary))
        })
        .take(TOP)
        .collect();
    let frames = report("dso,symbol")?
        .iter()
        .filter_map(|line| frame(line))
        .take(TOP)
        .collect();
    Ok(Profile {
        server: server.name,
        request,
        binaries,
        frames,
    })
}

/// A report line `  12.34%  spin  [.] sqlite3VdbeExec` as its share, binary and symbol.
fn frame(line: &str) -> Option<(f64, String, String)> {
    let mut words = line.split_whitespace();
    let share = words.next()?.strip_suffix('%')?.parse().ok()?;
    let binary = words.next()?.to_owned();
    let symbol = words
        .skip(1)
        .take_while(|w| *w != "-")
        .collect::<Vec<_>>()
        .join(" ");
    Some((share, binary, symbol))
}

pub fn print_profiles(profiles: &[Profile]) {
    for p in profiles {
        println!(
            "\nperf: {} answering {} at concurrency 16, the frames holding the most samples themselves",
            p.server, p.request
        );
        let binaries = p
            .binaries
            .iter()
            .map(|(share, binary)| format!("{binary} {share:.0}%"));
        println!("binaries: {}", binaries.collect::<Vec<_>>().join(", "));
        for (share, binary, symbol) in &p.frames {
            println!("| {share:>5.1}% | {binary:<24} | {symbol} |");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn report_lines_are_read_as_frames() {
        assert_eq!(
            super::frame("    12.34%  spin             [.] sqlite3VdbeExec"),
            Some((12.34, "spin".into(), "sqlite3VdbeExec".into()))
        );
        assert_eq!(super::frame("# Overhead  Shared Object"), None);
    }
}
