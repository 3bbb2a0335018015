//! The Kind environment (`local-dev/up.sh`), checked where no container runtime can run it:
//! the Kind configurations against kind v0.32.0's own schema (`testing/reference/kind`, strict
//! keys, types and enums, as kind's loader is), names and ports, pins, and the ordered plan that
//! `up.sh --dry-run` prints. Also: every documented sequence of `kubectl apply` steps for the
//! Karmada control plane is the one the scripts run.

use manifest_check::parse_yaml;
use repo_checks::{read, reference, repo, stdout_of};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// KEY=VALUE lines of a sourced shell file, without comments or quotes.
fn env_file(path: &str) -> BTreeMap<String, String> {
    read(path)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

fn kind_schema() -> Value {
    reference("kind/cluster-v1alpha4.json")
}

/// The Kind configurations, by cluster name from the file name.
fn kind_configs() -> BTreeMap<String, Value> {
    let mut configs = BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("local-dev/kind")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut documents = parse_yaml(&text, &name).unwrap();
        assert_eq!(documents.len(), 1, "{name}: one Cluster per file");
        configs.insert(name, documents.remove(0).value);
    }
    configs
}

/// Checks VALUE against kind's TYPE the way kind's strict loader would; each problem names
/// its path.
fn check_kind(
    schema: &Value,
    type_name: &str,
    value: &Value,
    path: &str,
    problems: &mut Vec<String>,
) {
    let fields = &schema["types"][type_name]["fields"];
    let Some(object) = value.as_object() else {
        problems.push(format!("{path}: expected a {type_name} mapping"));
        return;
    };
    for (key, field) in fields.as_object().unwrap() {
        if field["required"] == true && !object.contains_key(key) {
            problems.push(format!("{path}.{key}: required"));
        }
    }
    for (key, item) in object {
        let here = format!("{path}.{key}");
        let Some(field) = fields.get(key) else {
            problems.push(format!("{here}: unknown field (kind's loader is strict)"));
            continue;
        };
        check_field(schema, field, item, &here, problems);
    }
}

fn check_field(
    schema: &Value,
    field: &Value,
    value: &Value,
    path: &str,
    problems: &mut Vec<String>,
) {
    let kind = field["type"].as_str().unwrap();
    let ok = match kind {
        "string" => value.is_string(),
        "integer" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "boolean" => value.is_boolean(),
        "enum" => {
            let allowed = field["values"].as_array().unwrap();
            allowed.contains(value)
        }
        "map" => value.as_object().is_some_and(|m| {
            let want = field["values"].as_str().unwrap();
            m.values().all(|v| {
                if want == "boolean" {
                    v.is_boolean()
                } else {
                    v.is_string()
                }
            })
        }),
        "object" => {
            check_kind(
                schema,
                field["ref"].as_str().unwrap(),
                value,
                path,
                problems,
            );
            true
        }
        "list" => match value.as_array() {
            None => false,
            Some(items) => {
                let item_type = field["items"].as_str().unwrap();
                for (i, item) in items.iter().enumerate() {
                    let here = format!("{path}[{i}]");
                    match item_type {
                        "string" if !item.is_string() => {
                            problems.push(format!("{here}: expected a string"))
                        }
                        "string" => {}
                        _ => check_kind(schema, item_type, item, &here, problems),
                    }
                }
                true
            }
        },
        other => panic!("{path}: the schema names an unknown type {other}"),
    };
    if !ok {
        problems.push(format!("{path}: {value} is not a valid {kind}"));
    }
    if let Some(allowed) = field["enum"].as_array()
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
}

fn kind_problems(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check_kind(&kind_schema(), "Cluster", config, "Cluster", &mut problems);
    problems
}

