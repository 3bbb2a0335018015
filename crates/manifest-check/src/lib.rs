//! Validation of Kubernetes objects against their real schemas, with failures that name the
//! file, the object and the field path.
//!
//! - Custom resources are checked against the `openAPIV3Schema` of their CRD, treating every
//!   object schema as closed unless it says `x-kubernetes-preserve-unknown-fields`, as the API
//!   server's strict field validation does.
//! - Core kinds are decoded into the `k8s-openapi` types of Kubernetes 1.32 and encoded back:
//!   a type error fails the decode, and a field the types do not know is dropped on the way and
//!   reported as unknown.

mod core_kinds;
mod crd;

pub use crd::Schemas;

use anyhow::{Context, Result, bail};
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

use serde::Deserialize;

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

/// Validates each object against its schema.
pub fn validate(schemas: &Schemas, objects: &[Object]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for object in objects {
        let found = |path: String, message: String| Violation {
            source: object.source.clone(),
            object: object.id(),
            path,
            message,
        };
        if object.name().is_empty() {
            violations.push(found(
                "metadata.name".into(),
                "every object needs a name".into(),
            ));
        }
        let problems = match schemas.for_object(object) {
            Some(schema) => crd::check(schema, &object.value),
            None => match core_kinds::check(object.api_version(), object.kind(), &object.value) {
                Some(problems) => problems,
                None => vec![(
                    "kind".into(),
                    format!(
                        "no schema is known for {} {}",
                        object.api_version(),
                        object.kind()
                    ),
                )],
            },
        };
        violations.extend(
            problems
                .into_iter()
                .map(|(path, message)| found(path, message)),
        );
    }
    violations
}
