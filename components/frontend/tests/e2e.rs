//! End to end: the real `frontend.wasm` and `backend.wasm` from the repository's `spin.toml`,
//! the console chaining to the backend, served by real Spin (`spin up`) and by `spin-host`.
//! Test paths name the runtime: `spin::…`, `spin_host::…`.

use host_harness::{Host, HostBuilder, Runtime, free_port, token};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const SCRIPT: &str = "<script>window.__pwned = 1</script>";

fn console(runtime: Runtime, label: &str) -> HostBuilder {
    HostBuilder::on(runtime, &format!("console-{label}"))
}

/// The console with its backend on loopback PORT (a double, or nothing at all).
fn console_of(runtime: Runtime, label: &str, port: u16) -> HostBuilder {
    console(runtime, label).var("backend_url", &format!("http://127.0.0.1:{port}"))
}

fn every_page_shows_a_release_story_created_through_the_api(runtime: Runtime) {
    let host = console(runtime, "story").start();
    host.pending_release_story("1.4.0", &format!("Faster pages. {SCRIPT}"));

    let overview = host.get("/");
    overview.assert_is(200, "text/html; charset=utf-8");
    assert!(
        overview
            .body
            .contains("Served by <strong>local</strong> (local)")
    );
    assert!(
        overview
            .body
            .contains("<th scope=\"row\" data-label=\"Cluster\">staging</th>")
    );
    assert!(
        overview
            .body
            .contains("<a href=\"/releases/1.4.0\">1.4.0</a>")
    );
    assert!(overview.body.contains("requested by kestra"));

    let fragment = host.get("/fragments/overview");
    assert_eq!(fragment.status, 200);
    assert!(fragment.body.starts_with("<div id=\"live\""));
    let releases = ["ghcr.io/acme/automatizacion:1.4.0"];
    host.get("/releases").assert_shows(200, &releases);

    let release = host.get("/releases/1.4.0");
    assert_eq!(release.status, 200);
    assert!(release.body.contains("<h1>Release 1.4.0</h1>"));
    assert!(
        release
            .body
            .contains("<span class=\"badge wait\">pending</span>")
    );
    assert!(
        release
            .body
            .contains("<span class=\"badge ok\">succeeded</span>")
    );
    assert!(!release.body.contains(SCRIPT), "release notes are escaped");
    assert!(
        !release.body.contains("Decide in Rundeck") && !release.body.contains("/commit/"),
        "no links out unless configured"
    );
    assert!(
        release.body.contains("Faster pages. &#60;script&#62;")
            || release.body.contains("Faster pages. &lt;script&gt;")
    );

    let approvals = host.get("/approvals?state=pending");
    assert_eq!(approvals.status, 200);
    assert!(
        approvals
            .body
            .contains("<a href=\"/releases/1.4.0\">1.4.0</a>")
    );

    let audit = host.get("/audit");
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("approval.requested"));
    assert!(audit.body.contains("release.created"));

    let health = host.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    // The decision, made through the API, is on the page at the next load.
    host.decide("1.4.0", "approve", "Staging is green.");
    let decided = host.get("/releases/1.4.0");
    assert!(
        decided
            .body
            .contains("<span class=\"badge ok\">approved</span>")
    );
    assert!(decided.body.contains("Staging is green."));
    assert!(
        host.get("/approvals?state=pending")
            .body
            .contains("No approvals here.")
    );
}

/// The filter forms ask the API with the reader's values, show them back, keep them in the
/// pager, say when nothing matches, and turn a refused value into a page naming the field.
fn releases_and_the_audit_log_filter_through_the_api(runtime: Runtime) {
    let host = console(runtime, "filters").start();
    host.pending_release_story("1.4.0", "Faster pages.");
    let kestra = token("kestra", &["deployer"]);
    let mut later = host_harness::release_body("1.5.0");
    later["digest"] =
        "sha256:5555555555555555555555555555555555555555555555555555555555555555".into();
    assert_eq!(host.post_json("/api/releases", &kestra, &later).status, 201);

    let all = host.get("/releases");
    all.assert_shows(
        200,
        &["role=\"search\"", "<a href=\"/releases/1.5.0\">1.5.0</a>"],
    );
    assert!(
        !all.body.contains("Clear filters"),
        "no filter, nothing to clear"
    );

    let pending = host.get("/releases?state=pending&version=1.&person=");
    pending.assert_shows(
        200,
        &[
            "<a href=\"/releases/1.4.0\">1.4.0</a>",
            "<option selected>pending</option>",
            "name=\"version\" type=\"search\" value=\"1.\"",
            "<a href=\"/releases\">Clear filters</a>",
        ],
    );
    assert!(
        !pending.body.contains("/releases/1.5.0"),
        "{}",
        pending.body
    );
    let none = host.get("/releases?cluster=prod-east");
    none.assert_shows(200, &["No release matches these filters."]);

    let typo = host.get("/releases?version=1.4%25");
    typo.assert_shows(
        400,
        &["This cannot be looked up", "Version starts with: `1.4%`"],
    );
    let look_alike = host.get("/audit?actor=d%D0%B0ve");
    look_alike.assert_shows(400, &["This cannot be looked up", "Actor: "]);

    let created = host.get("/audit?action=release.created&target=release%2F1.4.0");
    created.assert_shows(
        200,
        &["<code>release.created</code>", "value=\"release/1.4.0\""],
    );
    assert!(
        !created.body.contains("<code>approval.requested</code>"),
        "{}",
        created.body
    );
    assert!(
        !created.body.contains(">release/1.5.0<"),
        "{}",
        created.body
    );
    host.get("/audit?actor=nobody")
        .assert_shows(200, &["No audit event matches these filters."]);
}

