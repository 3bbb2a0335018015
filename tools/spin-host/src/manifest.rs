//! Reads `spin.toml` (manifest version 2) into an [`App`]: triggers, components, variables.
//! Anything this host does not implement is refused by name, never silently ignored.

use crate::outbound::HostPattern;
use crate::variables::{Template, Variables};
use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTrigger {
    pub route: Route,
    pub component: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/exact`
    Exact(String),
    /// `/prefix/...`, stored as `/prefix` (empty for `/...`).
    Wildcard(String),
    /// `{ private = true }`: reachable only by service chaining.
    Private,
}

impl std::fmt::Display for Route {
    /// As the manifest spells it: `/exact`, `/prefix/...`, `private`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Exact(route) if route.is_empty() => f.write_str("/"),
            Route::Exact(route) => f.write_str(route),
            Route::Wildcard(prefix) => write!(f, "{prefix}/..."),
            Route::Private => f.write_str("private"),
        }
    }
}

impl Route {
    fn parse(value: &Value, component: &str) -> Result<Self> {
        match value {
            Value::String(route) if route.ends_with("/...") => {
                Ok(Route::Wildcard(route.trim_end_matches("/...").to_owned()))
            }
            Value::String(route) if route.starts_with('/') => {
                Ok(Route::Exact(route.trim_end_matches('/').to_owned()))
            }
            Value::Table(t)
                if t.get("private").and_then(Value::as_bool) == Some(true) && t.len() == 1 =>
            {
                Ok(Route::Private)
            }
            _ => bail!(
                "trigger for component `{component}`: route must be `/path`, `/path/...` or {{ private = true }}"
            ),
        }
    }

    /// How specific a match is: longer wins, and an exact route beats a wildcard of equal length.
    /// Like Spin, it ignores repeated leading and any trailing slashes (`//api/x/` is `/api/x`).
    pub fn matches(&self, path: &str) -> Option<usize> {
        let leading = path.len() - path.trim_start_matches('/').len();
        let path = path[leading.saturating_sub(1)..].trim_end_matches('/');
        match self {
            Route::Exact(route) => (route == path).then_some(route.len() * 2 + 1),
            Route::Wildcard(prefix) => {
                let inside = path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'));
                inside.then_some(prefix.len() * 2)
            }
            Route::Private => None,
        }
    }
}

/// One `[component.<id>]`, with its templates resolved.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    pub id: String,
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<HostPattern>,
    pub sqlite_databases: Vec<String>,
    /// Only `default`: spin-host has no runtime configuration to define other stores.
    pub key_value_stores: Vec<String>,
    pub variables: BTreeMap<String, String>,
    pub environment: BTreeMap<String, String>,
    /// The components this one names literally as `http://<id>.spin.internal` in
    /// `allowed_outbound_hosts` (before templates are resolved, as Spin checks them).
    pub chains_to: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub triggers: Vec<HttpTrigger>,
    pub components: BTreeMap<String, ComponentConfig>,
}

/// `spin.toml` as written, for the keys spin-host implements. Every struct refuses the keys
/// it does not know, so a manifest that asks for more (`files`, Redis triggers) fails at start
/// with the key's full name instead of running without it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    /// Checked before the typed read: a version 1 manifest has other keys altogether.
    #[allow(dead_code)]
    spin_manifest_version: i64,
    application: ApplicationFile,
    #[serde(default)]
    variables: Table,
    trigger: TriggerFile,
    component: BTreeMap<String, ComponentFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read so that they are accepted; spin-host has no use for them
