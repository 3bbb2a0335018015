//! Every `relctl` call of the flow and the jobs parses against relctl's real arguments, with an
//! example value for each variable it is given, and no credential is ever an argument (where
//! `ps` would show it): credentials reach relctl through the environment only.

use super::{FLOW, JOBS, OBSERVE_FLOW, tasks_in_order, yaml};
use clap::{CommandFactory, Parser};
use std::collections::BTreeSet;

/// An example of what each variable the calls use holds, valid for the argument it feeds.
fn example(variable: &str) -> &'static str {
    match variable {
        "VERSION" | "RD_OPTION_VERSION" | "RD_OPTION_TO_VERSION" => "1.4.0",
        "DIGEST" | "digest" => {
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        }
        "COMMIT" | "commit" => "0123456789abcdef0123456789abcdef01234567",
        "REPOSITORY" => "registry.example.com/acme/automatizacion",
        "ARTIFACT" => "registry.example.com/acme/automatizacion:1.4.0",
        "SIGNER" => "alice",
        "TAG" => "v1.4.0",
        // Notes and comments that begin with a dash, as Markdown lists do.
        "NOTES" | "RD_OPTION_COMMENT" => "-words",
        "RD_OPTION_DECISION" => "approve",
        "RD_OPTION_KESTRA_EXECUTION" => "4ZbrEVzJ9LyEtYzJMB1E7g",
        "STAGING_URL" | "PROD_EAST_URL" | "PROD_WEST_URL" | "EXECUTION_URL" => {
            "https://example.com/x"
        }
        "DEPLOY_TIMEOUT" => "600",
        "PUSH_FLAGS" => "--push-flag=--insecure",
        "RD_GLOBALS_CHECKOUT" | "kubeconfig" => "/srv/x",
        other => panic!("no example value for ${other}: add one to relctl_calls.rs"),
    }
}

/// The `relctl …` calls of a shell script, as argument lists with each `$VAR` replaced by its
/// example, and the names of the variables each call reads.
fn relctl_calls(script: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut calls = Vec::new();
    for line in script.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(at) = rest.find("relctl ") {
            let call = &rest[at + 7..];
            let end = call.find([')', '|', ';']).unwrap_or(call.len());
            let mut args = vec!["relctl".to_owned()];
            let mut read = Vec::new();
            for word in words(&call[..end]) {
                if word.starts_with('<') || word.starts_with('>') {
                    continue;
                }
                let (text, names) = substitute(&word);
                read.extend(names);
                args.extend(text.split_whitespace().map(str::to_owned));
            }
            calls.push((args, read));
            rest = &call[end..];
        }
    }
    calls
}

/// WORD with each `$NAME` replaced by its example.
fn substitute(word: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut names = Vec::new();
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push_str(example(&tail[..end]));
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out.push_str(rest);
    (out, names)
}

/// Shell words with double and single quotes removed.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in text.chars() {
        match (quote, c) {
            (None, ' ') => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// Parses a call as relctl would, with the flags that ENV (the step's environment) supplies
/// through clap's `env` attributes added, as the real process would see them.
fn parse(call: &[String], env: &BTreeSet<String>) -> Result<relctl::Cli, String> {
    let mut args = call.to_vec();
    let command = relctl::Cli::command();
    let sub = args.get(1).and_then(|name| command.find_subcommand(name));
    let env_args = command
        .get_arguments()
        .chain(sub.into_iter().flat_map(|s| s.get_arguments()));
    for arg in env_args {
        let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let flag = format!("--{long}");
        let var = var.to_str().unwrap();
        if env.contains(var) && !args.iter().any(|a| a.starts_with(&flag)) {
            args.push(flag);
            args.push(env_example(var).into());
        }
    }
    relctl::Cli::try_parse_from(&args).map_err(|e| format!("{}: {e}", call.join(" ")))
}

/// What a step's environment variable that a flag reads holds (kestra/settings.example's
/// values for the staged rollout; a URL for the rest).
fn env_example(var: &str) -> &'static str {
    match var {
        "STAGES" => "prod-west,prod-east",
        "PROMETHEUS_URLS" => "prod-west=http://prometheus.west.example.com:9090",
        "ANALYSIS_WINDOW" => "300",
        "ANALYSIS_SETTLE" => "60",
        "ANALYSIS_INCONCLUSIVE" => "stop",
        _ => "https://example.com",
    }
}

/// A variable whose name says it holds a credential.
fn is_credential(name: &str) -> bool {
    ["KEY", "PASSWORD", "TOKEN", "SECRET"]
        .iter()
        .any(|word| name.to_uppercase().contains(word))
}

#[test]
fn every_relctl_call_parses_and_takes_no_credential_as_an_argument() {
    let ordered: Vec<_> = [FLOW, OBSERVE_FLOW]
        .iter()
        .flat_map(|flow| tasks_in_order(&yaml(flow)["tasks"]))
        .collect();
    let mut calls = 0;
    let mut check = |script: &str, env: &BTreeSet<String>, whose: &str| {
        for (call, read) in relctl_calls(script) {
            parse(&call, env).unwrap();
            for name in read {
                assert!(
                    !is_credential(&name),
                    "{whose}: ${name} is an argument of {}",
                    call.join(" ")
                );
            }
            calls += 1;
        }
    };
    for task in &ordered {
        let env: BTreeSet<String> = task["env"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        let script: Vec<&str> = task["commands"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .collect();
        check(&script.join("\n"), &env, task["id"].as_str().unwrap());
    }
    for job in JOBS {
        let job = yaml(job);
        let script = job[0]["sequence"]["commands"][0]["script"]
            .as_str()
            .unwrap();
        // What the script exports before its calls.
        let env: BTreeSet<String> = script
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .flat_map(|l| l.split_whitespace())
            .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.to_owned()))
            .collect();
        check(script, &env, job[0]["name"].as_str().unwrap());
    }
    assert!(calls >= 10, "only {calls} relctl calls found");
    // A renamed flag fails, and so does a credential flag relctl no longer has.
    for stale in [
        "relctl deploy --environment staging --version 1.0.0 --sha x --kubeconfig k",
        "relctl resume-kestra --url https://k --execution abc --kestra-token t",
        "relctl record-deployment --version 1.0.0 --cluster staging --status started --token t",
    ] {
        let (call, _) = &relctl_calls(stale)[0];
        assert!(parse(call, &BTreeSet::new()).is_err(), "{stale}");
    }
}