/// With a repository and Rundeck configured, a release links its commit and the changes since
/// the release it replaces, pending approvals link to the approve job, and two releases
/// compare side by side; without a choice the comparison says what to do, and half a choice
/// or an unknown release gets a page that says which.
fn releases_link_out_and_compare(runtime: Runtime) {
    let host = console(runtime, "links")
        .var("repository_url", "https://git.example.com/acme/app")
        .var("repository_style", "gitlab")
        .var(
            "rundeck_job_url",
            "https://rundeck.example.com/project/automatizacion/job/show/0b1c",
        )
        .start();
    host.pending_release_story("1.4.0", "Faster pages.");
    let kestra = token("kestra", &["deployer"]);
    let next_commit = "fedcba9876543210fedcba9876543210fedcba98";
    let mut later = host_harness::release_body("1.5.0");
    later["digest"] =
        "sha256:5555555555555555555555555555555555555555555555555555555555555555".into();
    later["commit"] = next_commit.into();
    assert_eq!(host.post_json("/api/releases", &kestra, &later).status, 201);
    let first_commit = host_harness::release_body("1.4.0")["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let decide =
        "https://rundeck.example.com/project/automatizacion/job/show/0b1c?opt.version=1.4.0";

    let newer = host.get("/releases/1.5.0");
    newer.assert_shows(
        200,
        &[
            &format!("href=\"https://git.example.com/acme/app/-/commit/{next_commit}\""),
            "<a href=\"/releases/1.4.0\">1.4.0</a>: <a href=\"/compare?from=1.4.0&#38;to=1.5.0\">",
            &format!(
                "href=\"https://git.example.com/acme/app/-/compare/{first_commit}...{next_commit}\""
            ),
        ],
    );
    let first = host.get("/releases/1.4.0");
    first.assert_shows(200, &["nothing: the first release", decide]);
    host.get("/approvals?state=pending")
        .assert_shows(200, &[decide]);
    host.get("/").assert_shows(200, &[decide]);

    let compared = host.get("/compare?from=1.4.0&to=1.5.0");
    compared.assert_shows(
        200,
        &[
            "<h1>Compare 1.4.0 with 1.5.0</h1>",
            "The artifact differs (another digest).",
            &format!("/-/compare/{first_commit}...{next_commit}"),
            "<h2 id=\"from-heading\">From 1.4.0</h2>",
            "staging <span class=\"env\">staging</span>: <span class=\"badge ok\">succeeded</span>",
            "not deployed",
        ],
    );
    host.get("/compare")
        .assert_shows(200, &["Choose two releases to compare"]);
    host.get("/compare?from=1.4.0")
        .assert_shows(400, &["To: a comparison needs two releases"]);
    host.get("/compare?from=1.4.0&to=9.9.9")
        .assert_shows(404, &["The ledger has no release 9.9.9."]);
}

fn assets_are_served_with_etag_and_cache_control(runtime: Runtime) {
    let host = console(runtime, "assets").start();
    let page = host.get("/healthz");
    assert_eq!(page.status, 200);
    let overview = host.get("/");
    let href = overview
        .body
        .split("href=\"")
        .find_map(|rest| {
            rest.split('"')
                .next()
                .filter(|h| h.starts_with("/static/console.css"))
        })
        .expect("the page links its stylesheet")
        .to_owned();
    let css = host.get(&href);
    css.assert_is(200, "text/css; charset=utf-8");
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let etag = css.header("etag").unwrap().to_owned();
    let again = host.get_with(&href, &[("if-none-match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
}

fn an_unknown_release_is_a_404_page(runtime: Runtime) {
    let host = console(runtime, "404").start();
    let missing = ["The ledger has no release 9.9.9."];
    host.get("/releases/9.9.9").assert_shows(404, &missing);
    let nowhere = ["<h1>Page not found</h1>"];
    host.get("/no/such/page").assert_shows(404, &nowhere);
}

fn a_backend_that_is_down_gives_a_503_page_with_a_banner(runtime: Runtime) {
    let closed = free_port();
    let host = console_of(runtime, "down", closed).start();
    for path in ["/", "/releases", "/releases/1.4.0", "/approvals", "/audit"] {
        let page = host.get(path);
        assert_eq!(page.status, 503, "{path}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""), "{path}");
        assert!(
            page.body.contains("The release ledger is not answering"),
            "{path}"
        );
        assert!(!page.body.contains("127.0.0.1"), "{path}: no internals");
    }
}

fn a_backend_slower_than_the_timeout_gives_a_503_page(runtime: Runtime) {
    let (host, _) = console_before_double(runtime, "slow", true, &[("backend_timeout_ms", "300")]);
    let page = host.get("/");
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("The release ledger is not answering"));
    assert!(
        page.body.contains("<div id=\"live\""),
        "the overview still renders"
    );
    // The backend double never answers, so only the console's own deadline can have ended the
    // wait; its log line says that it did.
    let line = host.wait_for_line(|l| l.contains("\"route\":\"/\",\"status\":503"));
    assert!(line.contains("no answer before the deadline"), "{line}");
}

fn a_backend_error_gives_a_502_page_whose_request_id_is_in_both_logs(runtime: Runtime) {
    // Reads need a token here, and the console has none: the backend answers 401.
    let host = console(runtime, "502").var("public_read", "false").start();
    let page = host.get("/releases");
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains("The release ledger returned an error"));
    let id = page
        .body
        .split("Request id: <code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the page shows the request id")
        .to_owned();
    assert_eq!(id.len(), 32);
    // The backend's status stays in the logs. What the page says is its <main>, without the id:
    // random hex holds "401" about once in 140 pages (a clean-clone CI met one), and the asset
    // links outside <main> carry content hashes.
    let main = page
        .body
        .split("<main")
        .nth(1)
        .and_then(|rest| rest.split("</main>").next());
    let shown = main.expect("the page has a <main>").replace(&id, "");
    assert!(
        shown.contains("The release ledger returned an error"),
        "{shown}"
    );
    assert!(
        !shown.contains("401") && !shown.contains("Unauthorized"),
        "{shown}"
    );
    host.wait_for_line(|l| {
        l.contains(&id) && l.contains("\"route\":\"/api/releases\",\"status\":401")
    });
    host.wait_for_line(|l| l.contains(&id) && l.contains("\"route\":\"/releases\",\"status\":502"));
}

fn with_public_reads_off_the_console_reads_with_its_viewer_token(runtime: Runtime) {
    let viewer = token("console", &["viewer"]);
    let host = console(runtime, "token")
        .var("public_read", "false")
        .var("backend_token", &viewer)
        .start();
    host.pending_release_story("2.0.0", "");
    for path in ["/", "/releases", "/releases/2.0.0", "/approvals", "/audit"] {
        assert_eq!(host.get(path).status, 200, "{path}");
    }
}

/// The split SpinApps of a cluster: the backend alone (`spin up -c backend`) and the console
/// alone (`-c frontend`) with `backend_url` pointing at it.
fn the_console_alone_reaches_a_backend_alone_by_url_as_in_clusters(runtime: Runtime) {
    let backend = console(runtime, "cluster-backend")
        .component("backend")
        .var("cluster_name", "prod-east")
        .start();
    backend.pending_release_story("3.1.0", "");
    assert_eq!(
        backend.get("/").status,
        404,
        "the backend alone has no console"
    );
    let frontend = console(runtime, "cluster-frontend")
        .component("frontend")
        .var("backend_url", &backend.base)
        .ready_path("/healthz")
        .start();
    let overview = frontend.get("/");
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(
        overview
            .body
            .contains("Served by <strong>prod-east</strong>")
    );
    assert!(overview.body.contains("3.1.0"));
    // The API's paths are the console's there: a console 404 page, not the API.
    assert_eq!(frontend.get("/api/health").status, 404);
}

/// The console alone with the default `backend_url` chains to a component the app does not
/// run: Spin traps the console (a bare 500), and spin-host fails the request the same way.
fn the_console_alone_without_backend_url_fails_every_page(runtime: Runtime) {
    let frontend = console(runtime, "no-backend")
        .component("frontend")
        .ready_path("/healthz")
        .start();
    let page = frontend.get("/releases");
    assert_eq!((page.status, page.body.as_str()), (500, ""));
    frontend.wait_for_line(|l| l.contains("unknown routing destination 'backend'"));
}

/// The heads of the requests a backend double received, each as its lines.
type Received = Arc<Mutex<Vec<Vec<String>>>>;

/// The console (with VARS) in front of a backend double on loopback that records each
/// request's head and then answers 503, or, when SILENT, holds the connection and never
/// answers.
fn console_before_double(
    runtime: Runtime,
    label: &str,
    silent: bool,
    vars: &[(&str, &str)],
) -> (Host, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Received::default();
    let record = received.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().map_while(Result::ok) {
            if silent {
                held.push(stream);
                continue;
            }
            let lines: Vec<String> = BufReader::new(stream.try_clone().unwrap())
                .lines()
                .map_while(Result::ok)
                .take_while(|l| !l.is_empty())
                .collect();
            record.lock().unwrap().push(lines);
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    let mut console = console_of(runtime, label, port);
    for (name, value) in vars {
        console = console.var(name, value);
    }
    (console.start(), received)
}

fn a_recording_backend_double_sees_only_the_consoles_own_headers(runtime: Runtime) {
    let vars = [("backend_token", "viewer-token")];
    let (host, requests) = console_before_double(runtime, "headers", false, &vars);
    let page = host.get_with(
        "/audit",
        &[
            ("authorization", "Bearer browser-token"),
            ("cookie", "session=browser"),
        ],
    );
    assert_eq!(page.status, 503);
    let requests = requests.lock().unwrap();
    let request = requests.last().expect("the console called the backend");
    let lowered: Vec<String> = request.iter().map(|l| l.to_ascii_lowercase()).collect();
    assert!(
        lowered[0].starts_with("get /api/audit?limit=50 "),
        "{request:?}"
    );
    assert!(
        lowered.contains(&"authorization: bearer viewer-token".to_owned()),
        "{request:?}"
    );
    assert!(
        !lowered.iter().any(|l| l.contains("browser")),
        "{request:?}"
    );
    assert!(
        !lowered.iter().any(|l| l.starts_with("cookie:")),
        "{request:?}"
    );
}

/// One trace across the console and the API it calls: a caller's `traceparent` reaches the
/// backend through Spin's service chaining, and both log lines carry its trace id.
fn a_pages_trace_id_is_in_the_consoles_and_the_backends_log_lines(runtime: Runtime) {
    let host = console(runtime, "trace").start();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let page = host.get_with(
        "/releases",
        &[("traceparent", &format!("00-{trace}-00f067aa0ba902b7-01"))],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let trace_field = format!("\"trace_id\":\"{trace}\"");
    host.wait_for_line(|l| l.contains(&trace_field) && l.contains("\"route\":\"/api/releases\""));
    host.wait_for_line(|l| l.contains(&trace_field) && l.contains("\"route\":\"/releases\""));
    // Without one, the console starts a trace and the backend continues it.
    let page = host.get("/approvals");
    assert_eq!(page.status, 200);
    let console_line = host.wait_for_line(|l| l.contains("\"route\":\"/approvals\""));
    let started = console_line.split("\"trace_id\":\"").nth(1).unwrap()[..32].to_owned();
    assert_ne!(started, trace);
    host.wait_for_line(|l| {
        l.contains(&format!("\"trace_id\":\"{started}\""))
            && l.contains("\"route\":\"/api/approvals\"")
    });
}

host_harness::on_both_runtimes!(
    a_pages_trace_id_is_in_the_consoles_and_the_backends_log_lines,
    every_page_shows_a_release_story_created_through_the_api,
    releases_and_the_audit_log_filter_through_the_api,
    releases_link_out_and_compare,
    assets_are_served_with_etag_and_cache_control,
    an_unknown_release_is_a_404_page,
    a_backend_that_is_down_gives_a_503_page_with_a_banner,
    a_backend_slower_than_the_timeout_gives_a_503_page,
    a_backend_error_gives_a_502_page_whose_request_id_is_in_both_logs,
    with_public_reads_off_the_console_reads_with_its_viewer_token,
    the_console_alone_reaches_a_backend_alone_by_url_as_in_clusters,
    the_console_alone_without_backend_url_fails_every_page,
    a_recording_backend_double_sees_only_the_consoles_own_headers,
);
