//! Usage errors that keep what clap said (one line in a log, clap's own text at a terminal),
//! and relctl installed as a package would be: completions that complete, man pages `man`
//! finds.

use super::*;
use std::path::Path;

fn usage_error(args: &[&str]) -> String {
    refusal(&relctl("http://127.0.0.1:9", None, args), 2)
}

#[test]
fn usage_errors_keep_their_content_on_one_line() {
    let missing = usage_error(&["record-release", "--version", "1.0.0"]);
    for named in [
        "--artifact <ARTIFACT>",
        "--digest <DIGEST>",
        "--commit <COMMIT>",
    ] {
        assert!(missing.contains(named), "{missing}");
    }
    assert!(
        missing.contains("usage: relctl record-release"),
        "{missing}"
    );
    let environment = usage_error(&[
        "roll-back",
        "--to-version",
        "1.0.0",
        "--environment",
        "prod",
        "--kubeconfig",
        "k",
    ]);
    assert!(
        environment.contains("[possible values: staging, production]"),
        "{environment}"
    );
    let typo = usage_error(&["recordrelease"]);
    assert!(
        typo.contains("similar subcommand") && typo.contains("'record-release'"),
        "{typo}"
    );
}

/// At a terminal (a pseudo-terminal from `script`), clap's own multi-line error, still exit 2.
#[test]
fn a_terminal_gets_clap_s_whole_error() {
    let command = format!(
        "{} record-release --version 1.0.0",
        env!("CARGO_BIN_EXE_relctl")
    );
    let out = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(lines.contains(&"--digest <DIGEST>"), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Usage: relctl record-release")),
        "{text}"
    );
}

/// tools/relctl/README.md's "Install" block, typed as written into a person's shell whose
/// home is a scratch directory (with `~/.local/bin` on `PATH`, as the README says), at the
/// checkout: `make install-relctl` builds relctl and installs it, and `man` finds its page.
#[test]
fn installed_completions_complete_and_man_finds_every_page() {
    let home = host_harness::scratch_dir("relctl-install-home");
    let readme =
        std::fs::read_to_string(host_harness::repo().join("tools/relctl/README.md")).unwrap();
    let block = readme
        .split("## Install")
        .nth(1)
        .and_then(|section| section.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("\n```").next())
        .expect("the README's Install section has a sh block");
    // A person's environment, not this test's (cargo's variables for a test would make the
    // build inside rebuild everything); the real toolchain, wherever HOME pointed before.
    let real_home = std::path::PathBuf::from(std::env::var("HOME").unwrap());
    let toolchain = |name: &str, default: &str| {
        std::env::var_os(name).unwrap_or_else(|| real_home.join(default).into())
    };
    let path = format!(
        "{}/.local/bin:{}",
        home.display(),
        std::env::var("PATH").unwrap()
    );
    let building = host_harness::OneBuildAtATime::wait();
    let typed = Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(host_harness::repo())
        .env_clear()
        .env("HOME", &home)
        .env("PATH", path)
        .env("CARGO_HOME", toolchain("CARGO_HOME", ".cargo"))
        .env("RUSTUP_HOME", toolchain("RUSTUP_HOME", ".rustup"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    drop(building);
    let shown = succeeds(typed, &[block]);
    // man justifies the NAME line, so words are compared, not spaces.
    let words: Vec<&str> = shown.split_whitespace().collect();
    assert!(
        words
            .windows(5)
            .any(|w| w == ["relctl", "-", "Every", "step", "of"]),
        "man relctl showed no relctl(1): {shown}"
    );
    let prefix = home.join(".local");
    let installed = |path: &str| prefix.join(path);
    for file in [
        "bin/relctl",
        "share/zsh/site-functions/_relctl",
        "share/fish/vendor_completions.d/relctl.fish",
    ] {
        assert!(installed(file).is_file(), "{file}");
    }

    // bash completes `relctl rel` and `relctl releases --` from the installed script, called
    // as bash calls a completion function: command, current word, previous word.
    let complete = |words: &str| -> String {
        let script = installed("share/bash-completion/completions/relctl");
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE='{words}'; \
             _relctl relctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["-c", &program]).output();
        succeeds(out.unwrap(), &[words])
    };
    let subcommands = complete("relctl rel");
    for name in ["release", "releases", "release-artifact"] {
        assert!(
            subcommands.lines().any(|l| l == name),
            "{name}: {subcommands}"
        );
    }
    assert!(
        !subcommands.lines().any(|l| l == "clusters"),
        "{subcommands}"
    );
    let options = complete("relctl releases --");
    for option in ["--output", "--limit", "--all"] {
        assert!(options.lines().any(|l| l == option), "{option}: {options}");
    }

    // `man` finds relctl(1) and a page per subcommand under the prefix, and renders them.
    let man = |page: &str| -> String {
        let out = Command::new("man")
            .args(["-M", &installed("share/man").display().to_string(), page])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output();
        succeeds(out.unwrap(), &["man", page])
    };
    let main_page = man("relctl");
    for name in ["record-release", "releases", "approvals", "completions"] {
        assert!(
            main_page.contains(&format!("relctl-{name}(1)")),
            "{name}: {main_page}"
        );
    }
    let releases_page = man("relctl-releases");
    assert!(releases_page.contains("--output"), "{releases_page}");
    assert!(releases_page.contains("newest first"), "{releases_page}");
    let pages = std::fs::read_dir(installed("share/man/man1"))
        .unwrap()
        .count();
    let help = succeeds(relctl("http://127.0.0.1:9", None, &["--help"]), &["--help"]);
    let commands = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with("help "))
        .filter(|l| l.len() > 2 && !l.starts_with("   "))
        .count();
    assert_eq!(pages, 1 + commands, "relctl.1 and one page per subcommand");
    assert!(
        Path::new(&installed("bin/relctl"))
            .metadata()
            .unwrap()
            .len()
            > 0
    );
}
