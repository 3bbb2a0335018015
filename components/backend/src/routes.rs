//! The route table: every operation of the API, each named once by its handler. Its pattern
//! and method come from the handler's `#[utoipa::path]` attribute, so dispatch, the `Allow`
//! header and the OpenAPI document all read the same table and cannot disagree. The document's
//! own route is made from this table, so the router adds it (`router::route_table`).

use crate::call::Call;
use crate::handlers::{self, Handled};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{RefOr, schema::Schema};

/// One operation: a method on a path pattern, its handler, and its OpenAPI description.
pub struct Route {
    pub method: &'static str,
    /// The pattern, as in the OpenAPI document (`/api/releases/{version}`).
    pub pattern: String,
    pub handler: fn(&mut Call) -> Handled,
    /// Built only when the document is asked for: it is far larger than the route.
    pub operation: fn() -> Operation,
    /// Adds the schemas the operation names (its body, its answers) to a document.
    pub schemas: fn(&mut Vec<(String, RefOr<Schema>)>),
}

impl Route {
    pub(crate) fn of<P: utoipa::Path + utoipa::__dev::SchemaReferences>(
        handler: fn(&mut Call) -> Handled,
    ) -> Self {
        let method = match P::methods().as_slice() {
            [HttpMethod::Get] => "GET",
            [HttpMethod::Post] => "POST",
            _ => unreachable!("{} declares a method other than GET or POST", P::path()),
        };
        Self {
            method,
            pattern: P::path(),
            handler,
            operation: P::operation,
            // utoipa's own way of collecting a path's schemas, as its router integrations do.
            schemas: P::schemas,
        }
    }
}

/// Every route of the API but the document's own, in the order the document lists them.
pub fn all() -> Vec<Route> {
    use handlers::*;
    vec![
        Route::of::<__path_health>(health),
        Route::of::<__path_ready>(ready),
        Route::of::<__path_info>(info),
        Route::of::<__path_metrics_text>(metrics_text),
        Route::of::<__path_overview>(overview),
        Route::of::<__path_list_releases>(list_releases),
        Route::of::<__path_create_release>(create_release),
        Route::of::<__path_get_release>(get_release),
        Route::of::<__path_record_deployment>(record_deployment),
        Route::of::<__path_clusters>(clusters),
        Route::of::<__path_observe>(observe),
        Route::of::<__path_request_approval>(request_approval),
        Route::of::<__path_decide>(decide),
        Route::of::<__path_list_approvals>(list_approvals),
        Route::of::<__path_release_choices>(release_choices),
        Route::of::<__path_audit>(audit),
        Route::of::<__path_insights>(insights),
    ]
}

/// The routes whose pattern matches `path`, with its variable segment (`{version}`, `{name}`)
/// if it has one.
pub fn matching(routes: &[Route], path: &str) -> (Vec<usize>, Option<String>) {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut found = Vec::new();
    let mut segment = None;
    for (i, route) in routes.iter().enumerate() {
        let pattern: Vec<&str> = route.pattern.split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut variable = None;
        let fits = pattern.iter().zip(&segments).all(|(want, got)| {
            if want.starts_with('{') {
                variable = Some((*got).to_owned());
                !got.is_empty()
            } else {
                want == got
            }
        });
        if fits {
            found.push(i);
            segment = variable;
        }
    }
    (found, segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_segments() {
        let routes = all();
        let pattern_of = |path: &str| {
            let (found, version) = matching(&routes, path);
            (
                found
                    .iter()
                    .map(|&i| routes[i].pattern.clone())
                    .collect::<Vec<_>>(),
                version,
            )
        };
        assert_eq!(
            pattern_of("/api/releases/1.2.3/approval/decision"),
            (
                vec!["/api/releases/{version}/approval/decision".to_owned()],
                Some("1.2.3".to_owned())
            )
        );
        assert_eq!(
            pattern_of("/api/releases/").0,
            ["/api/releases", "/api/releases"]
        );
        assert!(pattern_of("/api/releases//deployments").0.is_empty());
        assert!(pattern_of("/api/releasesx").0.is_empty());
        assert!(pattern_of("/api").0.is_empty());
    }

    #[test]
    fn each_method_and_pattern_is_one_route() {
        let routes = all();
        let mut seen = std::collections::HashSet::new();
        for route in &routes {
            assert!(
                seen.insert((route.method, route.pattern.clone())),
                "{} {} twice",
                route.method,
                route.pattern
            );
        }
    }
}
