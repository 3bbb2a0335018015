//! Routing: each request to its route from the table in `routes`, and the one place where
//! errors become problem responses and every request becomes an access-log line. The OpenAPI
//! document is served from here: it is made from the whole table, which only the router sees.

use crate::call::Call;
use crate::handlers::Handled;
use crate::host::Host;
use crate::http::{ApiRequest, ApiResponse};
use crate::openapi;
use crate::problem::{ApiError, Unavailable};
use crate::routes::{self, Route};
use spin_edge::AccessLog;

/// Every route: the API's, and the document that describes them all, after `/api/info`.
pub fn route_table() -> Vec<Route> {
    let mut table = routes::all();
    let after_info = table.iter().position(|r| r.pattern == "/api/info");
    let document = Route::of::<__path_openapi_json>(openapi_json);
    table.insert(after_info.map_or(0, |i| i + 1), document);
    table
}

/// The OpenAPI document a backend serving `clusters` answers at `/api/openapi.json`.
pub fn openapi_document(clusters: &ledger::Clusters) -> serde_json::Value {
    openapi::document(&route_table(), clusters)
}

/// This document: OpenAPI 3.1, generated from the Rust types.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document, with the configured clusters", body = Object),
        Unavailable))]
fn openapi_json(cx: &mut Call) -> Handled {
    let document = openapi_document(&cx.settings()?.clusters);
    Ok(ApiResponse::json(200, &document))
}

/// Handles one request and describes it for the access log.
pub fn handle(req: &ApiRequest, host: &Host) -> (ApiResponse, AccessLog) {
    let started = std::time::Instant::now();
    let request_id = req
        .header_value("x-request-id")
        .filter(|id| valid_request_id(id))
        .map_or_else(|| host.fresh_request_id.clone(), str::to_owned);
    let trace_id = spin_edge::trace_id_of(req.header_value("traceparent"), &host.fresh_trace_id);
    let routes = route_table();
    let (matching, path_segment) = routes::matching(&routes, &req.path);
    let mut call = Call {
        req,
        host,
        request_id,
        path_segment,
        principal: None,
        settings: None,
        body: None,
    };
    // HEAD is GET without the body (RFC 9110).
    let head = req.method == "HEAD";
    let method = if head { "GET" } else { req.method.as_str() };
    let route = matching
        .iter()
        .map(|&i| &routes[i])
        .find(|route| route.method == method);
    let result = match (route, matching.first()) {
        (Some(route), _) => (route.handler)(&mut call),
        (None, Some(_)) => Err(ApiError::MethodNotAllowed(
            matching.iter().map(|&i| routes[i].method).collect(),
        )),
        (None, None) => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    };
    let (response, error) = match result {
        Ok(response) => (response, None),
        Err(e) => (
            problem_response(&e, &req.path, &call.request_id),
            e.log_detail().map(str::to_owned),
        ),
    };
    let mut response = response
        .with_header("x-request-id", &call.request_id)
        // Answers are about one caller at one moment, and are never to be sniffed as HTML.
        .with_header("cache-control", "no-store")
        .with_header("x-content-type-options", "nosniff");
    if head {
        response.body.clear();
    }
    let log = AccessLog {
        method: req.method.clone(),
        route: matching
            .first()
            .map_or_else(|| "-".to_owned(), |&i| routes[i].pattern.clone()),
        status: response.status,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        request_id: call.request_id,
        trace_id,
        actor: Some(
            call.principal
                .map_or_else(|| "-".into(), |p| p.subject.to_string()),
        ),
        error,
    };
    (response, log)
}

fn problem_response(e: &ApiError, path: &str, request_id: &str) -> ApiResponse {
    let problem = e.to_problem(path, request_id);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let response = ApiResponse::new(problem.status, "application/problem+json", body);
    match e {
        ApiError::Unauthorized(_) => {
            response.with_header("www-authenticate", "Bearer error=\"invalid_token\"")
        }
        ApiError::MethodNotAllowed(allowed) => {
            response.with_header("allow", &allow_header(allowed))
        }
        _ => response,
    }
}

/// The methods a route allows, HEAD wherever GET is.
fn allow_header(allowed: &[&str]) -> String {
    let with_head = allowed.iter().flat_map(|&method| match method {
        "GET" => vec!["GET", "HEAD"],
        other => vec![other],
    });
    with_head.collect::<Vec<_>>().join(", ")
}

/// Ids from callers are kept if short and plain, so they are safe to log and echo.
fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_callers_must_be_plain() {
        assert!(valid_request_id("kestra-exec-42:task.1"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(&"x".repeat(129)));
    }
}
