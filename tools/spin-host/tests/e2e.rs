//! spin-host against real Spin: what a runtime itself decides (routing, the host's own
//! answers, start-up refusals, outbound rules and service chaining, signals) is checked on
//! both with the same assertions, so spin-host cannot drift from the Spin 3.6 that `spin up`
//! and SpinKube run. The app's own behaviour on both runtimes is tested in
//! `components/*/tests/e2e.rs`.

use host_harness::{HostBuilder, Runtime, token};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    host_harness::repo()
        .join("tools/spin-host/tests/fixtures")
        .join(name)
}

fn the_most_specific_route_answers_and_sigterm_stops_cleanly(runtime: Runtime) {
    let mut host = HostBuilder::on(runtime, "routes").start();
    let content_type = |path: &str| {
        let reply = host.get(path);
        (
            reply.status,
            reply.header("content-type").unwrap_or_default().to_owned(),
        )
    };
    // `/...` is the console; `/api/...` and `/metrics` are the backend's.
    assert_eq!(content_type("/"), (200, "text/html; charset=utf-8".into()));
    assert_eq!(
        content_type("/metricsx"),
        (404, "text/html; charset=utf-8".into())
    );
    assert_eq!(content_type("/metrics").0, 200);
    assert!(content_type("/metrics").1.starts_with("text/plain"));
    assert_eq!(
        content_type("/api/nope"),
        (404, "application/problem+json".into())
    );
    let status = host.terminate();
    assert!(status.success(), "{status:?}\n{}", host.output());
}

/// With no route for a path, the runtime answers a bare 404, and a private component is
/// reachable only by service chaining; outbound requests go only where
/// `allowed_outbound_hosts` says.
fn outbound_requests_follow_allowed_hosts_and_chain_to_components(runtime: Runtime) {
    host_harness::wasm("outbound_probe");
    // A plain HTTP server on loopback for the allowed and the refused destination.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nechoed",
            );
        }
    });
    let host = HostBuilder::on(runtime, "outbound")
        .manifest(fixture("chain.toml"))
        .var("echo_port", &port.to_string())
        .ready_path("/probe?url=http://backend.spin.internal/api/health")
        .start();
    let probe = |url: &str| host.get(&format!("/probe?url={url}"));

    let chained = probe("http://backend.spin.internal/api/health");
    assert_eq!(chained.status, 200, "{}", chained.body);
    assert_eq!(chained.body, "200\n{\"status\":\"ok\"}");
    let echoed = probe(&format!("http://127.0.0.1:{port}/anything"));
    assert_eq!((echoed.status, echoed.body.as_str()), (200, "200\nechoed"));
    let other_port = probe(&format!("http://127.0.0.1:{}/", port.wrapping_add(1)));
    assert_eq!(other_port.status, 502, "{}", other_port.body);
    assert!(
        other_port.body.contains("HttpRequestDenied"),
        "{}",
        other_port.body
    );
    let not_listed = probe("http://frontend.spin.internal/");
    assert_eq!(not_listed.status, 502);
    assert!(not_listed.body.contains("HttpRequestDenied"));
    // The backend is private here: only chaining reaches it. A path with no route at all is a
    // bare 404 from the runtime itself.
    for path in ["/api/health", "/elsewhere"] {
        let missing = host.get(path);
        assert_eq!((missing.status, missing.body.as_str()), (404, ""), "{path}");
        assert_eq!(missing.header("content-type"), None, "{path}");
    }
}

/// Start-up fails with exit code 1, saying TEXT.
fn stops_start_up(host: HostBuilder, text: &str) {
    let (code, printed) = host.fail();
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains(text), "{printed}");
}

fn a_missing_required_variable_stops_start_up(runtime: Runtime) {
    stops_start_up(
        HostBuilder::on(runtime, "required").manifest(fixture("required-variable.toml")),
        "api_key",
    );
}

/// `spin up -c probe`, where `probe` names the unselected `backend` literally in
/// `allowed_outbound_hosts`: Spin refuses the selection, and so does spin-host.
fn selecting_a_component_that_chains_to_one_left_out_stops_start_up(runtime: Runtime) {
    stops_start_up(
        HostBuilder::on(runtime, "select")
            .manifest(fixture("chain.toml"))
            .var("echo_port", "1")
            .component("probe"),
        "cannot use service chaining to unselected component",
    );
}

/// Spin loads binary components only; spin-host's wasmtime would compile the text format too.
fn a_text_format_component_stops_start_up(runtime: Runtime) {
    stops_start_up(
        HostBuilder::on(runtime, "wat").manifest(fixture("missing-import.toml")),
        "missing-import.wat",
    );
}

