//! Production in stages judged on live traffic: each production cluster has its own Collector
//! (host-harness's stand-in, named as such, reached through an `outside` Service) that the
//! pods on the real nodes export their spans to, as the executor's `otel` endpoint says, and
//! its own real Prometheus (Debian's) scraping it with `prometheus.yaml`'s relabelling; a
//! bounded loop asks each cluster's console for a page ten times a second. A good release
//! passes both stages on those figures; a release that answers ready but whose pages fail is
//! stopped on the canary, put back, and prod-east never runs it, sampled throughout.
//!
//! The bad release is this checkout's build with one line of its manifest lost: the console's
//! `allowed_outbound_hosts`, so Spin refuses every call it makes to the API and every page
//! answers 503, while `/healthz` and `/api/ready` answer 200 and each SpinApp is ready. The
//! latency limits are opened wide here (`--max-p99`, `--max-p99-growth`): on a shared machine a
//! p99 depends on load, and the errors are what these releases differ in; `relctl analyze`'s
//! own test judges latency on backfilled figures.

use super::build::{built, checkout};
use super::canary::{Watch, deploy_production, previous_runs, stages_as_set};
use super::doubles::{Pipeline, statuses_on};
use super::nodes::Collector;
use super::{VERSION, exclusive, production_images, registry, restore_workloads};
use host_harness::collector::CollectorStandIn;
use host_harness::prometheus::Prometheus;
use host_harness::{push_checkout_edited, scratch_dir};
use serde_json::Value;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const BAD: &str = "1.5.0";

/// A production cluster's Collector and the Prometheus that scrapes it.
struct Observed {
    member: &'static str,
    collector: CollectorStandIn,
    prometheus: Prometheus,
}

impl Observed {
    fn start(member: &'static str) -> Self {
        let collector = CollectorStandIn::start();
        let dir = scratch_dir(&format!("live-prometheus-{member}"));
        let prometheus = Prometheus::start(&dir, &collector.prometheus_config());
        Observed {
            member,
            collector,
            prometheus,
        }
    }

    /// The Collector as the executor names it (k8s/platform/spin/executor) on its member.
    fn collector(&self) -> Collector<'_> {
        Collector {
            member: self.member,
            address: self.collector.otlp.trim_start_matches("http://"),
        }
    }
}

