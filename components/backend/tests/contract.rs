//! The OpenAPI document is the contract: Schemathesis (a property-based API tester, installed by
//! `make test` into `target/contract-venv`) reads `/api/openapi.json` from the running backend
//! on spin-host and drives every operation with generated requests, valid and invalid, then
//! walks the document's links from a new release to its approval decision. It fails on any 5xx,
//! any status the document does not list, any answer that does not match its schema, and any
//! wrong content type. The token holds every role, as the tester that found the gaps used.
//!
//! One worker and a fixed seed make a run repeatable: with two workers the order in which their
//! requests reached the shared server changed from run to run, and since the server's answers
//! steer what is generated next, so did the number of requests (991 to 1,226). Even so, nothing
//! here counts requests beyond what the document alone decides: the coverage phase derives its
//! cases from the schema, so every operation gets at least [`MIN_PER_OPERATION`] of them.

use host_harness::{HostBuilder, Runtime};
use std::collections::BTreeMap;
use std::process::Command;

/// The checks that make a generated request fail the test.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

/// The coverage phase alone gives each operation at least nine cases (its method cases and one
/// per schema boundary), decided by the document, not by chance.
const MIN_PER_OPERATION: usize = 5;

/// Requests made by the document's rules that the server may refuse (400, 422): a few are
/// expected, where a rule the document cannot state (an artifact pinning another digest) refuses
/// them. Seed runs pass 98–99.8%.
const MIN_ACCEPTED_PERCENT: f64 = 90.0;

/// One request the tester sent and the status it got back.
struct Exchange {
    operation: String,
    /// `coverage`, `fuzzing` or `stateful`.
    phase: String,
    /// The operation's path pattern, also for requests of the stateful phase.
    path: String,
    /// `positive` for requests the document allows, `negative` for deliberately invalid ones.
    mode: String,
    status: u16,
    body: String,
}

/// The requests in Schemathesis's event stream (its `ndjson` report).
fn exchanges(events: &str) -> Vec<Exchange> {
    let mut found = Vec::new();
    for line in events.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let recorder = &event["ScenarioFinished"]["recorder"];
        let Some(interactions) = recorder["interactions"].as_object() else {
            continue;
        };
        for (case, interaction) in interactions {
            let value = &recorder["cases"][case]["value"];
            let content = interaction["response"]["content"]["$base64"]
                .as_str()
                .unwrap_or_default();
            found.push(Exchange {
                operation: recorder["label"].as_str().unwrap_or_default().to_owned(),
                phase: value["meta"]["phase"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                path: value["path"].as_str().unwrap_or_default().to_owned(),
                mode: value["meta"]["generation"]["mode"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                status: interaction["response"]["status_code"].as_u64().unwrap_or(0) as u16,
                body: String::from_utf8_lossy(&decode_base64(content)).into_owned(),
            });
        }
    }
    found
}

fn decode_base64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_default()
}

#[test]
fn every_operation_keeps_the_documented_contract() {
    let repo = host_harness::repo();
    let st = repo.join("target/contract-venv/bin/st");
    assert!(
        st.exists(),
        "{} is missing: make test installs it (scripts/python-venv.sh)",
        st.display()
    );
    let host = HostBuilder::on(Runtime::SpinHost, "contract").start();
    let token = host_harness::token("contract", &["deployer", "approver", "viewer", "admin"]);
    let reports = host_harness::scratch_dir("contract-report");
    let events = reports.join("events.ndjson");
    let seed = std::env::var("CONTRACT_SEED").unwrap_or_else(|_| "20261201".into());
    let run = Command::new(&st)
        .current_dir(&reports)
        .args(["run", &format!("{}/api/openapi.json", host.base)])
        .args(["--checks", CHECKS, "--max-examples", "60", "--seed", &seed])
        // Nothing carried over from an earlier run: what one run finds, it finds by itself.
        .args(["--generation-database", "none"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--report", "ndjson", "--report-ndjson-path"])
        .arg(&events)
        // One worker: the same seed then sends the same requests in the same order.
        .args(["--no-color", "--workers", "1"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "Schemathesis (seed {seed}) found a break of the contract:\n{printed}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let exchanges = exchanges(&std::fs::read_to_string(&events).unwrap());
    let mut by_operation: BTreeMap<&str, BTreeMap<u16, usize>> = BTreeMap::new();
    for exchange in &exchanges {
        *by_operation
            .entry(&exchange.operation)
            .or_default()
            .entry(exchange.status)
            .or_default() += 1;
    }
    eprintln!("statuses per operation (seed {seed}):");
    for (operation, statuses) in &by_operation {
        eprintln!("  {operation}: {statuses:?}");
    }
    // Every operation the route table has was exercised (the document's own route is how
    // the tester read it), each with every case the document alone calls for.
    for route in backend::route_table() {
        let label = format!("{} {}", route.method, route.pattern);
        if route.pattern == "/api/openapi.json" {
            continue;
        }
        let tried: usize = by_operation
            .get(label.as_str())
            .map_or(0, |statuses| statuses.values().sum());
        assert!(
            tried >= MIN_PER_OPERATION,
            "{label} ran {tried} times, fewer than the document's own {MIN_PER_OPERATION} cases"
        );
    }
    // Requests made by the document's rules mostly pass validation (400 and 422 refuse).
    let positive: Vec<&Exchange> = exchanges.iter().filter(|e| e.mode == "positive").collect();
    let refused = positive
        .iter()
        .filter(|e| matches!(e.status, 400 | 422))
        .count();
    let accepted = 100.0 * (positive.len() - refused) as f64 / positive.len().max(1) as f64;
    eprintln!(
        "{} requests; {} made by the document's rules, {accepted:.1}% of them passed validation",
        exchanges.len(),
        positive.len()
    );
    assert!(
        accepted >= MIN_ACCEPTED_PERCENT,
        "only {accepted:.1}% passed validation"
    );
    // The stateful phase followed the links from a new release to its pending approval's
    // decision: deciding it with the subject that requested it meets the four-eyes rule, not a
    // missing release or approval.
    let decided_pending = exchanges
        .iter()
        .filter(|e| {
            e.phase == "stateful"
                && e.path == "/api/releases/{version}/approval/decision"
                && e.status == 403
                && e.body.contains("requested")
        })
        .count();
    eprintln!("the stateful phase decided a pending approval {decided_pending} times");
    assert!(
        decided_pending > 0,
        "the stateful phase never reached a pending approval's decision"
    );
}
