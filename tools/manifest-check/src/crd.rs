//! A structural-schema validator for CRD `openAPIV3Schema`: types, closed objects, required
//! fields, enums, bounds, int-or-string, `anyOf`/`oneOf`, nullable.

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// The schemas of every CRD in a directory tree, by `group/version` and kind.
#[derive(Default)]
pub struct Schemas(HashMap<(String, String), Value>);

impl Schemas {
    pub fn load(dir: &Path) -> Result<Self> {
        let mut schemas = Self::default();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
            {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let text = std::fs::read_to_string(&path)?;
                    for crd in crate::objects::parse_yaml(&text, &path.display().to_string())? {
                        schemas.add(&crd.value);
                    }
                }
            }
        }
        Ok(schemas)
    }

    fn add(&mut self, crd: &Value) {
        if crd["kind"] != "CustomResourceDefinition" {
            return;
        }
        let (group, kind) = (&crd["spec"]["group"], &crd["spec"]["names"]["kind"]);
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            let key = (
                format!(
                    "{}/{}",
                    group.as_str().unwrap_or(""),
                    version["name"].as_str().unwrap_or("")
                ),
                kind.as_str().unwrap_or("").to_owned(),
            );
            self.0
                .insert(key, version["schema"]["openAPIV3Schema"].clone());
        }
    }

    pub fn get(&self, api_version: &str, kind: &str) -> Option<&Value> {
        self.0.get(&(api_version.to_owned(), kind.to_owned()))
    }

    pub fn for_object(&self, object: &crate::objects::Object) -> Option<&Value> {
        self.get(object.api_version(), object.kind())
    }
}

/// Every violation of `schema` by `value`, as (field path, message).
pub fn check(schema: &Value, value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(schema, value, "", &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk(schema: &Value, value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    let here = if path.is_empty() { "(root)" } else { path };
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !matches!(type_name(value), "integer" | "string") {
            out.push((
                here.into(),
                format!(
                    "expected an integer or a string, found {}",
                    type_name(value)
                ),
            ));
        }
        return;
    }
    for combinator in ["anyOf", "oneOf"] {
        if let Some(options) = schema[combinator].as_array() {
            let fits = options
                .iter()
                .filter(|option| check(option, value).is_empty())
                .count();
            if (combinator == "anyOf" && fits == 0) || (combinator == "oneOf" && fits != 1) {
                out.push((
                    here.into(),
                    format!("does not match the {combinator} alternatives"),
                ));
            }
        }
    }
    if let Some(expected) = schema["type"].as_str() {
        let found = type_name(value);
        let fits = found == expected || (expected == "number" && found == "integer");
        if !fits {
            out.push((here.into(), format!("expected {expected}, found {found}")));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push((
            here.into(),
            format!("{value} is not one of {}", Value::Array(allowed.clone())),
        ));
    }
    bounds(schema, value, here, out);
    match value {
        Value::Object(fields) => object(schema, fields, path, out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn bounds(schema: &Value, value: &Value, here: &str, out: &mut Vec<(String, String)>) {
    let limit = |key: &str| schema[key].as_f64();
    let mut breach = |what: String| out.push((here.into(), what));
    if let Some(n) = value.as_f64() {
        if limit("minimum").is_some_and(|m| n < m) {
            breach(format!("{n} is below the minimum {}", schema["minimum"]));
        }
        if limit("maximum").is_some_and(|m| n > m) {
            breach(format!("{n} is above the maximum {}", schema["maximum"]));
        }
    }
    let length = match value {
        Value::String(s) => Some(s.chars().count() as f64),
        Value::Array(a) => Some(a.len() as f64),
        _ => None,
    };
    if let Some(len) = length {
        for (key, too) in [
            ("minLength", false),
            ("maxLength", true),
            ("minItems", false),
            ("maxItems", true),
        ] {
            if let Some(m) = limit(key)
                && ((too && len > m) || (!too && len < m))
            {
                breach(format!("length {len} breaks {key} {m}"));
            }
        }
    }
}

fn object(
    schema: &Value,
    fields: &Map<String, Value>,
    path: &str,
    out: &mut Vec<(String, String)>,
) {
    for required in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !fields.contains_key(required) {
            out.push((join(path, required), "required field is missing".into()));
        }
    }
    let properties = schema["properties"].as_object();
    let additional = schema.get("additionalProperties");
    let open = schema["x-kubernetes-preserve-unknown-fields"] == true
        || additional == Some(&Value::Bool(true))
        // An object schema that names no properties and no value schema accepts any fields
        // (metadata, for instance, is validated by the API server itself).
        || (properties.is_none() && additional.is_none());
    for (key, value) in fields {
        let child = join(path, key);
        if let Some(property) = properties.and_then(|p| p.get(key)) {
            walk(property, value, &child, out);
        } else if let Some(value_schema) = additional.filter(|a| a.is_object()) {
            walk(value_schema, value, &child, out);
        } else if !open {
            out.push((child, "unknown field".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["spec"],
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "minLength": 1},
                        "replicas": {"type": "integer", "minimum": 1},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "limits": {"type": "object", "additionalProperties": {
                            "anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true}},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }
            }
        })
    }

    #[test]
    fn a_valid_object_passes() {
        let value = json!({"spec": {"image": "x", "replicas": 2, "mode": "a", "limits": {"cpu": "1", "n": 2},
            "items": [{"name": "a"}], "free": {"anything": {"goes": true}}}});
        assert_eq!(check(&schema(), &value), Vec::<(String, String)>::new());
    }

    #[test]
    fn each_kind_of_violation_names_its_path() {
        let value = json!({"spec": {"replicas": 0, "mode": "c", "limits": {"cpu": true},
            "items": [{"nmae": "a"}], "imagee": "x"}});
        let found: Vec<String> = check(&schema(), &value)
            .into_iter()
            .map(|(p, m)| format!("{p}: {m}"))
            .collect();
        for expected in [
            "spec.image: required field is missing",
            "spec.replicas: 0 is below the minimum 1",
            "spec.mode: \"c\" is not one of [\"a\",\"b\"]",
            "spec.limits.cpu: expected an integer or a string, found boolean",
            "spec.items[0].nmae: unknown field",
            "spec.imagee: unknown field",
        ] {
            assert!(
                found.iter().any(|f| f == expected),
                "{expected} not in {found:#?}"
            );
        }
    }

    #[test]
    fn types_are_checked() {
        let found = check(&schema(), &json!({"spec": {"image": 5}}));
        assert_eq!(
            found,
            vec![(
                "spec.image".to_owned(),
                "expected string, found integer".to_owned()
            )]
        );
    }
}
