//! Request metrics, in Prometheus's text format, on the admin address (`--admin-listen`):
//! what a host can count and a Spin instance cannot (each lives for one request). The app's
//! own `/metrics` serves the ledger's gauges; these are the host's, per component and route.
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `spin_request_count_total` | counter | `trigger_type`, `app_id`, `component_id` (1) |
//! | `http_server_requests_total` | counter | `component`, `route`, `method`, `status` |
//! | `http_server_request_duration_seconds` | histogram | `component`, `route` |
//!
//! (1) Spin's own `spin.request_count`, as the Collector's Prometheus exporter names it.

use spin_edge::label_value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
pub struct Metrics {
    /// The app's name, Spin's `app_id` label.
    app_id: String,
    series: Mutex<Series>,
}

#[derive(Default)]
struct Series {
    /// component → routed requests, as Spin counts them.
    spin_requests: BTreeMap<String, u64>,
    /// (component, route, method, status) → requests.
    requests: BTreeMap<(String, String, String, u16), u64>,
    /// (component, route) → latencies.
    durations: BTreeMap<(String, String), Histogram>,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn new(app_id: &str) -> Self {
        Metrics {
            app_id: app_id.to_owned(),
            series: Mutex::default(),
        }
    }

    /// Counts one answered request. COMPONENT is `none` for what no route matched, and ROUTE
    /// the manifest's route pattern (`/api/...`), so that labels stay few whatever the paths.
    pub fn observe(&self, component: &str, route: &str, method: &str, status: u16, seconds: f64) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if component != "none" {
            *series
                .spin_requests
                .entry(component.to_owned())
                .or_default() += 1;
        }
        let key = (
            component.to_owned(),
            route.to_owned(),
            method.to_owned(),
            status,
        );
        *series.requests.entry(key).or_default() += 1;
        let histogram = series
            .durations
            .entry((component.to_owned(), route.to_owned()))
            .or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP spin_request_count_total Requests routed to a component, as Spin counts them (spin.request_count).\n");
        out.push_str("# TYPE spin_request_count_total counter\n");
        for (component, count) in &series.spin_requests {
            let _ = writeln!(
                out,
                "spin_request_count_total{{trigger_type=\"http\",app_id=\"{}\",component_id=\"{}\"}} {count}",
                label_value(&self.app_id),
                label_value(component)
            );
        }
        out.push_str("# HELP http_server_requests_total Requests answered, by component, route, method and status.\n");
        out.push_str("# TYPE http_server_requests_total counter\n");
        for ((component, route, method, status), count) in &series.requests {
            let _ = writeln!(
                out,
                "http_server_requests_total{{component=\"{}\",route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                label_value(component),
                label_value(route),
                label_value(method)
            );
        }
        out.push_str("# HELP http_server_request_duration_seconds Time from a request's arrival to its answer, by component and route.\n");
        out.push_str("# TYPE http_server_request_duration_seconds histogram\n");
        for ((component, route), histogram) in &series.durations {
            let labels = format!(
                "component=\"{}\",route=\"{}\"",
                label_value(component),
                label_value(route)
            );
            for (count, bound) in histogram.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "http_server_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "http_server_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "http_server_request_duration_seconds_sum{{{labels}}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "http_server_request_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn counts_and_buckets_add_up() {
        let metrics = Metrics::new("automatizacion");
        metrics.observe("backend", "/api/...", "GET", 200, 0.003);
        metrics.observe("backend", "/api/...", "GET", 200, 0.2);
        metrics.observe("backend", "/api/...", "POST", 401, 0.02);
        metrics.observe("none", "unmatched", "GET", 404, 0.0001);
        let text = metrics.render();
        for line in [
            "spin_request_count_total{trigger_type=\"http\",app_id=\"automatizacion\",component_id=\"backend\"} 3",
            "http_server_requests_total{component=\"backend\",route=\"/api/...\",method=\"GET\",status=\"200\"} 2",
            "http_server_requests_total{component=\"backend\",route=\"/api/...\",method=\"POST\",status=\"401\"} 1",
            "http_server_requests_total{component=\"none\",route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
            "http_server_request_duration_seconds_bucket{component=\"backend\",route=\"/api/...\",le=\"0.005\"} 1",
            "http_server_request_duration_seconds_bucket{component=\"backend\",route=\"/api/...\",le=\"0.025\"} 2",
            "http_server_request_duration_seconds_bucket{component=\"backend\",route=\"/api/...\",le=\"0.25\"} 3",
            "http_server_request_duration_seconds_bucket{component=\"backend\",route=\"/api/...\",le=\"+Inf\"} 3",
            "http_server_request_duration_seconds_count{component=\"backend\",route=\"/api/...\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}
