//! The documentation a newcomer reads: every relative link in every Markdown file resolves to
//! a file or folder of the checkout (and a `#fragment` to one of its headings), the root
//! README stays short enough to read in five minutes, and comments wrap as the code does.

use repo_checks::{read, repo};
use std::path::{Path, PathBuf};

/// Folders that hold no documentation of ours.
const SKIPPED: &[&str] = &["target", ".git", "node_modules", ".spin", "test-artifacts"];

/// About five minutes of reading at 230 words a minute, tables and the diagram included.
const ROOT_README_WORDS: usize = 1_150;

/// The widest line a comment may take: `cargo fmt`'s width for code (`max_width`).
const COMMENT_WIDTH: usize = 100;

/// Every file of the checkout whose name ends with SUFFIX, as a path from its root.
fn files_ending(suffix: &str, dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && !SKIPPED.contains(&name.as_str()) {
            files_ending(suffix, &path, found);
        } else if name.ends_with(suffix) {
            found.push(path.strip_prefix(repo()).unwrap().to_owned());
        }
    }
}

/// The targets of the `[text](target)` links of TEXT, outside code blocks and code spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].trim().to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// The anchor GitHub gives a heading: lowercase, spaces to hyphens, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings.
fn anchors(text: &str) -> Vec<String> {
    let mut in_block = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if !in_block && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// Why TARGET, linked from FILE, does not resolve (None when it does).
fn broken(file: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let linked = if path.is_empty() {
        file.to_owned()
    } else {
        file.parent().unwrap().join(path)
    };
    let on_disk = repo().join(&linked);
    if !on_disk.exists() {
        return Some(format!("{}: {target} does not exist", file.display()));
    }
    if !fragment.is_empty() {
        let headings = anchors(&std::fs::read_to_string(&on_disk).ok()?);
        if !headings.iter().any(|h| h == fragment) {
            return Some(format!("{}: {target} names no heading", file.display()));
        }
    }
    None
}

#[test]
fn every_relative_link_in_the_documentation_resolves() {
    let mut files = Vec::new();
    files_ending(".md", &repo(), &mut files);
    assert!(
        files.len() > 10,
        "only {} Markdown files found",
        files.len()
    );
    let mut links = 0;
    let mut problems = Vec::new();
    for file in &files {
        for target in link_targets(&read(&file.to_string_lossy())) {
            links += 1;
            problems.extend(broken(file, &target));
        }
    }
    assert!(links > 30, "only {links} links found");
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_links_fragments_and_code() {
    let text =
        "# A title\nsee [a](x.md#b-c) and `[not](a link)`\n```\n[nor](this)\n```\n## B, c!\n";
    assert_eq!(link_targets(text), ["x.md#b-c"]);
    assert_eq!(anchors(text), ["a-title", "b-c"]);
    assert_eq!(
        anchor("Two runtimes, one behaviour"),
        "two-runtimes-one-behaviour"
    );
    assert_eq!(
        anchor("The API (`components/backend`)"),
        "the-api-componentsbackend"
    );
}

#[test]
fn the_root_readme_reads_in_five_minutes() {
    let words = read("README.md").split_whitespace().count();
    assert!(
        words <= ROOT_README_WORDS,
        "README.md has {words} words; move detail next to its code and link it"
    );
}

/// `cargo fmt` leaves comments alone, so a long one stays long: each comment line of every Rust
/// file fits in [`COMMENT_WIDTH`] characters, as the code around it does.
#[test]
fn comments_wrap_as_the_code_does() {
    let mut files = Vec::new();
    files_ending(".rs", &repo(), &mut files);
    assert!(files.len() > 100, "found only {} Rust files", files.len());
    let mut long = Vec::new();
    for file in &files {
        let text = read(&file.to_string_lossy());
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") && line.chars().count() > COMMENT_WIDTH {
                long.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "comment lines over {COMMENT_WIDTH} characters: {long:?}"
    );
}
