//! The objects under check: parsed from YAML files or rendered by kustomize, and what is wrong
//! with one.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// An object from a file or a rendered kustomization.
#[derive(Debug, Clone)]
pub struct Object {
    pub source: String,
    pub value: Value,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.value["metadata"]["namespace"].as_str().unwrap_or("")
    }

    /// `Kind/name`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}

/// One reason an object is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub source: String,
    pub object: String,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} at {}: {}",
            self.source, self.object, self.path, self.message
        )
    }
}

/// Parses every YAML document of `text` (empty documents are skipped).
pub fn parse_yaml(text: &str, source: &str) -> Result<Vec<Object>> {
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value =
            Value::deserialize(document).with_context(|| format!("{source}: not valid YAML"))?;
        if !value.is_null() {
            objects.push(Object {
                source: source.to_owned(),
                value,
            });
        }
    }
    Ok(objects)
}

/// Renders a kustomization with `kubectl kustomize`.
pub fn render(dir: &Path) -> Result<Vec<Object>> {
    let output = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .context("running kubectl kustomize")?;
    if !output.status.success() {
        bail!(
            "kubectl kustomize {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_yaml(
        &String::from_utf8(output.stdout)?,
        &dir.display().to_string(),
    )
}
