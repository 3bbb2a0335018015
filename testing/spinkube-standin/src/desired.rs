//! What one SpinApp asks of a node, resolved as spin-operator v0.6.1 resolves it for its pods:
//!
//! - each of `spec.variables` becomes `SPIN_VARIABLE_<NAME>` (upper case), its `value`, or the
//!   key of a ConfigMap or Secret in the app's namespace (`ConstructEnvForApp`);
//! - `spec.runtimeConfig` becomes the `runtime-config.toml` the shim reads
//!   (`internal/runtimeconfig`): an `env` variables provider with prefix `SPIN_VARIABLE_`, and a
//!   table per key-value store and SQLite database holding `type` and each option; with
//!   `loadFromSecret`, that Secret's `runtime-config.toml` as it is;
//! - `spec.components` keeps only those components (the shim's `SPIN_COMPONENTS_TO_RETAIN`);
//! - the executor's `deploymentConfig.otel` endpoints become `OTEL_EXPORTER_OTLP_ENDPOINT` and
//!   its traces, metrics and logs variants, which Spin's exporter reads.
//!
//! A ConfigMap, Secret or key that is missing is an error, as it keeps the operator's pod from
//! starting; so is what the operator's admission webhook refuses (`spinapp_validating.go`): an
//! executor that does not exist in the namespace, `replicas` with `enableAutoscaling`, or
//! `replicas` below 1. The members here run no webhook, so the stand-in refuses instead. A
//! variable naming a SpinApp's Service on the same cluster
//! (`http://NAME.NAMESPACE.svc.cluster.local`) is given that Service's loopback address
//! instead (`service`): the stand-in's cluster DNS, which also knows the Services its starter
//! named for the member (a platform's OpenTelemetry Collector). An OTLP endpoint it does not
//! know is left out: in a pod, the exporter could not resolve it and would drop the telemetry.

use serde_json::Value;
use std::collections::BTreeMap;

/// Reads the KEY of the ConfigMap or Secret NAME in the app's namespace, and the executor of
/// that name there.
pub trait Lookup {
    fn executor(&self, name: &str) -> Option<Value>;
    fn config_map(&self, name: &str, key: &str) -> Result<String, String>;
    fn secret(&self, name: &str, key: &str) -> Result<String, String>;
}

/// The loopback address of each Service the stand-in's cluster DNS knows on one member, by
/// (namespace, name, port); a SpinApp's Service has port 80.
pub type Services = BTreeMap<(String, String, u16), String>;

/// The executor's OTLP endpoint fields and the variable spin-operator sets from each.
const OTEL_ENDPOINTS: [(&str, &str); 4] = [
    ("exporter_otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    (
        "exporter_otlp_traces_endpoint",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ),
    (
        "exporter_otlp_metrics_endpoint",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ),
    (
        "exporter_otlp_logs_endpoint",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub image: String,
    pub components: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub runtime_config: Option<String>,
    /// `checks.readiness.httpGet.path`; without one, listening is ready.
    pub readiness_path: Option<String>,
    pub replicas: i64,
}

/// Why an app cannot start yet, or at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotYet {
    /// It names a Service of the cluster that does not exist (yet).
    WaitingFor(String),
    /// What the operator would refuse, or its pod fail on.
    Invalid(String),
}

