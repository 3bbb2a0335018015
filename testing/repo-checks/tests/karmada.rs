//! Karmada: the SpinApp interpreter's Lua run for real (on Lua 5.1 in Karmada's sandbox, and
//! through `karmadactl interpret`), the policies against their CRDs and against the objects
//! they select, and the production split of 6 replicas.

mod interpret;
mod lua;

use lua::{DISABLED, Sandbox, normalize};
use manifest_check::{Object, parse_yaml, validate};
use repo_checks::{rendered, repo, schemas};
use serde_json::{Value, json};

fn karmada_objects() -> Vec<Object> {
    rendered("karmada")
}

fn workloads(environment: &str) -> Vec<Object> {
    rendered(&format!("karmada/workloads/{environment}"))
}

fn interpreter() -> Value {
    let objects = karmada_objects();
    objects
        .into_iter()
        .find(|o| o.kind() == "ResourceInterpreterCustomization")
        .unwrap()
        .value
}

/// The sandbox for one customization, as Karmada loads it.
fn sandbox(customization: &str) -> Sandbox {
    let script = interpreter()["spec"]["customizations"][customization]["luaScript"]
        .as_str()
        .unwrap()
        .to_owned();
    Sandbox::new(&script)
}

fn function_of(operation: &str) -> (&'static str, &'static str) {
    match operation {
        "GetReplicas" => ("replicaResource", "GetReplicas"),
        "ReviseReplica" => ("replicaRevision", "ReviseReplica"),
        "ReflectStatus" => ("statusReflection", "ReflectStatus"),
        "AggregateStatus" => ("statusAggregation", "AggregateStatus"),
        "InterpretHealth" => ("healthInterpretation", "InterpretHealth"),
        "GetDependencies" => ("dependencyInterpretation", "GetDependencies"),
        other => panic!("unknown operation {other}"),
    }
}

/// Runs one case the way Karmada calls the operation.
fn run(case: &Value) -> Value {
    let operation = case["operation"].as_str().unwrap();
    let (customization, function) = function_of(operation);
    let sandbox = sandbox(customization);
    let args = match operation {
        "GetReplicas" | "GetDependencies" => vec![case["desiredObj"].clone()],
        "ReviseReplica" => vec![case["desiredObj"].clone(), case["desiredReplicas"].clone()],
        "ReflectStatus" | "InterpretHealth" => vec![case["observedObj"].clone()],
        "AggregateStatus" => vec![case["desiredObj"].clone(), case["statusItems"].clone()],
        _ => unreachable!(),
    };
    let results = sandbox
        .call(function, &args)
        .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
    match operation {
        "GetReplicas" => json!({"replicas": results[0], "requirement": results[1]}),
        _ => results.into_iter().next().unwrap_or(Value::Null),
    }
}

/// The interpreter's cases, each with its hand-written output
/// (`karmada/interpreter/testdata/cases.yaml`).
fn cases() -> Vec<Value> {
    let path = repo().join("karmada/interpreter/testdata/cases.yaml");
    let data =
        &parse_yaml(&std::fs::read_to_string(&path).unwrap(), "cases.yaml").unwrap()[0].value;
    data["cases"].as_array().unwrap().clone()
}

#[test]
fn every_interpreter_case_gives_its_hand_written_output() {
    let cases = cases();
    let mut operations = std::collections::BTreeSet::new();
    for case in &cases {
        operations.insert(case["operation"].as_str().unwrap().to_owned());
        let got = normalize(run(case));
        let expected = normalize(case["expected"].clone());
        assert_eq!(got, expected, "case `{}`", case["name"].as_str().unwrap());
    }
    assert_eq!(
        operations.len(),
        6,
        "every operation has cases: {operations:?}"
    );
}

#[test]
fn the_sandbox_disables_what_karmada_disables() {
    let sandbox = Sandbox::new("");
    for name in DISABLED {
        let call = format!("{name}()");
        assert!(
            sandbox.exec(&call).is_err(),
            "{name} should not be callable"
        );
    }
    assert!(sandbox.exec("return os.time() + #os.date('%Y')").is_ok());
    assert!(sandbox.exec("os.execute('true')").is_err());
    assert!(sandbox.exec("io.open('/etc/passwd')").is_err());
    // A runaway script is stopped by the sandbox's time limit, as Karmada stops it.
    let runaway = Sandbox::new("function Spin() while true do end end");
    let err = runaway.call("Spin", &[]).unwrap_err().to_string();
    assert!(err.contains("one-second limit"), "{err}");
}

#[test]
fn the_scripts_use_no_disabled_function() {
    let spec = interpreter()["spec"]["customizations"].clone();
    for (name, customization) in spec.as_object().unwrap() {
        let script = customization["luaScript"].as_str().unwrap();
        for disabled in DISABLED
            .iter()
            .chain(&["require", "io.", "os.execute", "debug."])
        {
            let called = format!("{disabled}(");
            assert!(
                !script.contains(&called) && !script.contains(&format!("{disabled} (")),
                "{name} uses {disabled}"
            );
        }
    }
}