struct ApplicationFile {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    authors: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerFile {
    http: Vec<HttpTriggerFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpTriggerFile {
    route: Option<Value>,
    /// Absent for an inline component, which spin-host does not support.
    component: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // `description` and `build` are accepted and not used
struct ComponentFile {
    /// A local path; a table (`{ url, digest }`) is a remote source.
    source: Value,
    description: Option<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    build: Option<Value>,
}

impl ManifestFile {
    /// Reads the typed manifest; an unknown key is refused by its full name.
    fn read(doc: &Table) -> Result<Self> {
        serde_path_to_error::deserialize(Value::Table(doc.clone())).map_err(|e| {
            let reason = e.inner().to_string();
            // `trigger.http[2]` reads as `trigger.http`: the key names the feature, not the entry.
            let mut at = e.path().to_string();
            while let (Some(open), Some(close)) = (at.find('['), at.find(']')) {
                at.replace_range(open..=close, "");
            }
            match reason
                .strip_prefix("unknown field `")
                .and_then(|r| r.split_once('`'))
            {
                Some((key, _)) if at == "." => {
                    anyhow!("spin.toml: `{key}` is not supported by spin-host")
                }
                Some((key, _)) => anyhow!("spin.toml: `{at}.{key}` is not supported by spin-host"),
                None => anyhow!("spin.toml: `{at}`: {reason}"),
            }
        })
    }
}

impl App {
    /// Loads the manifest, resolving variables from `overrides` (already merged from the
    /// environment and the command line). Component sources are relative to the manifest.
    pub fn load(path: &Path, overrides: &BTreeMap<String, String>) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let doc: Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_table(&doc, base, overrides)
    }

    pub fn from_table(
        doc: &Table,
        base: &Path,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self> {
        if doc.get("spin_manifest_version").and_then(Value::as_integer) != Some(2) {
            bail!("spin.toml: only `spin_manifest_version = 2` is supported");
        }
        let manifest = ManifestFile::read(doc)?;
        let variables = Variables::declare(Some(&manifest.variables), overrides)?;
        let triggers = manifest
            .trigger
            .http
            .into_iter()
            .map(|trigger| {
                let component = trigger.component.ok_or_else(|| {
                    anyhow!("spin.toml: every `[[trigger.http]]` needs `component = \"<id>\"` (inline components are not supported)")
                })?;
                let route = trigger.route.ok_or_else(|| {
                    anyhow!("spin.toml: trigger for `{component}` has no route")
                })?;
                Ok(HttpTrigger {
                    route: Route::parse(&route, &component)?,
                    component,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut components = BTreeMap::new();
        for (id, component) in manifest.component {
            let at = format!("component.{id}");
            let Some(source) = component.source.as_str() else {
                bail!(
                    "spin.toml: `{at}.source` must be a local file path (URL and registry sources are not supported)"
                );
            };
            let chains_to = component
                .allowed_outbound_hosts
                .iter()
                .filter_map(|entry| chained_component(entry))
                .collect();
            let allowed_outbound_hosts = component
                .allowed_outbound_hosts
                .iter()
                .map(|entry| {
                    let resolved = Template::parse(entry)?.render(&variables)?;
                    HostPattern::parse(&resolved)
                        .with_context(|| format!("{at}.allowed_outbound_hosts: `{entry}`"))
                })
                .collect::<Result<_>>()?;
            let component_vars = component
                .variables
                .into_iter()
                .map(|(name, template)| {
                    let value = Template::parse(&template)?
                        .render(&variables)
                        .with_context(|| format!("{at}.variables.{name}"))?;
                    Ok((name, value))
                })
                .collect::<Result<_>>()?;
            if let Some(label) = component.key_value_stores.iter().find(|l| *l != "default") {
                bail!(
                    "spin.toml: {at}.key_value_stores: `{label}` needs a runtime configuration, \
                     which spin-host does not read; it provides only `default`"
                );
            }
            let config = ComponentConfig {
                id: id.clone(),
                source: base.join(source),
                allowed_outbound_hosts,
                sqlite_databases: component.sqlite_databases,
                key_value_stores: component.key_value_stores,
                variables: component_vars,
                environment: component.environment,
                chains_to,
            };
            components.insert(id, config);
        }
        for trigger in &triggers {
            if !components.contains_key(&trigger.component) {
                bail!(
                    "spin.toml: a trigger names component `{}`, which is not defined",
                    trigger.component
                );
            }
        }
        Ok(Self {
            name: manifest
                .application
                .name
                .unwrap_or_else(|| "app".to_owned()),
            triggers,
            components,
        })
    }

    /// Keeps only the `selected` components and their triggers, as `spin up -c` does. Like
    /// Spin, refuses a selection in which a component chains to one left out by name.
    pub fn select(mut self, selected: &[String]) -> Result<Self> {
        if selected.is_empty() {
            return Ok(self);
        }
        if let Some(unknown) = selected
            .iter()
            .find(|id| !self.components.contains_key(*id))
        {
            bail!("spin.toml has no component `{unknown}` to select");
        }
        self.components.retain(|id, _| selected.contains(id));
        self.triggers.retain(|t| selected.contains(&t.component));
        for component in self.components.values() {
            if let Some(missing) = component.chains_to.iter().find(|id| !selected.contains(id)) {
                bail!(
                    "failed to resolve application with only components selected with \
                     --component: selected component '{}' cannot use service chaining to \
                     unselected component '{missing}'",
                    component.id
                );
            }
        }
        Ok(self)
    }

    /// The component serving `path`: the most specific public route wins.
    pub fn route(&self, path: &str) -> Option<&HttpTrigger> {
        self.triggers
            .iter()
            .filter_map(|t| t.route.matches(path).map(|score| (score, t)))
            .max_by_key(|(score, _)| *score)
            .map(|(_, t)| t)
    }
}

/// `http://backend.spin.internal` names `backend`; templates and wildcards name no one.
fn chained_component(entry: &str) -> Option<String> {
    let host = entry.split_once("://")?.1.trim_end_matches('/');
    let id = host.split(':').next()?.strip_suffix(".spin.internal")?;
    let literal = !id.is_empty() && !id.contains(['*', '{', '.']);
    literal.then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<App> {
        App::from_table(
            &toml::from_str(text).unwrap(),
            Path::new("/app"),
            &BTreeMap::new(),
        )
    }

    const MINIMAL: &str = r#"
        spin_manifest_version = 2
        [application]
        name = "demo"
        [variables]
        host = { default = "db.local" }
        [[trigger.http]]
        route = "/api/..."
        component = "api"
        [[trigger.http]]
        route = "/api/special"
        component = "web"
        [[trigger.http]]
        route = "/..."
        component = "web"
        [[trigger.http]]
        route = { private = true }
        component = "hidden"
        [component.api]
        source = "api.wasm"
        allowed_outbound_hosts = ["postgres://{{ host }}:5432"]
        sqlite_databases = ["default"]
        variables = { greeting = "hi {{ host }}" }
        [component.web]
        source = "web.wasm"
        [component.hidden]
        source = "hidden.wasm"
    "#;

    #[test]
    fn reads_triggers_components_and_templates() {
        let app = load(MINIMAL).unwrap();
        assert_eq!(app.name, "demo");
        let api = &app.components["api"];
        assert_eq!(api.source, Path::new("/app/api.wasm"));
        assert_eq!(api.variables["greeting"], "hi db.local");
        assert_eq!(api.sqlite_databases, ["default"]);
        assert!(api.allowed_outbound_hosts[0].allows("postgres", "db.local", 5432));
    }

    #[test]
    fn the_most_specific_route_wins() {
        let app = load(MINIMAL).unwrap();
        let component = |path: &str| app.route(path).map(|t| t.component.as_str());
        assert_eq!(component("/api/releases/1"), Some("api"));
        assert_eq!(component("/api"), Some("api"));
        assert_eq!(component("/api/special"), Some("web"));
        assert_eq!(component("/apix"), Some("web"));
        assert_eq!(component("/"), Some("web"));
        assert_eq!(component("//api/releases/"), Some("api"));
        assert_eq!(component("///api/special//"), Some("web"));
        assert_eq!(component("///"), Some("web"));
        assert!(
            app.triggers
                .iter()
                .any(|t| t.route == Route::Private && t.component == "hidden")
        );
    }

    #[test]
    fn unsupported_features_are_refused_by_name() {
        let with = |extra: &str, table: &str| MINIMAL.replace(table, &format!("{table}\n{extra}"));
        let cases = [
            (with("files = [\"static/**\"]", "[component.web]"), "component.web.files"),
            (with("key_value_stores = [\"cache\"]", "[component.web]"), "component.web.key_value_stores: `cache`"),
            (with("executor = { type = \"wagi\" }", "component = \"api\""), "trigger.http.executor"),
            (MINIMAL.replace("[[trigger.http]]\n        route = \"/api/...\"", "[[trigger.redis]]\n        channel = \"x\"\n        [[trigger.http]]\n        route = \"/api/...\""), "trigger.redis"),
        ];
        for (text, feature) in cases {
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(feature), "{feature}: {err}");
        }
        let err = load(&MINIMAL.replace(
            "source = \"web.wasm\"",
            "source = { url = \"https://x\", digest = \"y\" }",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("local file path"), "{err}");
        assert!(
            load(&MINIMAL.replace("spin_manifest_version = 2", "spin_manifest_version = 1"))
                .is_err()
        );
    }

    #[test]
    fn selecting_components_keeps_their_triggers_and_refuses_broken_chains() {
        let chained = MINIMAL.replace(
            "source = \"web.wasm\"",
            "source = \"web.wasm\"\n        allowed_outbound_hosts = [\"http://hidden.spin.internal\", \"http://{{ host }}\"]",
        );
        let app = load(&chained).unwrap();
        assert_eq!(app.components["web"].chains_to, ["hidden"]);
        let api = load(&chained).unwrap().select(&["api".into()]).unwrap();
        assert_eq!(api.components.keys().collect::<Vec<_>>(), ["api"]);
        assert_eq!(api.route("/"), None);
        assert_eq!(api.route("/api/x").unwrap().component, "api");
        let err = load(&chained).unwrap().select(&["web".into()]).unwrap_err();
        assert!(
            err.to_string().contains("unselected component 'hidden'"),
            "{err}"
        );
        let both = load(&chained)
            .unwrap()
            .select(&["web".into(), "hidden".into()])
            .unwrap();
        assert_eq!(both.components.len(), 2);
        let err = load(MINIMAL)
            .unwrap()
            .select(&["ghost".into()])
            .unwrap_err();
        assert!(err.to_string().contains("ghost"), "{err}");
        assert_eq!(chained_component("http://*.spin.internal"), None);
        assert_eq!(chained_component("{{ backend_url }}"), None);
        assert_eq!(
            chained_component("http://backend.spin.internal:80"),
            Some("backend".into())
        );
    }

    #[test]
    fn unknown_components_and_variables_are_errors() {
        assert!(load(&MINIMAL.replace("component = \"hidden\"", "component = \"ghost\"")).is_err());
        let err = load(&MINIMAL.replace("hi {{ host }}", "hi {{ nope }}")).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
    }
}
