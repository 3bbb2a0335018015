//! Reads `spin.toml` (manifest version 2) into an [`App`]: triggers, components, variables.
//! Anything this host does not implement is refused by name, never silently ignored.

use crate::outbound::HostPattern;
use crate::variables::{Template, Variables};
use anyhow::{Context, Result, anyhow, bail};
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

const APP_KEYS: &[&str] = &[
    "spin_manifest_version",
    "application",
    "variables",
    "trigger",
    "component",
];
const APPLICATION_KEYS: &[&str] = &["name", "version", "description", "authors"];
const TRIGGER_KEYS: &[&str] = &["route", "component"];
const COMPONENT_KEYS: &[&str] = &[
    "source",
    "description",
    "allowed_outbound_hosts",
    "sqlite_databases",
    "variables",
    "environment",
    "build",
];

/// Refuses keys this host does not implement, naming each in full.
fn only_known(table: &Table, known: &[&str], at: &str) -> Result<()> {
    match table.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => bail!("spin.toml: `{at}{key}` is not supported by spin-host"),
        None => Ok(()),
    }
}

fn table<'a>(value: &'a Value, at: &str) -> Result<&'a Table> {
    value
        .as_table()
        .ok_or_else(|| anyhow!("spin.toml: `{at}` must be a table"))
}

fn strings(value: Option<&Value>, at: &str) -> Result<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| anyhow!("spin.toml: `{at}` must be a list of strings"))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("spin.toml: `{at}` must be a list of strings"))
        })
        .collect()
}

fn string_map(value: Option<&Value>, at: &str) -> Result<BTreeMap<String, String>> {
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    table(value, at)?
        .iter()
        .map(|(key, value)| {
            let text = value
                .as_str()
                .ok_or_else(|| anyhow!("spin.toml: `{at}.{key}` must be a string"))?;
            Ok((key.clone(), text.to_owned()))
        })
        .collect()
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
        only_known(doc, APP_KEYS, "")?;
        if doc.get("spin_manifest_version").and_then(Value::as_integer) != Some(2) {
            bail!("spin.toml: only `spin_manifest_version = 2` is supported");
        }
        let application = table(
            doc.get("application")
                .ok_or_else(|| anyhow!("spin.toml: `[application]` is missing"))?,
            "application",
        )?;
        only_known(application, APPLICATION_KEYS, "application.")?;
        let name = application
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("app")
            .to_owned();

        let variables = Variables::declare(
            doc.get("variables")
                .map(|v| table(v, "variables"))
                .transpose()?,
            overrides,
        )?;

        let triggers_root = table(
            doc.get("trigger")
                .ok_or_else(|| anyhow!("spin.toml: no `[[trigger.http]]`"))?,
            "trigger",
        )?;
        only_known(triggers_root, &["http"], "trigger.")?;
        let mut triggers = Vec::new();
        for trigger in triggers_root["http"]
            .as_array()
            .ok_or_else(|| anyhow!("spin.toml: `trigger.http` must be a list"))?
        {
            let trigger = table(trigger, "trigger.http")?;
            only_known(trigger, TRIGGER_KEYS, "trigger.http.")?;
            let component = trigger
                .get("component")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("spin.toml: every `[[trigger.http]]` needs `component = \"<id>\"` (inline components are not supported)"))?
                .to_owned();
            let route = Route::parse(
                trigger
                    .get("route")
                    .ok_or_else(|| anyhow!("spin.toml: trigger for `{component}` has no route"))?,
                &component,
            )?;
            triggers.push(HttpTrigger { route, component });
        }

        let mut components = BTreeMap::new();
        for (id, value) in table(
            doc.get("component")
                .ok_or_else(|| anyhow!("spin.toml: no components"))?,
            "component",
        )? {
            let at = format!("component.{id}");
            let component = table(value, &at)?;
            only_known(component, COMPONENT_KEYS, &format!("{at}."))?;
            let source = component
                .get("source")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("spin.toml: `{at}.source` must be a local file path (URL and registry sources are not supported)"))?;
            let outbound_entries = strings(
                component.get("allowed_outbound_hosts"),
                &format!("{at}.allowed_outbound_hosts"),
            )?;
            let chains_to = outbound_entries
                .iter()
                .filter_map(|entry| chained_component(entry))
                .collect();
            let allowed_outbound_hosts = outbound_entries
                .iter()
                .map(|entry| {
                    let resolved = Template::parse(entry)?.render(&variables)?;
                    HostPattern::parse(&resolved)
                        .with_context(|| format!("{at}.allowed_outbound_hosts: `{entry}`"))
                })
                .collect::<Result<_>>()?;
            let component_vars =
                string_map(component.get("variables"), &format!("{at}.variables"))?
                    .into_iter()
                    .map(|(name, template)| {
                        let value = Template::parse(&template)?
                            .render(&variables)
                            .with_context(|| format!("{at}.variables.{name}"))?;
                        Ok((name, value))
                    })
                    .collect::<Result<_>>()?;
            let config = ComponentConfig {
                id: id.clone(),
                source: base.join(source),
                allowed_outbound_hosts,
                sqlite_databases: strings(
                    component.get("sqlite_databases"),
                    &format!("{at}.sqlite_databases"),
                )?,
                variables: component_vars,
                environment: string_map(
                    component.get("environment"),
                    &format!("{at}.environment"),
                )?,
                chains_to,
            };
            components.insert(id.clone(), config);
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
            name,
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
            (with("key_value_stores = [\"default\"]", "[component.web]"), "component.web.key_value_stores"),
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
