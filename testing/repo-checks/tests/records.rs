//! The console and relctl are held to the API's contract: every answer they read is generated
//! from the OpenAPI document the backend serves (`backend::openapi_document`), twice — with every
//! documented property and no nulls, and with the required properties alone and every nullable
//! one null — and read into the records `components/frontend/src/api.rs` and
//! `tools/relctl/src/answers.rs` declare. Values come from the document: each validated
//! type's `examples`, each enum's first word. A field a record names that the document does not
//! have fails here, required or optional, as does a field the document requires that a record
//! cannot read.

use ledger::Clusters;
use ledger::clusters::DEFAULT_CLUSTERS;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};
use std::cell::RefCell;

/// Which sample of a schema.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Every documented property, each with a value.
    Full,
    /// Only the required properties; a nullable one is null, a list is empty.
    Least,
}

fn document() -> Value {
    backend::openapi_document(&Clusters::parse(DEFAULT_CLUSTERS).unwrap())
}

/// The JSON schema of what METHOD PATH answers with STATUS.
fn answer_schema<'d>(doc: &'d Value, method: &str, path: &str, status: &str) -> &'d Value {
    let schema =
        &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "the document has no {method} {path} {status}"
    );
    schema
}

/// A value of SCHEMA in SHAPE, built from the document alone.
fn sample(doc: &Value, schema: &Value, shape: Shape) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return sample(doc, &doc["components"]["schemas"][name], shape);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = sample(doc, part, shape) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    if let Some(variants) = schema["oneOf"].as_array() {
        let nullable = variants.iter().any(|v| v["type"] == "null");
        let value = variants.iter().find(|v| v["type"] != "null");
        return match value {
            Some(_) if nullable && shape == Shape::Least => Value::Null,
            Some(value) => sample(doc, value, shape),
            None => Value::Null,
        };
    }
    if let Some(example) = schema["examples"].get(0).or(schema.get("example")) {
        return example.clone();
    }
    if let Some(word) = schema["enum"].get(0) {
        return word.clone();
    }
    let (kind, nullable) = match &schema["type"] {
        Value::Array(kinds) => (
            kinds
                .iter()
                .find(|k| *k != "null")
                .cloned()
                .unwrap_or_default(),
            kinds.iter().any(|k| k == "null"),
        ),
        kind => (kind.clone(), false),
    };
    if nullable && shape == Shape::Least {
        return Value::Null;
    }
    match kind.as_str().unwrap_or_default() {
        "object" => {
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            let mut fields = Map::new();
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                if shape == Shape::Full || required.contains(&Value::from(name.as_str())) {
                    fields.insert(name.clone(), sample(doc, property, shape));
                }
            }
            Value::Object(fields)
        }
        "array" if shape == Shape::Least => Value::Array(Vec::new()),
        "array" => Value::Array(vec![sample(doc, &schema["items"], shape)]),
        "string" if schema["format"] == "date-time" => "2026-11-26T14:09:42.123Z".into(),
        "string" => "text".into(),
        "integer" => schema["minimum"].as_i64().unwrap_or(0).max(1).into(),
        "number" => 0.5.into(),
        "boolean" => true.into(),
        other => panic!("no sample for a schema of type {other:?}: {schema}"),
    }
}

/// Reads VALUE as T, and lists every field a struct of T names that VALUE has no property
/// for at that place (each as `path: Struct.field`).
fn read_as<T: DeserializeOwned>(value: &Value) -> Result<(T, Vec<String>), String> {
    let missing = RefCell::new(Vec::new());
    let traced = Traced {
        value,
        at: "$".into(),
        missing: &missing,
    };
    let record = T::deserialize(traced).map_err(|e| e.to_string())?;
    Ok((record, missing.into_inner()))
}

/// Checks the records T in both shapes against what METHOD PATH answers with STATUS.
fn holds<T: DeserializeOwned>(doc: &Value, method: &str, path: &str, status: &str) {
    let schema = answer_schema(doc, method, path, status);
    let what = std::any::type_name::<T>();
    let full = sample(doc, schema, Shape::Full);
    match read_as::<T>(&full) {
        Ok((_, missing)) => assert!(
            missing.is_empty(),
            "{what} reads fields that {method} {path} does not document: {missing:?}"
        ),
        Err(why) => panic!("{what} cannot read {method} {path} with every field: {why}\n{full}"),
    }
    let least = sample(doc, schema, Shape::Least);
    if let Err(why) = serde_json::from_value::<T>(least.clone()) {
        panic!("{what} cannot read {method} {path} with only its required fields: {why}\n{least}");
    }
}

