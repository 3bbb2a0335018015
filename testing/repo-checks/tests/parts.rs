//! The parts the suite reads from outside the repository (`scripts/parts.sh`,
//! `scripts/parts.lock`): the lock matches the copies beside the checkout, the plan covers every
//! path the suite reads and nothing else reads `../shared`, and the download path checks every
//! file. No network reaches the upstream hosts here, so the download path is tried against a
//! loopback mirror that serves the upstream layout from `../shared`'s copies; what could not be
//! tried is the real download (see the closing note of the issue that built it).

use repo_checks::{files_under, repo, stdout_of};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One line of `scripts/parts.sh --plan`.
#[derive(Debug, Clone)]
struct Planned {
    kind: String,
    path: String,
    url: String,
    shared: String,
}

fn plan() -> Vec<Planned> {
    stdout_of(Command::new(repo().join("scripts/parts.sh")).arg("--plan"))
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 5, "{line}");
            Planned {
                kind: fields[0].into(),
                path: fields[1].into(),
                url: fields[2].into(),
                shared: fields[4].trim_start_matches("../shared/").into(),
            }
        })
        .collect()
}

/// `(kind, path) -> (sha256, extra)` from the lock.
fn lock() -> BTreeMap<(String, String), (String, String)> {
    repo_checks::read("scripts/parts.lock")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "{l}");
            ((f[0].into(), f[1].into()), (f[2].into(), f[5].into()))
        })
        .collect()
}

fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", file.display());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// `../shared`, which this project's machines have beside the checkout.
fn shared() -> PathBuf {
    let dir = repo().join("../shared");
    assert!(
        dir.is_dir(),
        "../shared is not beside the checkout: the lock is checked against it here"
    );
    dir
}

/// The handler's use clause as upstream has it, and as the `handler_types` edit makes it.
const UPSTREAM_CLAUSE: &str = "  use types.{incoming-request, response-outparam};\n";
const EDITED_CLAUSE: &str = "  // Changed from `use types.{...}` for the conformance check: a WASI 0.2 component exports the\n  // 0.2.0-named handler over the newest 0.2.x request types it imports, and Spin links that.\n  use wasi:http/types@0.2.6.{incoming-request, response-outparam};\n";

#[test]
fn the_lock_matches_every_file_under_shared_that_it_names() {
    let shared = shared();
    let lock = lock();
    let plan = plan();
    let mut checked = 0;
    for ((kind, path), (sha, extra)) in &lock {
        let planned = plan.iter().find(|p| &p.path == path).unwrap();
        let copy = shared.join(&planned.shared);
        if kind == "peer" {
            assert!(copy.join("run.sh").exists(), "{}", copy.display());
            continue;
        }
        assert_eq!(&sha256(&copy), sha, "{path} against {}", copy.display());
        if kind == "edited" {
            // The edit undone gives the upstream file the lock names.
            let text = std::fs::read_to_string(&copy).unwrap();
            assert!(text.contains(EDITED_CLAUSE), "{path}");
            let original = scratch("original").join("handler.wit");
            std::fs::write(&original, text.replacen(EDITED_CLAUSE, UPSTREAM_CLAUSE, 1)).unwrap();
            assert_eq!(extra, &format!("{}:handler_types", sha256(&original)));
        }
        checked += 1;
    }
    assert!(checked > 200, "only {checked} parts checked");
    // Every CRD and WIT file beside the checkout has its part, with the same bytes.
    let hashes: Vec<&String> = lock.values().map(|(sha, _)| sha).collect();
    for dir in ["crds", "spin-wit/deps", "kbox/karmada/crds"] {
        for file in files_under(&shared.join(dir)) {
            assert!(
                hashes.contains(&&sha256(&file)),
                "{} has no part in scripts/parts.lock",
                file.display()
            );
        }
    }
}