#[test]
fn karmada_objects_fit_their_schemas_and_the_interpreter_targets_spinapp() {
    let schemas = schemas();
    let mut objects = karmada_objects();
    for environment in ["staging", "production"] {
        objects.extend(workloads(environment));
    }
    let violations = validate(&schemas, &objects);
    assert!(
        violations.is_empty(),
        "{}",
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let target = &interpreter()["spec"]["target"];
    assert!(
        schemas
            .get(
                target["apiVersion"].as_str().unwrap(),
                target["kind"].as_str().unwrap()
            )
            .is_some(),
        "{target}"
    );
    assert_eq!(
        target,
        &json!({"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp"})
    );
}

fn selects(selector: &Value, policy_namespace: Option<&str>, object: &Object) -> bool {
    selector["apiVersion"] == object.api_version()
        && selector["kind"] == object.kind()
        && selector["name"].as_str().is_none_or(|n| n == object.name())
        && policy_namespace.is_none_or(|ns| ns == object.namespace())
}

/// The Secrets `scripts/make-secrets.sh` makes for NAMESPACE, which the control plane holds
/// beside its workload (karmada/README.md).
fn secrets(namespace: &str) -> Vec<Object> {
    let out = std::process::Command::new(repo().join("scripts/make-secrets.sh"))
        .env("NAMESPACE", namespace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_yaml(&String::from_utf8(out.stdout).unwrap(), "make-secrets.sh").unwrap()
}

/// Everything the control plane holds: both workloads with their Secrets, and the namespaces
/// `karmada/` declares.
fn all_workloads() -> Vec<Object> {
    let mut objects = workloads("staging");
    objects.extend(workloads("production"));
    objects.extend(secrets("automatizacion-staging"));
    objects.extend(secrets("automatizacion"));
    objects.extend(
        karmada_objects()
            .into_iter()
            .filter(|o| o.kind() == "Namespace"),
    );
    objects
}

#[test]
fn every_policy_selects_objects_that_exist() {
    let objects = all_workloads();
    for policy in karmada_objects()
        .iter()
        .filter(|o| o.kind().ends_with("Policy"))
    {
        let namespace = (!policy.kind().starts_with("Cluster")).then(|| policy.namespace());
        for selector in policy.value["spec"]["resourceSelectors"]
            .as_array()
            .unwrap()
        {
            let matched = objects
                .iter()
                .filter(|o| selects(selector, namespace, o))
                .count();
            assert!(
                matched > 0,
                "{} selects nothing with {selector}",
                policy.id()
            );
        }
    }
}

/// Resolves a JSON pointer (`/spec/variables/1`) in an object.
fn at<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    value.pointer(pointer)
}

#[test]
fn every_override_path_exists_where_it_applies() {
    let objects = all_workloads();
    let mut checked = 0;
    for policy in karmada_objects()
        .iter()
        .filter(|o| o.kind() == "OverridePolicy")
    {
        let targets: Vec<&Object> = policy.value["spec"]["resourceSelectors"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                objects
                    .iter()
                    .filter(move |o| selects(s, Some(policy.namespace()), o))
            })
            .collect();
        for rule in policy.value["spec"]["overrideRules"].as_array().unwrap() {
            let overriders = &rule["overriders"];
            for op in overriders["plaintext"].as_array().into_iter().flatten() {
                let path = op["path"].as_str().unwrap();
                for target in &targets {
                    let existing = at(&target.value, path).unwrap_or_else(|| {
                        panic!("{}: {path} missing in {}", policy.id(), target.id())
                    });
                    // Replacing a variable must keep its name: the index must point at it.
                    if path.starts_with("/spec/variables/") {
                        assert_eq!(
                            existing["name"],
                            op["value"]["name"],
                            "{}: {path} in {}",
                            policy.id(),
                            target.id()
                        );
                    }
                    checked += 1;
                }
            }
            for op in overriders["imageOverrider"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let path = op["predicate"]["path"].as_str().unwrap();
                assert_eq!(path, "/spec/image");
                for target in &targets {
                    assert!(
                        at(&target.value, path).is_some_and(Value::is_string),
                        "{}: {path} in {}",
                        policy.id(),
                        target.id()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "too few overrides checked: {checked}");
}

/// Karmada's static-weight division: each cluster gets floor(total × weight ÷ sum), and the
/// remainder goes one by one to the heaviest clusters.
fn divide(total: i64, weights: &[(String, i64)]) -> Vec<(String, i64)> {
    let sum: i64 = weights.iter().map(|(_, w)| w).sum();
    let mut shares: Vec<(String, i64)> = weights
        .iter()
        .map(|(c, w)| (c.clone(), total * w / sum))
        .collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| -weights[i].1);
    let mut left = total - shares.iter().map(|(_, s)| s).sum::<i64>();
    for i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        shares[*i].1 += 1;
        left -= 1;
    }
    shares
}

#[test]
fn six_production_replicas_split_by_weight_and_aggregate_back() {
    let objects = karmada_objects();
    let policy = objects
        .iter()
        .find(|o| o.name() == "automatizacion-production")
        .unwrap();
    let scheduling = &policy.value["spec"]["placement"]["replicaScheduling"];
    assert_eq!(scheduling["replicaSchedulingType"], "Divided");
    let weights: Vec<(String, i64)> = scheduling["weightPreference"]["staticWeightList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["targetCluster"]["clusterNames"][0]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                w["weight"].as_i64().unwrap(),
            )
        })
        .collect();
    let backend = all_workloads()
        .into_iter()
        .find(|o| {
            o.kind() == "SpinApp"
                && o.namespace() == "automatizacion"
                && o.name() == "automatizacion-backend"
        })
        .unwrap();
    let (total, _) = {
        let replicas = sandbox("replicaResource")
            .call("GetReplicas", std::slice::from_ref(&backend.value))
            .unwrap();
        (normalize(replicas[0].clone()).as_i64().unwrap(), replicas)
    };
    assert_eq!(total, 6);
    let shares = divide(total, &weights);
    assert_eq!(
        shares,
        [("prod-east".to_owned(), 4), ("prod-west".to_owned(), 2)]
    );

    let revise = sandbox("replicaRevision");
    let members: Vec<(String, Value)> = shares
        .iter()
        .map(|(cluster, share)| {
            let revised = revise
                .call("ReviseReplica", &[backend.value.clone(), json!(share)])
                .unwrap()
                .remove(0);
            assert_eq!(normalize(revised["spec"]["replicas"].clone()), json!(share));
            (cluster.clone(), revised)
        })
        .collect();

    let observed = |member: &Value, ready: i64, available: &str| {
        let mut member = member.clone();
        member["status"] = json!({"readyReplicas": ready, "conditions": [
            {"type": "Available", "status": available, "reason": "r", "message": "m", "lastTransitionTime": "t"}]});
        member
    };
    let health = sandbox("healthInterpretation");
    let reflect = sandbox("statusReflection");
    let aggregate = |statuses: Vec<(String, Value)>| {
        let items: Vec<Value> = statuses
            .into_iter()
            .map(|(cluster, obj)| json!({"clusterName": cluster, "status": reflect.call("ReflectStatus", &[obj]).unwrap()[0]}))
            .collect();
        sandbox("statusAggregation")
            .call(
                "AggregateStatus",
                &[backend.value.clone(), Value::Array(items)],
            )
            .unwrap()
            .remove(0)
    };

    let all_up: Vec<(String, Value)> = members
        .iter()
        .map(|(c, m)| {
            (
                c.clone(),
                observed(m, m["spec"]["replicas"].as_i64().unwrap_or(0), "True"),
            )
        })
        .collect();
    for (_, obj) in &all_up {
        assert_eq!(
            health
                .call("InterpretHealth", std::slice::from_ref(obj))
                .unwrap()[0],
            json!(true)
        );
    }
    assert_eq!(
        normalize(aggregate(all_up)["status"]["readyReplicas"].clone()),
        json!(6)
    );

    let west_down: Vec<(String, Value)> = members
        .iter()
        .map(|(c, m)| {
            let share = normalize(m["spec"]["replicas"].clone()).as_i64().unwrap();
            if c == "prod-west" {
                (c.clone(), observed(m, 0, "False"))
            } else {
                (c.clone(), observed(m, share, "True"))
            }
        })
        .collect();
    let verdicts: Vec<Value> = west_down
        .iter()
        .map(|(_, obj)| {
            health
                .call("InterpretHealth", std::slice::from_ref(obj))
                .unwrap()[0]
                .clone()
        })
        .collect();
    assert_eq!(verdicts, [json!(true), json!(false)]);
    let merged = aggregate(west_down);
    assert_eq!(
        normalize(merged["status"]["readyReplicas"].clone()),
        json!(4)
    );
    let messages: Vec<&str> = merged["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["prod-east: m", "prod-west: m"]);
}

#[test]
fn karmada_declares_every_workload_namespace_and_keeps_it_off_other_members() {
    let namespaces: Vec<Object> = karmada_objects()
        .into_iter()
        .filter(|o| o.kind() == "Namespace")
        .collect();
    for environment in ["staging", "production"] {
        for object in workloads(environment) {
            assert_ne!(
                object.kind(),
                "Namespace",
                "{environment} declares {}",
                object.id()
            );
            let ns = object.namespace();
            assert!(
                ns.is_empty() || namespaces.iter().any(|n| n.name() == ns),
                "{} lives in {ns}, which karmada/ does not declare",
                object.id()
            );
        }
    }
    // Without the label Karmada's namespace controller copies each namespace to every member,
    // whatever the ClusterPropagationPolicies say.
    for namespace in &namespaces {
        let label =
            &namespace.value["metadata"]["labels"]["namespace.karmada.io/skip-auto-propagation"];
        assert_eq!(label, "true", "{}", namespace.id());
    }
}
