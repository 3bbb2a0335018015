//! Pinning an image by digest in a kustomize overlay, as `kustomize edit set image
//! NAME=NEW_NAME@DIGEST` does: the `images:` entry named NAME gets `digest:` (and `newName:`
//! when given) and loses `newTag:`.
//! The file is edited line by line, so its comments and order stay, and replaced whole (write
//! then rename), so a failed step never leaves half a file.

use crate::cli;
use crate::failure::Failure;
use ledger::types::Digest;
use std::path::Path;

/// `relctl set-digest`.
pub fn set_digest(args: &cli::SetDigest) -> Result<String, Failure> {
    set_image(
        &args.overlay,
        &args.image,
        args.new_name.as_deref(),
        &args.digest,
    )
}

pub fn set_image(
    overlay: &Path,
    image: &str,
    new_name: Option<&str>,
    digest: &Digest,
) -> Result<String, Failure> {
    let file = overlay.join("kustomization.yaml");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", file.display())))?;
    let edited = pin(&text, image, new_name, digest.as_str()).ok_or_else(|| {
        Failure::Invalid(format!(
            "{} has no `images:` entry named {image}",
            file.display()
        ))
    })?;
    let partial = file.with_extension("yaml.partial");
    std::fs::write(&partial, edited)
        .and_then(|()| std::fs::rename(&partial, &file))
        .map_err(|e| Failure::Invalid(format!("cannot write {}: {e}", file.display())))?;
    Ok(format!("{}@{digest}", new_name.unwrap_or(image)))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// TEXT with the entry `- name: IMAGE` pinned to DIGEST (and NEW_NAME), or `None` when there
/// is no such entry.
fn pin(text: &str, image: &str, new_name: Option<&str>, digest: &str) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let start = lines.iter().position(|l| {
        let t = l.trim_start().trim_start_matches("- ").trim();
        t.strip_prefix("name:")
            .map(|v| v.trim().trim_matches(['"', '\'']))
            == Some(image)
    })?;
    let dash = indent(&lines[start]);
    let key_indent = if lines[start].trim_start().starts_with("- ") {
        dash + 2
    } else {
        dash
    };
    // The entry's other keys: the lines after it, indented as deep as its keys.
    let mut end = start + 1;
    while end < lines.len() && (lines[end].trim().is_empty() || indent(&lines[end]) >= key_indent) {
        end += 1;
    }
    let pad = " ".repeat(key_indent);
    let mut wanted = vec![("digest:", format!("{pad}digest: {digest}"))];
    if let Some(name) = new_name {
        wanted.push(("newName:", format!("{pad}newName: {name}")));
    }
    let mut index = start + 1;
    while index < end {
        let key = lines[index].trim_start();
        if key.starts_with("newTag:") {
            lines.remove(index);
            end -= 1;
            continue;
        }
        if let Some(at) = wanted.iter().position(|(k, _)| key.starts_with(k)) {
            lines[index] = wanted.remove(at).1;
        }
        index += 1;
    }
    for (_, line) in wanted {
        lines.insert(start + 1, line);
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::pin;

    const OVERLAY: &str =
        "# keep me\nimages:\n  - name: ghcr.io/acme/app\n    digest: sha256:1111\npatches: []\n";

    #[test]
    fn replaces_the_digest_and_keeps_everything_else() {
        let out = pin(OVERLAY, "ghcr.io/acme/app", None, "sha256:2222").unwrap();
        assert_eq!(out, OVERLAY.replace("sha256:1111", "sha256:2222"));
    }

    #[test]
    fn adds_a_digest_and_drops_a_tag() {
        let text = "images:\n- name: app\n  newTag: \"1.0\"\n- name: other\n  newTag: x\n";
        let out = pin(text, "app", None, "sha256:3333").unwrap();
        assert_eq!(
            out,
            "images:\n- name: app\n  digest: sha256:3333\n- name: other\n  newTag: x\n"
        );
    }

    #[test]
    fn a_new_name_is_set_or_replaced() {
        let out = pin(
            OVERLAY,
            "ghcr.io/acme/app",
            Some("localhost:5001/app"),
            "sha256:4444",
        )
        .unwrap();
        assert_eq!(
            out,
            "# keep me\nimages:\n  - name: ghcr.io/acme/app\n    newName: localhost:5001/app\n    digest: sha256:4444\npatches: []\n"
        );
        let again = pin(
            &out,
            "ghcr.io/acme/app",
            Some("registry/app"),
            "sha256:5555",
        )
        .unwrap();
        assert_eq!(
            again,
            out.replace("localhost:5001/app", "registry/app")
                .replace("sha256:4444", "sha256:5555")
        );
    }

    #[test]
    fn an_unknown_image_is_none() {
        assert_eq!(
            pin(OVERLAY, "ghcr.io/acme/other", None, "sha256:2222"),
            None
        );
    }
}