pub fn resolve(app: &Value, lookup: &dyn Lookup, services: &Services) -> Result<Desired, NotYet> {
    let spec = &app["spec"];
    let executor = admitted(spec, lookup).map_err(NotYet::Invalid)?;
    let image = spec["image"]
        .as_str()
        .ok_or_else(|| NotYet::Invalid("no spec.image".into()))?
        .to_owned();
    let mut env = BTreeMap::new();
    for variable in spec["variables"].as_array().into_iter().flatten() {
        let name = variable["name"]
            .as_str()
            .ok_or_else(|| NotYet::Invalid("a variable without a name".into()))?;
        let value = value_of(variable, lookup).map_err(NotYet::Invalid)?;
        let value = through_cluster_dns(&value, services)?;
        env.insert(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
    }
    let otel = &executor["spec"]["deploymentConfig"]["otel"];
    for (field, variable) in OTEL_ENDPOINTS {
        if let Some(endpoint) = otel[field].as_str().filter(|e| !e.is_empty())
            && let Ok(reached) = through_cluster_dns(endpoint, services)
        {
            env.insert(variable.to_owned(), reached);
        }
    }
    let runtime_config = runtime_config(&spec["runtimeConfig"], lookup).map_err(NotYet::Invalid)?;
    let components = spec["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    let readiness_path = spec["checks"]["readiness"]["httpGet"]["path"]
        .as_str()
        .map(str::to_owned);
    Ok(Desired {
        image,
        components,
        env,
        runtime_config,
        readiness_path,
        replicas: spec["replicas"].as_i64().unwrap_or(1),
    })
}

/// What spin-operator v0.6.1's validating webhook checks (`validateExecutor`,
/// `validateReplicas`), with its messages; the executor when admitted.
fn admitted(spec: &Value, lookup: &dyn Lookup) -> Result<Value, String> {
    let name = spec["executor"].as_str().unwrap_or_default();
    let Some(executor) = lookup.executor(name) else {
        return Err(format!(
            "spec.executor {name:?}: executor does not exist in namespace"
        ));
    };
    let replicas = spec["replicas"].as_i64();
    if spec["enableAutoscaling"] == true && replicas.is_some() {
        return Err("spec.replicas: replicas cannot be set when autoscaling is enabled".into());
    }
    if replicas.is_some_and(|r| r < 1) {
        return Err("spec.replicas: replicas must be > 0".into());
    }
    Ok(executor)
}

/// A `value`, or a `valueFrom` ConfigMap or Secret key.
fn value_of(item: &Value, lookup: &dyn Lookup) -> Result<String, String> {
    if let Some(value) = item["value"].as_str() {
        return Ok(value.to_owned());
    }
    let from = &item["valueFrom"];
    let reference = |r: &Value| {
        let name = r["name"].as_str().unwrap_or_default().to_owned();
        let key = r["key"].as_str().unwrap_or_default().to_owned();
        (name, key)
    };
    if from["configMapKeyRef"].is_object() {
        let (name, key) = reference(&from["configMapKeyRef"]);
        return lookup.config_map(&name, &key);
    }
    if from["secretKeyRef"].is_object() {
        let (name, key) = reference(&from["secretKeyRef"]);
        return lookup.secret(&name, &key);
    }
    Ok(String::new())
}

/// VALUE with the URL of a Service on this cluster replaced by its loopback address.
fn through_cluster_dns(value: &str, services: &Services) -> Result<String, NotYet> {
    let Some(rest) = value.strip_prefix("http://") else {
        return Ok(value.to_owned());
    };
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let (host, port) = match host.rsplit_once(':') {
        Some((host, port)) => match port.parse() {
            Ok(port) => (host, port),
            Err(_) => return Ok(value.to_owned()),
        },
        None => (host, 80),
    };
    let Some(service) = host.strip_suffix(".svc.cluster.local") else {
        return Ok(value.to_owned());
    };
    let Some((name, namespace)) = service.split_once('.') else {
        return Ok(value.to_owned());
    };
    match services.get(&(namespace.to_owned(), name.to_owned(), port)) {
        Some(address) if path.is_empty() => Ok(format!("http://{address}")),
        Some(address) => Ok(format!("http://{address}/{path}")),
        None => Err(NotYet::WaitingFor(format!("Service {namespace}/{name}"))),
    }
}

/// The shim's `runtime-config.toml`, as the operator renders it.
fn runtime_config(config: &Value, lookup: &dyn Lookup) -> Result<Option<String>, String> {
    if !config.is_object() {
        return Ok(None);
    }
    if let Some(secret) = config["loadFromSecret"].as_str().filter(|s| !s.is_empty()) {
        return lookup.secret(secret, "runtime-config.toml").map(Some);
    }
    let mut root = toml::Table::new();
    let mut provider = toml::Table::new();
    provider.insert("type".into(), "env".into());
    provider.insert("prefix".into(), "SPIN_VARIABLE_".into());
    root.insert(
        "config_provider".into(),
        toml::Value::Array(vec![provider.into()]),
    );
    for (field, table) in [
        ("keyValueStores", "key_value_store"),
        ("sqliteDatabases", "sqlite_database"),
    ] {
        let mut stores = toml::Table::new();
        for store in config[field].as_array().into_iter().flatten() {
            let name = store["name"].as_str().unwrap_or("default");
            let mut options = toml::Table::new();
            options.insert("type".into(), store["type"].as_str().unwrap_or("").into());
            for option in store["options"].as_array().into_iter().flatten() {
                let key = option["name"].as_str().unwrap_or_default();
                options.insert(key.into(), value_of(option, lookup)?.into());
            }
            if stores.insert(name.into(), options.into()).is_some() {
                return Err(format!(
                    "duplicate definition for {table} with name: {name}"
                ));
            }
        }
        if !stores.is_empty() {
            root.insert(table.into(), stores.into());
        }
    }
    Ok(Some(root.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed;
    impl Lookup for Fixed {
        fn executor(&self, name: &str) -> Option<Value> {
            (name == "containerd-shim-spin").then(|| {
                json!({"spec": {"deploymentConfig": {"otel": {
                    "exporter_otlp_endpoint": "http://otel-collector.monitoring.svc.cluster.local:4318",
                    "exporter_otlp_logs_endpoint": "http://logs.example.com:4318",
                }}}})
            })
        }
        fn config_map(&self, name: &str, key: &str) -> Result<String, String> {
            match (name, key) {
                ("config", "cluster_name") => Ok("prod-east".into()),
                _ => Err(format!("configmap {name} has no key {key}")),
            }
        }
        fn secret(&self, name: &str, key: &str) -> Result<String, String> {
            match (name, key) {
                ("secrets", "kv_url") => Ok("redis://127.0.0.1:6379".into()),
                ("secrets", "db_url") => Ok("postgres://ledger@127.0.0.1/ledger".into()),
                _ => Err(format!("secret {name} has no key {key}")),
            }
        }
    }

    fn app(variables: Value) -> Value {
        json!({"spec": {
            "image": "127.0.0.1:5000/automatizacion@sha256:ab", "replicas": 4,
            "executor": "containerd-shim-spin",
            "components": ["frontend"],
            "checks": {"readiness": {"httpGet": {"path": "/api/ready"}}},
            "variables": variables,
            "runtimeConfig": {"keyValueStores": [{"name": "default", "type": "redis",
                "options": [{"name": "url", "valueFrom": {"secretKeyRef": {"name": "secrets", "key": "kv_url"}}}]}]},
        }})
    }

    #[test]
    fn variables_runtime_config_and_components_resolve_as_the_operator_does() {
        let services = Services::from([
            (
                ("automatizacion".into(), "automatizacion-backend".into(), 80),
                "127.0.0.1:4100".into(),
            ),
            (
                ("monitoring".into(), "otel-collector".into(), 4318),
                "127.0.0.1:4200".into(),
            ),
        ]);
        let variables = json!([
            {"name": "cluster_name", "valueFrom": {"configMapKeyRef": {"name": "config", "key": "cluster_name"}}},
            {"name": "db_url", "valueFrom": {"secretKeyRef": {"name": "secrets", "key": "db_url"}}},
            {"name": "backend_url", "value": "http://automatizacion-backend.automatizacion.svc.cluster.local"},
            {"name": "region", "value": "eu-east-1"},
        ]);
        let desired = resolve(&app(variables), &Fixed, &services).unwrap();
        assert_eq!(desired.env["SPIN_VARIABLE_CLUSTER_NAME"], "prod-east");
        assert_eq!(
            desired.env["SPIN_VARIABLE_DB_URL"],
            "postgres://ledger@127.0.0.1/ledger"
        );
        assert_eq!(
            desired.env["SPIN_VARIABLE_BACKEND_URL"],
            "http://127.0.0.1:4100"
        );
        assert_eq!(desired.env["SPIN_VARIABLE_REGION"], "eu-east-1");
        // The executor's Collector, through the cluster DNS; an endpoint outside the cluster
        // as it is; the fields it leaves empty set nothing.
        assert_eq!(
            desired.env["OTEL_EXPORTER_OTLP_ENDPOINT"],
            "http://127.0.0.1:4200"
        );
        assert_eq!(
            desired.env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"],
            "http://logs.example.com:4318"
        );
        assert!(
            !desired
                .env
                .contains_key("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        );
        assert_eq!(desired.components, ["frontend"]);
        assert_eq!(desired.readiness_path.as_deref(), Some("/api/ready"));
        let config: toml::Table = desired.runtime_config.unwrap().parse().unwrap();
        assert_eq!(
            config["config_provider"][0]["prefix"].as_str(),
            Some("SPIN_VARIABLE_")
        );
        let store = &config["key_value_store"]["default"];
        assert_eq!(store["type"].as_str(), Some("redis"));
        assert_eq!(store["url"].as_str(), Some("redis://127.0.0.1:6379"));
    }

    #[test]
    fn what_the_operator_would_refuse_keeps_the_app_from_starting() {
        let missing = json!([{"name": "x", "valueFrom": {"secretKeyRef": {"name": "secrets", "key": "nope"}}}]);
        assert_eq!(
            resolve(&app(missing), &Fixed, &Services::new()),
            Err(NotYet::Invalid("secret secrets has no key nope".into()))
        );
        let unserved = json!([{"name": "backend_url", "value": "http://automatizacion-backend.automatizacion.svc.cluster.local:80"}]);
        assert_eq!(
            resolve(&app(unserved), &Fixed, &Services::new()),
            Err(NotYet::WaitingFor(
                "Service automatizacion/automatizacion-backend".into()
            ))
        );
        let outside = json!([{"name": "u", "value": "http://example.com/x"}]);
        let mut refused = app(outside.clone());
        refused["spec"]["executor"] = "missing".into();
        let why = resolve(&refused, &Fixed, &Services::new()).unwrap_err();
        assert!(matches!(why, NotYet::Invalid(w) if w.contains("executor does not exist")));
        let mut refused = app(outside.clone());
        refused["spec"]["enableAutoscaling"] = true.into();
        let why = resolve(&refused, &Fixed, &Services::new()).unwrap_err();
        assert!(matches!(why, NotYet::Invalid(w) if w.contains("autoscaling is enabled")));
        refused["spec"]["enableAutoscaling"] = false.into();
        refused["spec"]["replicas"] = 0.into();
        let why = resolve(&refused, &Fixed, &Services::new()).unwrap_err();
        assert!(matches!(why, NotYet::Invalid(w) if w.contains("must be > 0")));
        let desired = resolve(&app(outside), &Fixed, &Services::new()).unwrap();
        assert_eq!(desired.env["SPIN_VARIABLE_U"], "http://example.com/x");
        // A Collector the cluster does not have: no endpoint, and the app still starts.
        assert!(!desired.env.contains_key("OTEL_EXPORTER_OTLP_ENDPOINT"));
    }
}
