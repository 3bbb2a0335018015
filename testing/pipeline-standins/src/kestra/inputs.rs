//! An execution's inputs as Kestra takes them when it creates one: only declared inputs, the
//! required ones given or defaulted, each matching its validator.

use super::save::whole_match;
use serde_json::{Map, Value};

/// The inputs of a new execution of FLOW from the GIVEN values, or Kestra's 422 reason.
pub fn resolve(flow: &Value, given: &[(&str, &str)]) -> Result<Map<String, Value>, String> {
    let mut inputs = Map::new();
    for (name, _) in given {
        let declared = flow["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["id"] == *name);
        if !declared {
            return Err(format!("Invalid entity: the flow has no input {name}"));
        }
    }
    for input in flow["inputs"].as_array().into_iter().flatten() {
        let name = input["id"].as_str().unwrap_or("");
        let value = given
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| input["defaults"].as_str().map(str::to_owned));
        let Some(value) = value else {
            if input["required"] != false {
                return Err(format!("Invalid entity: Missing required input:{name}"));
            }
            continue;
        };
        if let Some(validator) = input["validator"].as_str()
            && !whole_match(validator, &value)
        {
            return Err(format!(
                "Invalid entity: Invalid value for input `{name}`. Cause: it must match the pattern `{validator}`"
            ));
        }
        inputs.insert(name.to_owned(), Value::String(value));
    }
    Ok(inputs)
}
