//! `rd`, the Rundeck CLI (rundeck-cli 2.2.0), as far as loading the project goes: what each
//! command sends the server, applied to this stand-in (`runtime.json`'s `keyStorage.rdKeys`).

use super::{PASSWORD, Rundeck, StoredKey, acl_problems, job_problems};
use crate::reference;
use std::path::Path;

/// Runs the shell block under README's "## Loading it" in DIR (which holds the files it
/// names), with `rd` answered by this stand-in: each `rd` call is recorded with the file it
/// would read, as it is at that moment, then applied in order. The block's other commands
/// (base64, rm) run for real.
pub fn load_as_the_readme_says(
    rundeck: &mut Rundeck,
    readme: &Path,
    dir: &Path,
) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(readme).map_err(|e| e.to_string())?;
    let section = text
        .split("## Loading it")
        .nth(1)
        .ok_or("the README has no \"Loading it\" section")?;
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .ok_or("the \"Loading it\" section has no sh block")?;
    let calls = dir.join(".rd-calls");
    let _ = std::fs::remove_dir_all(&calls);
    std::fs::create_dir_all(&calls).map_err(|e| e.to_string())?;
    let recorder = r#"
rd() {
  local call prev=""
  call="$RD_CALLS/$(printf '%04d' "$(ls "$RD_CALLS" | wc -l)")"
  mkdir "$call"
  printf '%s\0' "$@" >"$call/argv"
  for arg in "$@"; do
if [[ $prev == -f || $prev == --file ]]; then cp -- "$arg" "$call/file"; fi
prev=$arg
  done
}
set -euo pipefail
"#;
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{recorder}{block}"))
        .current_dir(dir)
        .env("RD_CALLS", &calls)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "the README's block failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut entries: Vec<_> = std::fs::read_dir(&calls)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut said = Vec::new();
    for call in entries {
        let argv = std::fs::read(call.join("argv")).map_err(|e| e.to_string())?;
        let args: Vec<String> = argv
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let file = std::fs::read(call.join("file")).ok();
        said.push(run(rundeck, &args, file.as_deref(), dir)?);
    }
    Ok(said)
}

/// One `rd` command with ARGS; FILE is what its `-f` names, as rd reads it.
pub fn run(
    rundeck: &mut Rundeck,
    args: &[String],
    file: Option<&[u8]>,
    dir: &Path,
) -> Result<String, String> {
    let flag = |names: &[&str]| -> Option<String> {
        args.windows(2)
            .find(|pair| names.contains(&pair[0].as_str()))
            .map(|pair| pair[1].clone())
    };
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .take_while(|a| !a.starts_with('-'))
        .collect();
    match words.as_slice() {
        ["projects", "create"] => Ok("created project".into()),
        ["jobs", "load"] => {
            let path = flag(&["-f", "--file"]).ok_or("rd jobs load: -f is required")?;
            let text =
                std::fs::read_to_string(dir.join(&path)).map_err(|e| format!("{path}: {e}"))?;
            let jobs: serde_json::Value =
                serde_yaml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
            for job in jobs.as_array().into_iter().flatten() {
                let problems = job_problems(job);
                if !problems.is_empty() {
                    return Err(format!("{path}: {}", problems.join("; ")));
                }
            }
            Ok(format!("loaded {path}"))
        }
        ["system", "acls", "create"] => {
            let path = flag(&["-f", "--file"]).ok_or("rd system acls create: -f is required")?;
            let text =
                std::fs::read_to_string(dir.join(&path)).map_err(|e| format!("{path}: {e}"))?;
            let problems = acl_problems(&text);
            if problems.is_empty() {
                Ok(format!("created {path}"))
            } else {
                Err(format!("{path}: {}", problems.join("; ")))
            }
        }
        ["keys", "create"] => keys_create(rundeck, &flag, file),
        _ => Err(format!(
            "rd {}: not a command the stand-in serves",
            words.join(" ")
        )),
    }
}

/// `rd keys create -t TYPE -p PATH -f FILE`, as `Keys.java` prepares the upload.
fn keys_create(
    rundeck: &mut Rundeck,
    flag: &dyn Fn(&[&str]) -> Option<String>,
    file: Option<&[u8]>,
) -> Result<String, String> {
    let kind = flag(&["-t", "--type"]).ok_or("rd keys create: -t is required")?;
    let path = flag(&["-p", "--path"]).ok_or("rd keys create: -p is required")?;
    let name = flag(&["-f", "--file"]).unwrap_or_default();
    let full = format!("keys/{}", path.trim_start_matches("keys/"));
    let said = |pointer: &str, fill: &[(&str, &str)]| {
        reference::message(reference::rundeck_runtime(), pointer, fill)
    };
    let (content, content_type) = match (kind.as_str(), file) {
        ("password", Some(bytes)) => {
            // "read the first line of the file only, and leave off line breaks"
            let text = String::from_utf8_lossy(bytes);
            let first = text.split(['\r', '\n']).next().unwrap_or("");
            if first.is_empty() {
                let pointer = "/keyStorage/rdKeys/passwordFromFile/message";
                return Err(said(pointer, &[("<file>", &name)]));
            }
            (first.as_bytes().to_vec(), PASSWORD)
        }
        ("password", None) => {
            return Err(said("/keyStorage/rdKeys/errors/2/message", &[]));
        }
        ("privateKey", Some(bytes)) => (bytes.to_vec(), "application/octet-stream"),
        ("publicKey", Some(bytes)) => (bytes.to_vec(), "application/pgp-keys"),
        ("privateKey" | "publicKey", None) => {
            return Err(said(
                "/keyStorage/rdKeys/errors/1/message",
                &[("<type>", &kind)],
            ));
        }
        _ => {
            return Err(said(
                "/keyStorage/rdKeys/errors/0/message",
                &[("<type>", &kind)],
            ));
        }
    };
    if rundeck.keys.contains_key(&full) {
        let path = format!("/{full}");
        return Err(said(
            "/keyStorage/create/errors/0/message",
            &[("/keys/<path>", &path)],
        ));
    }
    rundeck.keys.insert(
        full.clone(),
        StoredKey {
            content,
            content_type: content_type.to_owned(),
        },
    );
    Ok(format!("stored {full}"))
}