fn selected_components_serve_only_their_routes(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "only-backend")
        .component("backend")
        .start();
    let kestra = token("kestra", &["deployer"]);
    host.create_release(&kestra, "1.0.0");
    let console = host.get("/");
    assert_eq!((console.status, console.body.as_str()), (404, ""));
}

/// What Spin decides before any component runs, on raw requests: spin-host does the same.
fn requests_are_routed_and_refused_as_spin_does(runtime: Runtime) {
    let host = HostBuilder::on(runtime, "raw").start();
    let ask = |request: &str| String::from_utf8_lossy(&host.raw(request.as_bytes())).into_owned();
    let status_line = |answer: &str| answer.lines().next().unwrap_or_default().to_owned();
    let close = "Connection: close\r\n\r\n";

    // Repeated leading slashes are ignored when choosing the component: the backend, not the
    // console, answers these (with its own 404, as its router takes the path as it is).
    for path in ["//api/health", "//metrics/"] {
        let answer = ask(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n{close}"));
        assert_eq!(status_line(&answer), "HTTP/1.1 404 Not Found", "{answer}");
        assert!(
            answer.contains("content-type: application/problem+json"),
            "{answer}"
        );
    }

    // A header value that is not visible ASCII: a bare 500, the component never runs.
    let mut binary = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\n".to_vec();
    binary.extend_from_slice(close.as_bytes());
    let answer = String::from_utf8_lossy(&host.raw(&binary)).into_owned();
    assert_eq!(status_line(&answer), "HTTP/1.1 500 Internal Server Error");
    assert!(answer.ends_with("\r\n\r\n"), "no body: {answer}");

    // No Host (so HTTP/1.0 without one too), or an absolute-form target: no answer at all.
    for request in [
        format!("GET /api/health HTTP/1.1\r\n{close}"),
        "GET /api/health HTTP/1.0\r\n\r\n".to_owned(),
        format!("GET http://example.com/api/health HTTP/1.1\r\nHost: x\r\n{close}"),
    ] {
        assert_eq!(ask(&request), "", "{request:?}");
    }
    // The connection refused above did not take the runtime down.
    assert_eq!(host.get("/api/health").status, 200);
}

/// `wasi:keyvalue` on the `default` store, as bench/cost-probe uses it: `get-many` answers only
/// the keys the store holds (the probe refuses an answer without both), `set` and `get` reach the
/// same file, `sqlite_key_value.db`, that `fermyon:spin/key-value` uses.
fn wasi_keyvalue_batch_reads_what_the_store_holds(runtime: Runtime) {
    host_harness::wasm("cost_probe");
    let host = HostBuilder::on(runtime, "keyvalue")
        .manifest(host_harness::repo().join("bench/cost-probe/spin.toml"))
        .ready_path("/")
        .start();
    let missing = host.get("/?kv-get-many=1");
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (500, "run kv-seed first")
    );
    for path in ["/?kv-seed=1", "/?kv-get-many=2", "/?kv-two-gets=2"] {
        let reply = host.get(path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    let store = rusqlite::Connection::open(host.sqlite_dir.join("sqlite_key_value.db")).unwrap();
    let sizes: Vec<(String, usize)> = store
        .prepare(
            "SELECT key, length(value) FROM spin_key_value WHERE store = 'default' ORDER BY key",
        )
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        sizes,
        [
            ("ledger:generation".to_owned(), 32),
            ("ledger:read:probe:page".to_owned(), 8192)
        ]
    );
}

host_harness::on_both_runtimes!(
    wasi_keyvalue_batch_reads_what_the_store_holds,
    requests_are_routed_and_refused_as_spin_does,
    the_most_specific_route_answers_and_sigterm_stops_cleanly,
    outbound_requests_follow_allowed_hosts_and_chain_to_components,
    a_missing_required_variable_stops_start_up,
    selecting_a_component_that_chains_to_one_left_out_stops_start_up,
    a_text_format_component_stops_start_up,
    selected_components_serve_only_their_routes,
);

#[test]
fn spin_host_says_it_is_shutting_down_on_sigterm() {
    let mut host = HostBuilder::new("sigterm").start();
    assert!(host.terminate().success());
    let said = host.stderr.lock().unwrap().join("\n");
    assert!(said.contains("spin-host: shutting down"), "{said}");
}

#[test]
fn spin_host_relative_directories_work_as_make_run_uses_them() {
    let host = HostBuilder::new("relative").relative_dirs().start();
    let kestra = token("kestra", &["deployer"]);
    host.create_release(&kestra, "6.0.0");
    assert!(host.sqlite_dir.join(".spin/sqlite_db.db").exists());
    assert!(host.sqlite_dir.join(".spin/wasmtime-cache").is_dir());
}

/// Where spin-host implements less than Spin, it refuses at start-up by name rather than run
/// an app that would fail later (Spin runs both of these).
#[test]
fn spin_host_refuses_what_it_does_not_implement() {
    let (code, printed) = HostBuilder::new("feature")
        .manifest(fixture("unsupported-feature.toml"))
        .fail();
    assert_eq!(code, Some(1));
    assert!(printed.contains("component.web.ai_models"), "{printed}");

    // The text fixture, compiled to a binary next to a copy of its manifest.
    let dir = host_harness::scratch_dir("import");
    let binary = wat::parse_file(fixture("missing-import.wat")).unwrap();
    std::fs::write(dir.join("missing-import.wasm"), binary).unwrap();
    let manifest = std::fs::read_to_string(fixture("missing-import.toml"))
        .unwrap()
        .replace("missing-import.wat", "missing-import.wasm");
    std::fs::write(dir.join("spin.toml"), manifest).unwrap();
    let (code, printed) = HostBuilder::new("import")
        .manifest(dir.join("spin.toml"))
        .fail();
    assert_eq!(code, Some(1));
    assert!(
        printed.contains("spin:key-value/key-value@2.0.0"),
        "{printed}"
    );
}

/// spin-host runs at most 128 instances at once. When every slot is held (here by probes whose
/// outbound call goes to a server that accepts and never answers), another request waits at
/// most two seconds for one and is then told to come back (503, `Retry-After`) instead of
/// queueing without end; once the holders finish, everyone is served again. (Real Spin has no
/// slot limit to exhaust: in clusters the ingress buffers bodies, see k8s/base/ingress.yaml.)
///
/// The test knows every slot is taken because the silent server counts one connection per
/// running probe, not because some time has passed.
#[test]
fn spin_host_refuses_quickly_when_every_slot_is_taken() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let slots = ::spin_host::runtime::MAX_INSTANCES as usize;
    host_harness::wasm("outbound_probe");

    // The silent server: it accepts, counts, and holds each connection until the test lets go.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let (accepted, held) = (accepted.clone(), held.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                held.lock().unwrap().push(stream);
                accepted.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let host = HostBuilder::new("slots")
        .manifest(fixture("chain.toml"))
        .var("echo_port", &port.to_string())
        .ready_path("/probe?url=http://backend.spin.internal/api/health")
        .start();
    let addr = host.base.trim_start_matches("http://").to_owned();
    let hold = format!(
        "GET /probe?url=http://127.0.0.1:{port}/hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let holders: Vec<std::net::TcpStream> = (0..slots)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            stream.write_all(hold.as_bytes()).unwrap();
            stream
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while accepted.load(Ordering::SeqCst) < slots {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {slots} probes reached the silent server",
            accepted.load(Ordering::SeqCst)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let busy = host.get("/probe?url=http://backend.spin.internal/api/health");
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));

    // The silent server hangs up: every probe answers (its call failed), and frees its slot.
    held.lock().unwrap().clear();
    for mut stream in holders {
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    }
    let served = host.get("/probe?url=http://backend.spin.internal/api/health");
    assert_eq!(
        (served.status, served.body.as_str()),
        (200, "200\n{\"status\":\"ok\"}")
    );
}

/// A client that never finishes its headers is disconnected after the header-read timeout.
#[test]
fn spin_host_disconnects_a_client_that_never_finishes_its_headers() {
    use std::io::{Read, Write};
    let host = HostBuilder::new("header-timeout").start();
    let mut stream = std::net::TcpStream::connect(host.base.trim_start_matches("http://")).unwrap();
    // Only so that a host that never disconnects fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(::spin_host::server::HEADER_READ_TIMEOUT * 12))
        .unwrap();
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    assert!(
        read.is_ok(),
        "the connection was closed, not left open: {read:?}"
    );
    // Not long before the timeout: the host's clock started when it accepted the connection,
    // a moment before this one. (How long after the timeout, the machine's load decides.)
    let waited = started.elapsed();
    assert!(
        waited >= ::spin_host::server::HEADER_READ_TIMEOUT / 2,
        "disconnected after {waited:?}"
    );
}