#[test]
fn kind_configs_fit_kinds_own_schema() {
    let configs = kind_configs();
    let names: Vec<&str> = configs.keys().map(String::as_str).collect();
    assert_eq!(names, ["karmada-host", "prod-east", "prod-west", "staging"]);
    for (name, config) in &configs {
        assert_eq!(
            kind_problems(config),
            Vec::<String>::new(),
            "local-dev/kind/{name}.yaml"
        );
        assert_eq!(
            config["name"],
            name.as_str(),
            "{name}: the cluster is named after its file"
        );
    }
    // The same check refuses what kind's loader refuses.
    let mut broken = configs["staging"].clone();
    broken["nodes"][0]["extraPortMapings"] = serde_json::json!([]);
    broken["nodes"][0]["role"] = "master".into();
    broken["networking"] = serde_json::json!({"apiServerPort": "6443"});
    let problems = kind_problems(&broken);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("extraPortMapings: unknown field")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("role: \"master\" is not a valid enum")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("apiServerPort")),
        "{problems:?}"
    );
}

#[test]
fn cluster_names_and_host_ports_do_not_collide() {
    let clusters = env_file("local-dev/clusters.env");
    let mut names: Vec<String> = clusters["MEMBERS"]
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    names.push(clusters["KARMADA_HOST"].clone());
    names.sort();
    assert_eq!(names, kind_configs().keys().cloned().collect::<Vec<_>>());
    // The members are the clusters the Karmada policies name.
    let policies = read("karmada/propagation/cluster-scoped.yaml");
    for member in clusters["MEMBERS"].split_whitespace() {
        assert!(policies.contains(member), "no policy names {member}");
    }

    let mut ports: BTreeMap<i64, String> = BTreeMap::new();
    let mut claim = |port: i64, owner: String| {
        if let Some(previous) = ports.insert(port, owner.clone()) {
            panic!("host port {port} is claimed by both {previous} and {owner}");
        }
    };
    claim(
        clusters["REGISTRY_PORT"].parse().unwrap(),
        "the registry".into(),
    );
    for (name, config) in kind_configs() {
        for node in config["nodes"].as_array().unwrap() {
            for mapping in node["extraPortMappings"].as_array().into_iter().flatten() {
                assert_eq!(
                    mapping["listenAddress"], "127.0.0.1",
                    "{name}: loopback only"
                );
                claim(
                    mapping["hostPort"].as_i64().unwrap(),
                    format!("{name}:{}", mapping["containerPort"]),
                );
            }
        }
    }
    let karmada_port: i64 = clusters["KARMADA_APISERVER_PORT"].parse().unwrap();
    assert_eq!(
        ports.get(&karmada_port).map(String::as_str),
        Some("karmada-host:32443")
    );
    // Every member publishes its ingress (80) for its console.
    for member in clusters["MEMBERS"].split_whitespace() {
        assert!(
            ports.values().any(|owner| owner == &format!("{member}:80")),
            "{member} has no HTTP port"
        );
    }
}

