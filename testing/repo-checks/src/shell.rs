//! A README's commands as a person types them: the lines of one of its `sh` blocks, typed one
//! after another into one shell at the checkout.

use crate::checkout::{read, repo};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The commands of README's first `sh` block that contains SHOWING, comments dropped.
///
/// # Panics
/// When no block shows it.
pub fn sh_block(readme: &str, showing: &str) -> Vec<String> {
    let text = read(readme);
    let block = text
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .find(|block| block.contains(showing))
        .unwrap_or_else(|| panic!("{readme} shows `{showing}` in no sh block"));
    block
        .lines()
        .map(|line| line.split(" #").next().unwrap().trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

/// One bash, with a person's environment rather than this test's (the variables cargo sets for
/// a test, CARGO_*, LD_LIBRARY_PATH, …, would make the build inside rebuild everything), that
/// lines are typed into one after another: what one line exports, the next sees.
pub struct Shell {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    errors: PathBuf,
}

/// Ends each typed line's output, with its exit status after it.
const DONE: &str = "\u{1e}done";

impl Shell {
    /// A shell at the checkout with a person's environment and ENV on top.
    ///
    /// # Panics
    /// When bash cannot start.
    pub fn start(env: &[(&str, &OsStr)]) -> Self {
        let errors = std::env::temp_dir().join(format!(
            "automatizacion-shell-{}-{}.stderr",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut shell = Command::new("bash");
        shell
            .current_dir(repo())
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&errors).unwrap());
        for name in [
            "PATH",
            "HOME",
            "USER",
            "LANG",
            "TERM",
            "RUSTUP_HOME",
            "CARGO_HOME",
            "CI",
            // Which slot a control plane takes: `make test` gives its second lane slot 1.
            "CONTROL_PLANE_SLOT",
        ] {
            if let Some(value) = std::env::var_os(name) {
                shell.env(name, value);
            }
        }
        let mut child = shell.spawn().unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Shell {
            child,
            input,
            output,
            errors,
        }
    }

    /// Types LINE; its output, once it has ended, or why it failed.
    ///
    /// # Panics
    /// When the shell ends.
    pub fn type_line(&mut self, line: &str) -> Result<String, String> {
        let errors_before = std::fs::metadata(&self.errors).unwrap().len() as usize;
        writeln!(self.input, "{line} </dev/null\nprintf '\\n{DONE} %s\\n' $?").unwrap();
        let mut printed = String::new();
        let status = loop {
            let mut text = String::new();
            assert!(
                self.output.read_line(&mut text).unwrap() > 0,
                "the shell ended during `{line}`"
            );
            if let Some(status) = text.strip_prefix(DONE) {
                break status.trim().to_owned();
            }
            printed.push_str(&text);
        };
        if status == "0" {
            Ok(printed)
        } else {
            let errors = std::fs::read_to_string(&self.errors).unwrap();
            Err(format!(
                "`{line}` exited {status}:\n{printed}\n{}",
                &errors[errors_before.min(errors.len())..]
            ))
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.errors);
    }
}