#[test]
fn the_consoles_records_read_every_answer_the_document_describes() {
    use frontend::api::*;
    let doc = document();
    holds::<Overview>(&doc, "get", "/api/overview", "200");
    holds::<Info>(&doc, "get", "/api/info", "200");
    holds::<Page<Release>>(&doc, "get", "/api/releases", "200");
    holds::<ReleaseDetail>(&doc, "get", "/api/releases/{version}", "200");
    holds::<Page<Approval>>(&doc, "get", "/api/approvals", "200");
    holds::<Page<AuditEvent>>(&doc, "get", "/api/audit", "200");
    holds::<Insights>(&doc, "get", "/api/insights", "200");
}

#[test]
fn relctls_records_read_every_answer_the_document_describes() {
    use relctl::answers::*;
    /// A page, as `relctl releases` and `approvals` gather the items of every page.
    #[derive(serde::Deserialize)]
    struct Listed<T> {
        #[allow(dead_code)] // Read, never used: only whether it can be read matters.
        items: Vec<T>,
    }
    let doc = document();
    holds::<Release>(&doc, "post", "/api/releases", "201");
    holds::<Release>(&doc, "post", "/api/releases", "200");
    holds::<ReleaseDetail>(&doc, "get", "/api/releases/{version}", "200");
    holds::<Listed<Release>>(&doc, "get", "/api/releases", "200");
    holds::<Vec<Cluster>>(&doc, "get", "/api/clusters", "200");
    holds::<Cluster>(&doc, "post", "/api/clusters/{name}/observations", "201");
    holds::<Approval>(&doc, "post", "/api/releases/{version}/approval", "201");
    holds::<Approval>(
        &doc,
        "post",
        "/api/releases/{version}/approval/decision",
        "200",
    );
    holds::<Listed<Approval>>(&doc, "get", "/api/approvals", "200");
}

/// The check itself: a record with one field renamed, required or optional, is caught.
#[test]
fn a_renamed_field_on_either_side_is_caught() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)] // Read, never used: only whether it can be read matters.
    struct RenamedRequired {
        name: String,
        environmnet: String,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct RenamedOptional {
        name: String,
        #[serde(default)]
        rolling_out_version: Option<String>,
    }
    let doc = document();
    let full = sample(
        &doc,
        &doc["components"]["schemas"]["ClusterStatus"],
        Shape::Full,
    );
    let why = read_as::<RenamedRequired>(&full).err().unwrap();
    assert!(why.contains("missing field `environmnet`"), "{why}");
    let (_, missing) = read_as::<RenamedOptional>(&full).unwrap();
    assert_eq!(missing, ["$: RenamedOptional.rolling_out_version"]);
    // And the sample holds what the document says a cluster's status has.
    assert_eq!(full["name"], "prod-east");
    assert_eq!(full["environment"], "staging");
    assert_eq!(full["current"]["version"], "1.4.0");
}

/// A deserializer over a JSON value that notes the struct fields its reader asks for and the
/// value does not have: serde's derive names all of a struct's fields, optional ones too.
struct Traced<'v, 'm> {
    value: &'v Value,
    at: String,
    missing: &'m RefCell<Vec<String>>,
}

impl<'de> de::Deserializer<'de> for Traced<'_, '_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(fields) => visitor.visit_map(Fields {
                fields: fields.iter(),
                next: None,
                at: self.at,
                missing: self.missing,
            }),
            Value::Array(items) => visitor.visit_seq(Items {
                items: items.iter().enumerate(),
                at: self.at,
                missing: self.missing,
            }),
            scalar => scalar.clone().deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if let Value::Object(present) = self.value {
            let absent = fields.iter().filter(|field| !present.contains_key(**field));
            let noted = absent.map(|field| format!("{}: {name}.{field}", self.at));
            self.missing.borrow_mut().extend(noted);
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.clone().deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct Fields<'v, 'm> {
    fields: serde_json::map::Iter<'v>,
    next: Option<(&'v String, &'v Value)>,
    at: String,
    missing: &'m RefCell<Vec<String>>,
}

impl<'de> MapAccess<'de> for Fields<'_, '_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.fields.next() else {
            return Ok(None);
        };
        self.next = Some((key, value));
        let key: de::value::StrDeserializer<serde_json::Error> = key.as_str().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let (key, value) = self.next.take().expect("serde asks for a key first");
        seed.deserialize(Traced {
            value,
            at: format!("{}.{key}", self.at),
            missing: self.missing,
        })
    }
}

struct Items<'v, 'm> {
    items: std::iter::Enumerate<std::slice::Iter<'v, Value>>,
    at: String,
    missing: &'m RefCell<Vec<String>>,
}

impl<'de> SeqAccess<'de> for Items<'_, '_> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let Some((i, value)) = self.items.next() else {
            return Ok(None);
        };
        let at = format!("{}[{i}]", self.at);
        seed.deserialize(Traced {
            value,
            at,
            missing: self.missing,
        })
        .map(Some)
    }
}
