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
mod objects;

pub use crd::Schemas;
pub use objects::{Object, Violation, parse_yaml, render};

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
