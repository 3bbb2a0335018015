//! `make test` runs the test binaries in two lanes at once (`scripts/test-lanes.sh`): the
//! pipeline's (`PIPELINE`) on the suite's control plane, and beside it `FIRST`, the playground,
//! then everything else on a control plane of that lane's own. A binary that used the suite's
//! control plane and ran as `FIRST` would run beside the pipeline on the same clusters; one that
//! builds without holding the right to (`OneBuildAtATime`) would build beside a build; one that
//! starts real nodes without holding its control plane slot's one set (`OneSetOfNodes`, which
//! `spinkube_nodes::Nodes` holds) would start them beside another set. Each would fail by
//! timing. Each such binary is found here by what its sources name.

use repo_checks::{files_under, repo};
use std::collections::BTreeSet;
use std::path::Path;

/// What a test's sources name when the test uses a control plane of the suite's.
const SHARES: [&str; 5] = [
    "control_plane",
    "kubeconfigs",
    "CONTROL_PLANE_DIR",
    "spinkube_standin",
    "control-plane.sh",
];

/// What a test's sources name when the test builds; and what holds the right to.
const BUILDS: [&str; 4] = [
    "install-relctl",
    "seed_cargo_cache",
    "cargo build",
    "spin build",
];
const HOLDS_THE_BUILD: [&str; 1] = ["OneBuildAtATime::wait"];

/// What a test's sources name when the test starts real nodes; and what holds the one set.
const STARTS_NODES: [&str; 3] = ["nodes.sh", "playground.sh", "spinkube_nodes"];
const HOLDS_THE_NODES: [&str; 4] = [
    "OneSetOfNodes::wait",
    "Nodes::up",
    "Nodes::shared",
    "Nodes::started_elsewhere",
];

/// The binaries scripts/test-lanes.sh places, PACKAGE_DIR/TARGET each: PIPELINE, FIRST, LAST
/// and NEXT, in that order.
fn placed() -> Vec<String> {
    let script = std::fs::read_to_string(repo().join("scripts/test-lanes.sh")).unwrap();
    let value = |name: &str| -> String {
        let line = script.lines().find(|l| l.starts_with(&format!("{name}=")));
        line.expect("scripts/test-lanes.sh sets PIPELINE, FIRST and LAST")[name.len() + 1..]
            .to_owned()
    };
    let next = script
        .split("\nNEXT=(\n")
        .nth(1)
        .and_then(|rest| rest.split("\n)").next())
        .expect("scripts/test-lanes.sh has NEXT=( … )");
    let mut placed = vec![value("PIPELINE"), value("FIRST"), value("LAST")];
    placed.extend(next.split_whitespace().map(str::to_owned));
    placed
}

/// The text of the Rust sources at PATH: a file, or every one under a folder.
fn sources(path: &Path) -> String {
    let files = if path.is_dir() {
        files_under(path)
    } else {
        vec![path.to_owned()]
    };
    let rust = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"));
    rust.map(|f| std::fs::read_to_string(f).unwrap()).collect()
}

/// Every integration test binary: PACKAGE_DIR/TARGET and its sources' text.
fn test_binaries() -> Vec<(String, String)> {
    let mut binaries = Vec::new();
    for parent in ["crates", "components", "tools", "testing", "bench"] {
        for package in std::fs::read_dir(repo().join(parent)).unwrap().flatten() {
            let Ok(tests) = std::fs::read_dir(package.path().join("tests")) else {
                continue;
            };
            for test in tests.flatten() {
                let path = test.path();
                let target = match path.file_stem() {
                    Some(stem) if path.is_dir() || path.extension().is_some_and(|e| e == "rs") => {
                        stem.to_string_lossy().into_owned()
                    }
                    _ => continue,
                };
                if path.is_dir() && !path.join("main.rs").is_file() {
                    continue; // a folder of fixtures or shared modules, not a binary
                }
                let text = sources(&path);
                let name = format!(
                    "{parent}/{}/{target}",
                    package.file_name().to_string_lossy()
                );
                binaries.push((name, text));
            }
        }
    }
    binaries.sort();
    binaries
}

/// The BINARIES, other than this one (which names the markers to look for them), whose sources
/// name one of MARKERS and none of UNLESS: each with the markers it names.
fn naming(
    binaries: &[(String, String)],
    markers: &[&str],
    unless: &[&str],
) -> Vec<(String, Vec<String>)> {
    let named = |text: &str, among: &[&str]| -> Vec<String> {
        let found = among.iter().filter(|m| text.contains(*m));
        found.map(|m| (*m).to_owned()).collect()
    };
    binaries
        .iter()
        .filter(|(name, _)| name != "testing/repo-checks/test_lanes")
        .filter(|(_, text)| named(text, unless).is_empty())
        .map(|(name, text)| (name.clone(), named(text, markers)))
        .filter(|(_, found)| !found.is_empty())
        .collect()
}

#[test]
fn the_test_beside_the_pipeline_on_its_control_plane_uses_none() {
    let placed = placed();
    let binaries = test_binaries();
    let names: BTreeSet<&String> = binaries.iter().map(|(name, _)| name).collect();
    for name in &placed {
        assert!(
            names.contains(name),
            "scripts/test-lanes.sh names no test binary: {name}"
        );
    }
    let using = naming(&binaries, &SHARES, &[]);
    let uses = |placed: &String| -> Vec<_> { using.iter().filter(|(n, _)| n == placed).collect() };
    let first_uses = uses(&placed[1]);
    assert!(
        first_uses.is_empty(),
        "FIRST runs beside the pipeline, on its control plane: {first_uses:?}"
    );
    let last_uses = uses(&placed[2]);
    assert!(
        last_uses.is_empty(),
        "LAST runs in the pipeline's lane, as a suite with no control plane: {last_uses:?}"
    );
}

#[test]
fn every_test_that_starts_nodes_holds_the_one_set() {
    let unheld = naming(&test_binaries(), &STARTS_NODES, &HOLDS_THE_NODES);
    assert!(
        unheld.is_empty(),
        "start nodes through spinkube_nodes::Nodes, or hold host_harness::OneSetOfNodes: {unheld:?}"
    );
}

#[test]
fn every_test_that_builds_holds_the_right_to() {
    let unheld = naming(&test_binaries(), &BUILDS, &HOLDS_THE_BUILD);
    assert!(
        unheld.is_empty(),
        "hold host_harness::OneBuildAtATime while building: {unheld:?}"
    );
}

/// The pipeline's test that runs in the other lane (`ON_NODES`), by its module path: a filter
/// that matched nothing would run no test there and skip it in the pipeline's lane, silently.
#[test]
fn the_pipeline_test_run_in_the_other_lane_exists() {
    let script = std::fs::read_to_string(repo().join("scripts/test-lanes.sh")).unwrap();
    let line = script.lines().find(|l| l.starts_with("ON_NODES="));
    let name = &line.expect("scripts/test-lanes.sh sets ON_NODES")["ON_NODES=".len()..];
    let (module, test) = name
        .split_once("::")
        .expect("ON_NODES is MODULE::TEST, one module deep");
    let pipeline = repo().join(format!("tools/relctl/tests/pipeline/{module}.rs"));
    let source = std::fs::read_to_string(&pipeline)
        .unwrap_or_else(|e| panic!("ON_NODES names module {module}: {e}"));
    assert!(
        source.contains(&format!("#[test]\nfn {test}()")),
        "{} has no #[test] fn {test}()",
        pipeline.display()
    );
}
