//! What the console sends the backend: its own token, to the configured URL, in the page's
//! trace.

use super::doubles::*;
use frontend::ConsoleRequest;

#[test]
fn the_console_sends_its_own_token_and_never_the_browsers_credentials() {
    let backend = story();
    let req = ConsoleRequest::get("/")
        .header("authorization", "Bearer browser-token")
        .header("cookie", "session=browser-cookie");
    render_with(&req, &backend, &[("backend_token", "viewer-token")]);
    for outgoing in backend.sent.borrow().iter() {
        let names: Vec<&str> = outgoing.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["accept", "x-request-id", "traceparent", "authorization"]
        );
        assert!(
            outgoing
                .headers
                .contains(&("authorization".into(), "Bearer viewer-token".into()))
        );
        assert!(
            outgoing
                .url
                .starts_with("http://backend.spin.internal/api/")
        );
    }
    // Without a configured token, no authorization header at all.
    let anonymous = story();
    render_with(&req, &anonymous, &[]);
    assert!(
        anonymous
            .sent
            .borrow()
            .iter()
            .all(|o| o.headers.iter().all(|(n, _)| n != "authorization"))
    );
}

#[test]
fn a_configured_backend_url_is_used() {
    let backend = story();
    render_with(
        &ConsoleRequest::get("/"),
        &backend,
        &[(
            "backend_url",
            "http://automatizacion-backend.automatizacion.svc.cluster.local/",
        )],
    );
    assert!(backend.sent.borrow().iter().all(|o| {
        o.url
            .starts_with("http://automatizacion-backend.automatizacion.svc.cluster.local/api/")
    }));
}

#[test]
fn backend_calls_carry_the_pages_trace_with_the_consoles_span() {
    // A caller's trace continues: its id, the console's span as the parent.
    let backend = story();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let req = ConsoleRequest::get("/").header("traceparent", caller);
    let (_, log) = render_with(&req, &backend, &[]);
    assert_eq!(log.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    let sent = backend.sent.borrow();
    assert!(!sent.is_empty());
    for outgoing in sent.iter() {
        let expected = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{SPAN_ID}-01");
        assert!(
            outgoing.headers.contains(&("traceparent".into(), expected)),
            "{:?}",
            outgoing.headers
        );
    }
    drop(sent);
    // Without one (or with one that is not W3C), the page starts its own trace.
    for req in [
        ConsoleRequest::get("/"),
        ConsoleRequest::get("/").header("traceparent", "00-XYZ"),
    ] {
        let backend = story();
        let (_, log) = render_with(&req, &backend, &[]);
        assert_eq!(log.trace_id, TRACE_ID);
        let expected = format!("00-{TRACE_ID}-{SPAN_ID}-01");
        assert!(
            backend.sent.borrow()[0]
                .headers
                .contains(&("traceparent".into(), expected))
        );
    }
}