#[test]
fn every_version_is_pinned_once() {
    let versions = env_file("k8s/platform/versions.env");
    for (key, value) in &versions {
        assert!(!value.contains("latest"), "{key}={value}");
        if key.ends_with("_IMAGE") {
            let (_, tag) = value.rsplit_once(':').unwrap_or_default();
            assert!(
                !tag.is_empty() && !value.ends_with(":latest"),
                "{key} has no tag: {value}"
            );
        }
    }
    // The node image is the one this kind release was built and tested with, by digest.
    let schema = kind_schema();
    let kind_release = schema["kindVersion"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(versions["KIND_VERSION"], kind_release);
    assert_eq!(
        versions["KIND_NODE_IMAGE"],
        schema["types"]["Node"]["fields"]["image"]["default"]
    );
    // The shim embeds the Spin that the project targets (containerd-shim-spin v0.24.0: Spin 3.6.3).
    assert!(versions["SHIM_NODE_INSTALLER_IMAGE"].ends_with(":v0.24.0"));
    // Versions live in versions.env only: the scripts and Kind configs name none themselves.
    for file in [
        "local-dev/up.sh",
        "local-dev/down.sh",
        "local-dev/status.sh",
        "local-dev/manifests/shim-installer.yaml",
    ] {
        let text = read(file);
        for pinned in versions.values() {
            assert!(
                !text.contains(pinned.as_str()),
                "{file} repeats {pinned}: use versions.env"
            );
        }
        assert!(!text.contains(":latest"), "{file} uses a mutable tag");
    }
}

/// The commands `up.sh --dry-run` prints, in order.
fn plan() -> Vec<String> {
    let state = std::env::temp_dir().join(format!(
        "automatizacion-local-clusters-{}",
        std::process::id()
    ));
    let out = stdout_of(
        Command::new(repo().join("local-dev/up.sh"))
            .arg("--dry-run")
            .env("LOCAL_CLUSTERS_DIR", &state),
    );
    assert!(!state.exists(), "a dry run creates nothing");
    out.lines()
        .filter_map(|l| l.strip_prefix("+ "))
        .map(str::to_owned)
        .collect()
}

/// What `up.sh` must do before what, and why: `first X` (or `last X`) is the first (or last)
/// command of the plan that contains X.
const ORDER: &str = "
    first registry:                        | first kind create cluster          | the registry before the clusters that pull from it
    last kind create cluster               | first hosts.toml                   | clusters before their registry configuration
    last k8s/platform/install.sh           | first karmadactl join              | the SpinKube CRDs on members before Karmada propagates SpinApps to them
    first karmadactl init                  | first karmadactl join              | Karmada before members join it
    last karmadactl join                   | first apply -k karmada             | members joined before the policies that name them
    first core.spinkube.dev_spinapps.yaml  | first apply -k karmada/workloads   | the SpinApp CRD before SpinApps
    first apply -k karmada                 | first apply -k karmada/workloads   | the interpreter and policies before the workloads
    first --for=condition=Ready clusters   | first apply -k karmada             | members Ready before anything is scheduled on them
    first statefulset/automatizacion-db    | first make-secrets.sh              | the ledger database before the Secrets that name it
    first kind-database-override.yaml      | first apply -k karmada/workloads   | the database override before the ConfigMaps it overrides
";

/// Where in PLAN a step of [`ORDER`] is.
fn step(plan: &[String], step: &str) -> usize {
    match step.split_once(' ') {
        Some(("first", needle)) => first(plan, needle),
        Some(("last", needle)) => last(plan, needle),
        _ => panic!("a step is `first X` or `last X`: {step}"),
    }
}

/// Where in PLAN the first (or last) command containing NEEDLE is.
fn first(plan: &[String], needle: &str) -> usize {
    plan.iter()
        .position(|c| c.contains(needle))
        .unwrap_or_else(|| panic!("the plan never runs {needle}"))
}
fn last(plan: &[String], needle: &str) -> usize {
    plan.iter()
        .rposition(|c| c.contains(needle))
        .unwrap_or_else(|| panic!("the plan never runs {needle}"))
}

#[test]
fn the_dry_run_plan_builds_things_before_what_needs_them() {
    let plan = plan();
    let before = |a: usize, b: usize, why: &str| assert!(a < b, "{why}:\n{}", plan.join("\n"));
    for member in ["staging", "prod-east", "prod-west"] {
        let spinkube = plan
            .iter()
            .position(|c| {
                c.contains("k8s/platform/install.sh")
                    && c.contains(&format!("kubeconfig/{member} "))
            })
            .unwrap_or_else(|| panic!("SpinKube is never installed on {member}"));
        before(
            first(&plan, &format!("job/install-shim-{member}-control-plane")),
            spinkube,
            &format!("the shim on {member} before SpinKube"),
        );
    }
    for line in ORDER.lines().filter(|l| !l.trim().is_empty()) {
        let [earlier, later, why] = [0, 1, 2].map(|i| line.split(" | ").nth(i).unwrap().trim());
        before(step(&plan, earlier), step(&plan, later), why);
    }
    let on_karmada: Vec<&str> = plan
        .iter()
        .filter(|c| c.contains("karmada-apiserver.config"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        apply_steps(&on_karmada.join("\n")),
        readme_steps(),
        "up.sh applies what karmada/README.md documents"
    );
    for cluster in kind_configs().keys() {
        let config = format!("--config local-dev/kind/{cluster}.yaml");
        assert!(
            plan.iter().any(|c| c.contains(&config)),
            "no cluster is created from {config}"
        );
    }
}

#[test]
fn every_file_the_scripts_use_exists() {
    let plan = plan();
    let mut named = BTreeSet::new();
    for command in &plan {
        for word in command.split([' ', '\'', '"', '|']) {
            let in_repo = ["local-dev/", "k8s/", "karmada/", "scripts/"]
                .iter()
                .any(|p| word.starts_with(p));
            if in_repo || word == "karmada" {
                named.insert(word.to_owned());
            }
        }
    }
    assert!(named.len() >= 10, "{named:?}");
    for path in named {
        assert!(
            repo().join(&path).exists(),
            "the plan uses {path}, which does not exist"
        );
    }
    for script in ["control-plane.sh", "up.sh", "down.sh", "status.sh"] {
        let path = repo().join("local-dev").join(script);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert!(mode & 0o111 != 0, "{script} is not executable");
    }
}

/// The `kubectl … apply` steps of a shell text, as comparable words: `apply -k karmada`,
/// `NAMESPACE=automatizacion-staging make-secrets`, …
fn apply_steps(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if let Some((env, _)) = line.split_once("scripts/make-secrets.sh") {
                return Some(format!("{}make-secrets", env.trim_start()));
            }
            let (_, rest) = line.split_once("apply -k ")?;
            Some(format!("apply -k {}", rest.split_whitespace().next()?))
        })
        .collect()
}

