//! The console's pages rendered natively against a scripted backend: what each page shows,
//! that everything is escaped, how each failure looks, and what the console sends the backend.

mod backend_calls;
mod doubles;
mod insights;
mod refusals;
mod views;

use doubles::{ScriptedBackend, render};

/// What every full page must have: landmarks, one h1, labelled tables, and the headers that
/// keep injected scripts from running.
pub fn assert_accessible_page(response: &frontend::ConsoleResponse) {
    let html = response.body_text();
    for landmark in [
        "<html lang=\"en\">",
        "<header",
        "<nav aria-label=\"Main\">",
        "<main",
        "<footer",
    ] {
        assert!(html.contains(landmark), "missing {landmark}");
    }
    assert!(html.contains("name=\"viewport\""));
    assert_eq!(html.matches("<h1>").count(), 1, "one h1");
    assert_eq!(
        html.matches("<table").count(),
        html.matches("<caption>").count()
    );
    let csp = response.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        !html.contains("<script>"),
        "no inline script, and nothing unescaped"
    );
}

/// PATH rendered against BACKEND: a 200 that passes [`assert_accessible_page`].
pub fn accessible_page(path: &str, backend: &ScriptedBackend) -> frontend::ConsoleResponse {
    let response = render(path, backend);
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert_accessible_page(&response);
    response
}

/// HTML holds each of TEXTS.
pub fn assert_holds(html: &str, texts: &[&str]) {
    for text in texts {
        assert!(html.contains(text), "no {text:?} in {html}");
    }
}