/// Every path the suite's code, scripts and Makefile name under `target/parts` (or `$PARTS`)
/// is a part of the plan, and nothing but `scripts/parts.sh` reads `../shared`.
#[test]
fn the_plan_covers_every_path_the_suite_reads_from_outside() {
    let planned: Vec<String> = plan().into_iter().map(|p| p.path).collect();
    let listed = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(repo())
        .output()
        .unwrap();
    let files: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .filter(|f| {
            let code = [".rs", ".sh", ".py", ".mjs", ".toml", ".yml", ".yaml"];
            (code.iter().any(|ext| f.ends_with(ext)) || f.ends_with("Makefile") || *f == ".ci/run")
                && !f.starts_with("scripts/parts.")
                && *f != "testing/repo-checks/tests/parts.rs"
        })
        .map(str::to_owned)
        .collect();
    assert!(files.len() > 100, "only {} files", files.len());
    let mut named = 0;
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(repo().join(file)).unwrap_or_default();
        if text.contains("../shared/") || text.contains("\"../shared\"") {
            problems.push(format!("{file} reads ../shared"));
        }
        for marker in ["target/parts/", "$PARTS/"] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "@._/-".contains(c)))
                    .unwrap_or(rest.len());
                let path = rest[..end].trim_end_matches(['/', '.']);
                if path.is_empty() {
                    continue;
                }
                named += 1;
                let covered = planned.iter().any(|p| {
                    p == path
                        || p.starts_with(&format!("{path}/"))
                        || path.starts_with(&format!("{p}/"))
                });
                if !covered && !path.starts_with("go") && !path.starts_with("src") {
                    problems.push(format!(
                        "{file} reads target/parts/{path}, which no part provides"
                    ));
                }
            }
        }
    }
    assert!(named > 5, "only {named} paths under target/parts found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "automatizacion-parts-{label}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn parts(parts_dir: &Path, mirror: &str, selection: &[&str]) -> Output {
    Command::new(repo().join("scripts/parts.sh"))
        .args(selection)
        .env("PARTS_DIR", parts_dir)
        .env("SHARED_DIR", "/nonexistent/shared")
        .env("PARTS_MIRROR", mirror)
        .output()
        .unwrap()
}

/// A loopback web server answering GET /HOST/PATH from ROOT/HOST/PATH, as a mirror would.
fn mirror(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            while reader.read_line(&mut String::new()).unwrap_or(0) > 2 {}
            let target = line.split_whitespace().nth(1).unwrap_or("/");
            let mut stream = stream;
            match std::fs::read(root.join(target.trim_start_matches('/'))) {
                Ok(body) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                }
                Err(_) => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    base
}

/// Where URL lives on the mirror.
fn on_mirror(root: &Path, url: &str) -> PathBuf {
    let file = root.join(
        url.split('#')
            .next()
            .unwrap()
            .trim_start_matches("https://"),
    );
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    file
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        command,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The mirror holds the upstream files as the lock's sources name them: the data verbatim,
/// the edited handler as upstream has it, and Spin's release archive with its checksums file.
fn upstream_mirror(root: &Path) {
    let shared = shared();
    for part in plan() {
        match part.kind.as_str() {
            "data" => {
                std::fs::copy(shared.join(&part.shared), on_mirror(root, &part.url)).unwrap();
            }
            "edited" => {
                let text = std::fs::read_to_string(shared.join(&part.shared)).unwrap();
                let original = text.replacen(EDITED_CLAUSE, UPSTREAM_CLAUSE, 1);
                std::fs::write(on_mirror(root, &part.url), original).unwrap();
            }
            "binary" if part.path == "bin/spin" => {
                let staging = scratch("spin-release");
                let spin = std::fs::File::create(staging.join("spin")).unwrap();
                run(Command::new("xz")
                    .arg("-dc")
                    .arg(shared.join(&part.shared))
                    .stdout(spin));
                let archive = on_mirror(root, &part.url);
                run(Command::new("tar")
                    .arg("-czf")
                    .arg(&archive)
                    .arg("-C")
                    .arg(&staging)
                    .arg("spin"));
                let name = archive.file_name().unwrap().to_string_lossy().into_owned();
                let sums = format!(
                    "{}  {name}\n0000  spin-v3.6.3-macos-aarch64.tar.gz\n",
                    sha256(&archive)
                );
                let url = part
                    .url
                    .replace(&format!("{name}#spin"), "checksums-v3.6.3.txt");
                std::fs::write(on_mirror(root, &url), sums).unwrap();
            }
            _ => {}
        }
    }
}

#[test]
fn from_upstream_every_part_is_checked_and_a_wrong_one_refused() {
    let root = scratch("mirror");
    upstream_mirror(&root);
    let base = mirror(root.clone());
    let fetched = scratch("fetched");
    let out = parts(&fetched, &base, &["data", "edited", "bin/spin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What came from upstream is what ../shared holds, the edit made here.
    let plan = plan();
    for part in plan
        .iter()
        .filter(|p| p.kind == "data" && p.path != "spin-wit/world.wit")
    {
        let (got, want) = (fetched.join(&part.path), shared().join(&part.shared));
        assert_eq!(sha256(&got), sha256(&want), "{}", part.path);
    }
    let handler = "spin-wit/deps/http@0.2.0/handler.wit";
    assert_eq!(
        sha256(&fetched.join(handler)),
        sha256(&shared().join(handler))
    );
    let spin = Command::new(fetched.join("bin/spin"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&spin.stdout).starts_with("spin 3.6.3"));

    // A file that is not the one the lock names is refused, and not left behind.
    let crd = plan
        .iter()
        .find(|p| p.path.ends_with("spinapps.yaml"))
        .unwrap();
    std::fs::write(
        on_mirror(&root, &crd.url),
        "kind: CustomResourceDefinition\n",
    )
    .unwrap();
    let again = scratch("tampered");
    let refused = parts(&again, &base, &[crd.path.as_str()]);
    let line = String::from_utf8(refused.stderr).unwrap();
    assert_eq!(refused.status.code(), Some(1), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains("refused") && line.contains(&crd.path),
        "{line}"
    );
    assert!(!again.join(&crd.path).exists(), "the refused file was kept");
    // So is a release asset that its published checksums do not list.
    let sums = plan.iter().find(|p| p.path == "bin/spin").unwrap();
    let archive = on_mirror(&root, &sums.url);
    std::fs::write(&archive, b"not spin").unwrap();
    let refused = parts(&again, &base, &["bin/spin"]);
    let line = String::from_utf8(refused.stderr).unwrap();
    assert_eq!(refused.status.code(), Some(1), "{line}");
    assert!(
        line.contains("published checksum") && line.contains("refused"),
        "{line}"
    );
    assert!(!again.join("bin/spin").exists());
}

/// No `../shared` and no upstream answering (nothing reaches the internet here): the first
/// missing part stops the script with one line naming it and where it looked.
#[test]
fn without_shared_or_a_source_the_first_missing_part_is_one_clear_line() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let empty = scratch("nowhere");
    let out = parts(&empty, &nowhere, &["data"]);
    let line = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with("parts: cannot fetch crds/spinkube/") && line.contains(&nowhere),
        "{line}"
    );
    assert!(
        !empty
            .join("crds/spinkube")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "nothing is kept"
    );
}
