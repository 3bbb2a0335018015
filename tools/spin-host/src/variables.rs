//! Application variables as Spin resolves them: declared defaults, overridden by
//! `SPIN_VARIABLE_<NAME>` environment variables and `--var name=value` flags; and the
//! `{{ name }}` templates that component variables and outbound hosts are written in.

use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use toml::{Table, Value};

/// Resolved application variables.
#[derive(Debug, Clone, Default)]
pub struct Variables(BTreeMap<String, String>);

fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        bail!("variable `{name}`: names are lower_snake_case")
    }
}

impl Variables {
    /// Resolves every declared variable; a required one without a value stops the host.
    pub fn declare(declared: Option<&Table>, overrides: &BTreeMap<String, String>) -> Result<Self> {
        let mut values = BTreeMap::new();
        for (name, spec) in declared.into_iter().flatten() {
            check_name(name)?;
            let spec = spec
                .as_table()
                .ok_or_else(|| anyhow!("spin.toml: `variables.{name}` must be a table"))?;
            if let Some(key) = spec
                .keys()
                .find(|k| !["default", "required", "secret"].contains(&k.as_str()))
            {
                bail!("spin.toml: `variables.{name}.{key}` is not supported by spin-host");
            }
            let default = match spec.get("default") {
                None => None,
                Some(value) => Some(
                    value
                        .as_str()
                        .ok_or_else(|| {
                            anyhow!("spin.toml: `variables.{name}.default` must be a string")
                        })?
                        .to_owned(),
                ),
            };
            let required = spec
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if required && default.is_some() {
                bail!("spin.toml: variable `{name}` cannot be both required and have a default");
            }
            match overrides.get(name).cloned().or(default) {
                Some(value) => values.insert(name.clone(), value),
                None if required => bail!(
                    "variable `{name}` is required: set SPIN_VARIABLE_{} or pass --var {name}=VALUE",
                    name.to_ascii_uppercase()
                ),
                None => bail!("spin.toml: variable `{name}` needs a default or `required = true`"),
            };
        }
        // Like Spin, a value for a variable the manifest does not declare is ignored: the
        // environment may carry SPIN_VARIABLE_* meant for another app.
        Ok(Self(values))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Overrides from the environment (`SPIN_VARIABLE_DB_URL` sets `db_url`) and from flags,
/// the flags winning.
pub fn overrides(
    env: impl Iterator<Item = (String, String)>,
    flags: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut merged: BTreeMap<String, String> = env
        .filter_map(|(key, value)| {
            Some((
                key.strip_prefix("SPIN_VARIABLE_")?.to_ascii_lowercase(),
                value,
            ))
        })
        .collect();
    merged.extend(flags.iter().cloned());
    merged
}

/// Text with `{{ variable }}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Variable(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let end = rest[start..]
                .find("}}")
                .ok_or_else(|| anyhow!("`{text}`: `{{{{` without `}}}}`"))?;
            let name = rest[start + 2..start + end].trim();
            check_name(name)?;
            parts.push(Part::Variable(name.to_owned()));
            rest = &rest[start + end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self(parts))
    }

    pub fn render(&self, variables: &Variables) -> Result<String> {
        self.0
            .iter()
            .map(|part| match part {
                Part::Text(text) => Ok(text.as_str()),
                Part::Variable(name) => variables
                    .get(name)
                    .ok_or_else(|| anyhow!("`{{{{ {name} }}}}` names an undeclared variable")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn overrides_beat_defaults_and_required_ones_must_be_set() {
        let table = declared("a = { default = \"one\" }\nb = { required = true, secret = true }");
        let set = BTreeMap::from([("b".to_owned(), "two".to_owned())]);
        let vars = Variables::declare(Some(&table), &set).unwrap();
        assert_eq!((vars.get("a"), vars.get("b")), (Some("one"), Some("two")));
        let err = Variables::declare(Some(&table), &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("SPIN_VARIABLE_B"), "{err}");
        // As in Spin, a value for an undeclared variable is ignored.
        let unknown = BTreeMap::from([
            ("b".to_owned(), "two".to_owned()),
            ("c".to_owned(), "x".to_owned()),
        ]);
        let vars = Variables::declare(Some(&table), &unknown).unwrap();
        assert_eq!(vars.get("c"), None);
        assert!(
            Variables::declare(
                Some(&declared("Bad = { default = \"x\" }")),
                &BTreeMap::new()
            )
            .is_err()
        );
    }

    #[test]
    fn environment_overrides_use_upper_case_names() {
        let env = [
            ("SPIN_VARIABLE_DB_URL".to_owned(), "pg".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let merged = overrides(env.into_iter(), &[("region".into(), "eu".into())]);
        assert_eq!(
            merged,
            BTreeMap::from([
                ("db_url".into(), "pg".into()),
                ("region".into(), "eu".into())
            ])
        );
    }

    #[test]
    fn templates_substitute_and_refuse_unknown_names() {
        let vars = Variables::declare(
            Some(&declared("host = { default = \"db\" }")),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            Template::parse("postgres://{{ host }}:5432")
                .unwrap()
                .render(&vars)
                .unwrap(),
            "postgres://db:5432"
        );
        assert_eq!(
            Template::parse("plain").unwrap().render(&vars).unwrap(),
            "plain"
        );
        assert!(
            Template::parse("{{ other }}")
                .unwrap()
                .render(&vars)
                .is_err()
        );
        assert!(Template::parse("{{ host").is_err());
    }
}
