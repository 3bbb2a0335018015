//! A cluster's request figures from its Prometheus, over the window after a release reached it
//! and the window before, judged by the ledger's rules (`ledger::analysis`).
//!
//! The queries live in `k8s/observability/canary-analysis.yaml` beside the alerts that read the
//! same series, so an operator can run exactly what the analysis ran. A Prometheus that cannot
//! answer, or answers something else than a number, is an error: never a pass.

use crate::cli::{self, OnInconclusive};
use crate::failure::Failure;
use crate::ledger_client::agent;
use crate::reads::encode;
use ledger::Timestamp;
use ledger::analysis::{Figures, Limits, Queries, Record, Verdict, judge};
use ledger::types::ClusterName;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The three queries, as the file holds them (`${window}`: the window in seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryFile {
    requests: String,
    errors: String,
    p99_seconds: String,
}

impl QueryFile {
    pub fn load(path: &Path) -> Result<Self, Failure> {
        let invalid = |why: String| Failure::Invalid(format!("{}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let file: QueryFile = serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let raw = [
            ("requests", &file.requests),
            ("errors", &file.errors),
            ("p99_seconds", &file.p99_seconds),
        ];
        for (name, query) in raw {
            if !query.contains("${window}") {
                return Err(invalid(format!("the {name} query has no ${{window}}")));
            }
        }
        Ok(file)
    }

    /// The queries as sent for a window of WINDOW seconds.
    fn over(&self, window: u64) -> Queries {
        let fill = |query: &str| query.replace("${window}", &window.to_string());
        Queries {
            requests: fill(&self.requests),
            errors: fill(&self.errors),
            p99_seconds: fill(&self.p99_seconds),
        }
    }
}

fn named(queries: &Queries) -> [(&'static str, &str); 3] {
    [
        ("requests", &queries.requests),
        ("errors", &queries.errors),
        ("p99_seconds", &queries.p99_seconds),
    ]
}

/// What the analysis of one cluster found, with what it asked: the ledger's record of it.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub cluster: ClusterName,
    pub record: Record,
}

impl Analysis {
    /// One line: the verdict, its reasons and the figures it stands on.
    pub fn summary(&self) -> String {
        let figures = |f: &Figures| {
            let p99 = f.p99_seconds.map_or("none".into(), |p| format!("{p:.3} s"));
            format!(
                "{:.0} requests, {:.0} errors, p99 {p99}",
                f.requests, f.errors
            )
        };
        let record = &self.record;
        let reasons = if record.reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", record.reasons.join("; "))
        };
        format!(
            "{}: analysis {}{reasons} (after: {}; before: {}; {} s windows either side of {})",
            self.cluster,
            record.verdict.as_str(),
            figures(&record.after),
            figures(&record.before),
            record.window_seconds,
            record.since
        )
    }
}

/// A Prometheus HTTP API (`/api/v1/query`).
pub struct Prometheus {
    base: String,
    agent: ureq::Agent,
}

impl Prometheus {
    pub fn new(base: &str) -> Self {
        Prometheus {
            base: base.trim_end_matches('/').to_owned(),
            agent: agent(Duration::from_secs(30)),
        }
    }

    /// QUERY's one number at AT: `None` for an empty answer or NaN (nothing measured).
    fn number(&self, query: &str, at: Timestamp) -> Result<Option<f64>, Failure> {
        let unreachable = |why: String| {
            Failure::Unreachable(format!(
                "Prometheus at {} cannot answer the analysis, so it cannot pass: {why}",
                self.base
            ))
        };
        let micros = at.as_micros();
        let time = format!(
            "{}.{:06}",
            micros.div_euclid(1_000_000),
            micros.rem_euclid(1_000_000)
        );
        let mut response = self
            .agent
            .get(&format!("{}/api/v1/query", self.base))
            .query("query", query)
            .query("time", &time)
            .call()
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body: Value = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
            .map_err(|e| unreachable(format!("HTTP {status}, not its JSON: {e}")))?;
        if body["status"] != "success" {
            let error = body["error"].as_str().unwrap_or("no reason given");
            return Err(unreachable(format!("HTTP {status} for `{query}`: {error}")));
        }
        let result = &body["data"]["result"];
        let sample = match body["data"]["resultType"].as_str() {
            Some("vector") => match result.as_array().map(Vec::as_slice) {
                Some([]) => return Ok(None),
                Some([one]) => &one["value"],
                _ => return Err(unreachable(format!("`{query}` gave more than one series"))),
            },
            Some("scalar") => result,
            _ => return Err(unreachable(format!("`{query}` gave no number: {result}"))),
        };
        let value = sample[1].as_str().and_then(|v| v.parse::<f64>().ok());
        match value {
            Some(number) if number.is_nan() => Ok(None),
            Some(number) => Ok(Some(number)),
            None => Err(unreachable(format!("`{query}` gave no number: {sample}"))),
        }
    }

    fn figures(&self, queries: &Queries, at: Timestamp) -> Result<Figures, Failure> {
        Ok(Figures {
            requests: self.number(&queries.requests, at)?.unwrap_or(0.0),
            errors: self.number(&queries.errors, at)?.unwrap_or(0.0),
            p99_seconds: self.number(&queries.p99_seconds, at)?,
        })
    }

    /// QUERY over the window ending at END, in Prometheus's graph page.
    fn link(&self, query: &str, window: u64, end: Timestamp) -> String {
        let end = end.to_string().replace('T', " ");
        format!(
            "{}/graph?g0.expr={}&g0.tab=0&g0.range_input={window}s&g0.end_input={}",
            self.base,
            encode(query),
            encode(&end[..19])
        )
    }
}

fn plus(at: Timestamp, seconds: u64) -> Timestamp {
    let micros = i64::try_from(seconds).map_or(i64::MAX, |s| s.saturating_mul(1_000_000));
    Timestamp::from_micros(at.as_micros().saturating_add(micros))
}

/// How an analysis runs and what it lets through, read once from the command line.
pub struct Settings {
    pub window: u64,
    pub settle: u64,
    pub queries: QueryFile,
    pub limits: Limits,
    pub inconclusive: OnInconclusive,
}

impl Settings {
    pub fn new(args: &cli::AnalysisArgs) -> Result<Self, Failure> {
        Ok(Settings {
            window: args.window,
            settle: args.settle,
            queries: QueryFile::load(&args.queries)?,
            limits: args.limits(),
            inconclusive: args.inconclusive,
        })
    }
}

/// Judges CLUSTER from the window after SINCE against the window before, waiting until the
/// window after has passed and the settling time more.
pub fn analyze(
    prometheus: &Prometheus,
    cluster: &ClusterName,
    since: Timestamp,
    settings: &Settings,
) -> Result<Analysis, Failure> {
    let window = settings.window;
    let end = plus(since, window);
    let ready = plus(end, settings.settle).as_micros() - Timestamp::now().as_micros();
    if let Ok(wait) = u64::try_from(ready) {
        std::thread::sleep(Duration::from_micros(wait));
    }
    let queries = settings.queries.over(window);
    let before = prometheus.figures(&queries, since)?;
    let after = prometheus.figures(&queries, end)?;
    let links = named(&queries)
        .iter()
        .map(|(_, query)| prometheus.link(query, window, end))
        .collect();
    let judgement = judge(&after, &before, &settings.limits);
    let record = Record {
        verdict: judgement.verdict,
        reasons: judgement.reasons,
        window_seconds: window,
        since,
        before,
        after,
        limits: settings.limits,
        queries,
        links,
    };
    Ok(Analysis {
        cluster: cluster.clone(),
        record,
    })
}

impl Analysis {
    /// Whether the rollout may go on: the summary if so, `Failure::Stopped` with it if not.
    pub fn gate(&self, inconclusive: OnInconclusive) -> Result<String, Failure> {
        let summary = self.summary();
        match (self.record.verdict, inconclusive) {
            (Verdict::Passed, _) => Ok(summary),
            (Verdict::Inconclusive, OnInconclusive::Pass) => {
                Ok(format!("{summary}; let through (inconclusive: pass)"))
            }
            _ => Err(Failure::Stopped(summary)),
        }
    }
}

/// `relctl analyze`.
pub fn analyze_command(args: &cli::Analyze) -> Result<String, Failure> {
    let prometheus = Prometheus::new(&args.prometheus);
    let settings = Settings::new(&args.analysis)?;
    analyze(&prometheus, &args.cluster, args.since, &settings)?.gate(settings.inconclusive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_query_encoded_and_the_windows_end() {
        let prometheus = Prometheus::new("http://prometheus:9090/");
        let end = Timestamp::parse_rfc3339("2026-12-06T01:05:00Z").unwrap();
        let link = prometheus.link("sum(rate(x{a=\"b\"}[300s]))", 300, end);
        assert_eq!(
            link,
            "http://prometheus:9090/graph?g0.expr=sum%28rate%28x%7Ba%3D%22b%22%7D%5B300s%5D%29%29\
             &g0.tab=0&g0.range_input=300s&g0.end_input=2026-12-06%2001%3A05%3A00"
        );
    }
}