/// Pages asked of each console, one every 100 ms per cluster, until stopped; at most an hour's.
struct Traffic {
    asking: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(consoles: &[String]) -> Self {
        let asking = Arc::new(AtomicBool::new(true));
        let threads = consoles
            .iter()
            .map(|console| {
                let (asking, url) = (asking.clone(), format!("{console}/releases"));
                std::thread::spawn(move || {
                    // A new connection for each page, as from many visitors: kube-proxy sends
                    // each to a pod ready now, where a kept connection would stay on a pod
                    // the rollout has stopped (and hang until its timeout, taking the
                    // analysis window's requests with it).
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .max_idle_connections(0)
                        .max_idle_connections_per_host(0)
                        .timeout_global(Some(Duration::from_secs(2)))
                        .build()
                        .into();
                    for _ in 0..36_000 {
                        if !asking.load(Ordering::SeqCst) {
                            break;
                        }
                        let _ = agent.get(&url).call();
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
            })
            .collect();
        Traffic { asking, threads }
    }

    fn stop(self) {
        self.asking.store(false, Ordering::SeqCst);
        for thread in self.threads {
            thread.join().unwrap();
        }
    }
}

/// `relctl deploy` of VERSION at IMAGE to production in `settings.example`'s stages, each
/// judged by its cluster's Prometheus over a 10 s window.
fn deploy_in_stages(pipeline: &Pipeline, version: &str, image: &str, urls: &str) -> Output {
    let stages = stages_as_set().join(",");
    let judged = [
        "--stages",
        &stages,
        "--prometheus",
        urls,
        "--window",
        "10",
        "--settle",
        "2",
        "--min-requests",
        "10",
        "--max-p99",
        "30",
        "--max-p99-growth",
        "1000",
    ];
    deploy_production(pipeline, version, image, checkout(), &judged)
}

/// The analysis of VERSION's newest STATUS event on CLUSTER.
fn analysis(pipeline: &Pipeline, version: &str, cluster: &str, status: &str) -> Value {
    let release = pipeline.release(version);
    let events = release["deployments"].as_array().unwrap();
    let event = events
        .iter()
        .rfind(|e| e["cluster"] == cluster && e["status"] == status)
        .unwrap_or_else(|| panic!("no {status} event on {cluster}: {events:?}"));
    event["analysis"].clone()
}

#[test]
fn live_traffic_passes_a_good_release_and_stops_one_whose_pages_fail_on_the_canary() {
    let _lock = exclusive();
    let observed = [Observed::start("prod-west"), Observed::start("prod-east")];
    let collectors: Vec<Collector> = observed.iter().map(Observed::collector).collect();
    let urls: Vec<String> = observed
        .iter()
        .map(|o| format!("{}={}", o.member, o.prometheus.base))
        .collect();
    let urls = urls.join(",");
    let pipeline = Pipeline::on_clusters_with("pipeline-live", true, &collectors);
    previous_runs(&pipeline);
    let on = pipeline.on.as_ref().unwrap();
    let consoles: Vec<String> = observed
        .iter()
        .map(|o| on.service(o.member, "automatizacion", "automatizacion-frontend"))
        .collect();
    let traffic = Traffic::start(&consoles);

    // 1. The built release: each stage judged on its own cluster's traffic, and passed.
    pipeline.recorded_as_built();
    pipeline.record(VERSION, "staging", "succeeded");
    pipeline.approved_by_carol(VERSION);
    let good = format!("{}@{}", built().repository, built().digest);
    let deployed = deploy_in_stages(&pipeline, VERSION, &good, &urls);
    let images = production_images();
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    assert!(
        images.iter().all(|i| i.ends_with(&built().digest)),
        "{images:?}"
    );
    for o in &observed {
        let judged = analysis(&pipeline, VERSION, o.member, "succeeded");
        assert_eq!(judged["verdict"], "passed", "{}: {judged}", o.member);
        assert!(
            judged["after"]["requests"].as_f64().unwrap() >= 10.0,
            "{judged}"
        );
        assert!(
            judged["before"]["requests"].as_f64().unwrap() > 0.0,
            "{judged}"
        );
        assert!(o.collector.spans_received() > 0);
        eprintln!("{VERSION} on {}: {judged}", o.member);
    }

    // 2. A release whose pages fail: ready on every probe, stopped by the canary's figures.
    let bad = push_checkout_edited(&registry(), BAD, |manifest| {
        let permission = "allowed_outbound_hosts = [\"{{ backend_url }}\"]";
        assert!(
            manifest.contains(permission),
            "spin.toml's console permission moved"
        );
        manifest.replace(permission, "allowed_outbound_hosts = []")
    });
    let (_, bad_digest) = bad.split_once('@').unwrap();
    pipeline.checked_on_staging(BAD, &bad, &built().commit);
    pipeline.approved_by_carol(BAD);
    let east = Watch::images("prod-east");
    let stopped = deploy_in_stages(&pipeline, BAD, &bad, &urls);
    let line = String::from_utf8_lossy(&stopped.stderr).into_owned();
    eprintln!("relctl deploy of {BAD}: {line}");
    east.never_saw(bad_digest);
    let images = production_images();
    traffic.stop();
    restore_workloads();
    assert_eq!(stopped.status.code(), Some(1), "{line}");
    assert!(
        line.contains(&format!("{BAD} stopped on prod-west")),
        "{line}"
    );
    assert!(line.contains("analysis failed: error share"), "{line}");
    assert!(line.contains("prod-east never took it"), "{line}");
    assert!(
        images.iter().all(|i| i.ends_with(&built().digest)),
        "the canary is back on {VERSION}: {images:?}"
    );
    let judged = analysis(&pipeline, BAD, "prod-west", "failed");
    assert_eq!(judged["verdict"], "failed", "{judged}");
    assert!(
        judged["after"]["errors"].as_f64().unwrap() > 0.0,
        "{judged}"
    );
    let events = pipeline.events(BAD);
    assert_eq!(
        statuses_on(&events, "prod-west"),
        ["started", "failed", "rolled_back"]
    );
    assert_eq!(statuses_on(&events, "prod-east"), Vec::<String>::new());
}