fn readme_steps() -> Vec<String> {
    let readme = read("karmada/README.md");
    let section = readme.split("## Applying it").nth(1).unwrap();
    apply_steps(section.split("```").nth(1).unwrap())
}

#[test]
fn the_control_plane_applies_exactly_what_the_karmada_readme_documents() {
    let documented = readme_steps();
    assert_eq!(
        documented,
        [
            "apply -k karmada",
            "apply -k karmada/workloads/staging",
            "NAMESPACE=automatizacion-staging make-secrets",
            "apply -k karmada/workloads/production",
            "make-secrets",
        ]
    );
    let script = read("local-dev/control-plane.sh");
    let body = script.split("apply_project() {").nth(1).unwrap();
    let body = body.split("\n}").next().unwrap();
    assert_eq!(apply_steps(body), documented, "local-dev/control-plane.sh");
}

/// What `k8s/platform/install.sh ARGS --dry-run` would run.
fn install(args: &[&str]) -> String {
    stdout_of(
        Command::new(repo().join("k8s/platform/install.sh"))
            .args(args)
            .arg("--dry-run"),
    )
}

/// The shim reaches the nodes as SpinKube documents it: runtime-class-manager (its chart at the
/// pinned version) before the Shim, then the label the Shim's nodeSelector asks for, then a wait
/// on the label the manager sets to the Shim's name; nodes that carry the shim already (Kind
/// after up.sh's node-installer) get the RuntimeClass for it instead. The executor goes only
/// where a namespace is named; a name that is no namespace is refused in one line.
#[test]
fn the_platform_install_puts_the_shim_on_the_nodes_it_is_pointed_at() {
    let versions = env_file("k8s/platform/versions.env");
    let shim = &parse_yaml(&read("k8s/platform/spin/shim.yaml"), "shim.yaml").unwrap()[0];
    let selector = shim.value["spec"]["nodeSelector"].as_object().unwrap();
    let (key, value) = selector.iter().next().unwrap();
    let anywhere = install(&[]);
    let steps = [
        format!(
            "--version {} --wait oci://ghcr.io/spinframework/charts/runtime-class-manager",
            versions["RUNTIME_CLASS_MANAGER_VERSION"]
        ),
        "kubectl apply -f spin/shim.yaml".to_owned(),
        format!(
            "kubectl label node --all --overwrite {key}={}",
            value.as_str().unwrap()
        ),
        format!(
            "kubectl wait node --all --for=jsonpath={{.metadata.labels.{}}}=provisioned",
            shim.name()
        ),
        "helm upgrade --install spin-operator".to_owned(),
    ];
    let at: Vec<usize> = steps
        .iter()
        .map(|step| {
            anywhere
                .find(step.as_str())
                .unwrap_or_else(|| panic!("{step}: {anywhere}"))
        })
        .collect();
    assert!(at.is_sorted(), "out of order: {anywhere}");
    assert!(!anywhere.contains("runtime-class.yaml"), "{anywhere}");
    assert!(!anywhere.contains("spin/executor"), "{anywhere}");
    for preinstalled in [install(&["--kind"]), install(&["--shim-preinstalled"])] {
        assert!(preinstalled.contains("kubectl apply -f spin/runtime-class.yaml"));
        assert!(
            !preinstalled.contains("runtime-class-manager"),
            "{preinstalled}"
        );
        assert!(!preinstalled.contains("shim.yaml"), "{preinstalled}");
    }
    let pool = install(&["--shim-nodes=pool=wasm"]);
    assert!(pool.contains("kubectl label node --selector=pool=wasm --overwrite"));
    let alone = install(&["--app-namespace=automatizacion", "--app-namespace=other"]);
    for namespace in ["automatizacion", "other"] {
        let create = format!("kubectl create namespace {namespace} --dry-run=client");
        let executor = format!("kubectl apply --namespace {namespace} -k spin/executor");
        assert!(
            alone.contains(&create) && alone.contains(&executor),
            "{alone}"
        );
    }
    let refused = Command::new(repo().join("k8s/platform/install.sh"))
        .args(["--dry-run", "--app-namespace=a b"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(why.lines().count(), 1, "{why}");
    assert!(why.contains("not a namespace name"), "{why}");
}

/// `k8s/platform/install.sh`'s commands: ingress-nginx's `cloud` provider for a cluster it is
/// pointed at, its `kind` provider (host ports on a Kind node) only when asked, as only `up.sh`
/// asks.
#[test]
fn the_platform_install_uses_the_kind_ingress_only_on_kind() {
    let anywhere = install(&[]);
    assert!(
        anywhere.contains("/deploy/static/provider/cloud/deploy.yaml"),
        "{anywhere}"
    );
    assert!(!anywhere.contains("provider/kind"), "{anywhere}");
    // The self-signed issuer is Kind's alone; elsewhere the platform brings its own.
    let issuer = "kubectl apply -f cluster-issuer-selfsigned.yaml";
    assert!(!anywhere.contains(issuer), "{anywhere}");
    let kind = install(&["--kind"]);
    assert!(
        kind.contains("/deploy/static/provider/kind/deploy.yaml"),
        "{kind}"
    );
    assert!(kind.contains(issuer), "{kind}");
    let plan = plan();
    for member in ["staging", "prod-east", "prod-west"] {
        let spinkube = plan
            .iter()
            .find(|c| {
                c.contains("k8s/platform/install.sh")
                    && c.contains(&format!("kubeconfig/{member} "))
            })
            .unwrap_or_else(|| panic!("SpinKube is never installed on {member}"));
        assert!(spinkube.ends_with("install.sh --kind"), "{spinkube}");
    }
    // The Gateway API edge instead of ingress-nginx: Envoy Gateway, the GatewayClass that
    // k8s/components/gateway-api names, and cert-manager's Gateway API support.
    let gateway = install(&["--gateway-api"]);
    assert!(!gateway.contains("ingress-nginx"), "{gateway}");
    for step in [
        "oci://docker.io/envoyproxy/gateway-helm",
        "kubectl apply -f gateway-class.yaml",
        "--enable-gateway-api",
    ] {
        assert!(gateway.contains(step), "{step}: {gateway}");
    }
    let refused = Command::new(repo().join("k8s/platform/install.sh"))
        .arg("--kinds")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&refused.stderr).lines().count(), 1);
}
