//! Routing: the route table, the per-request context, and the one place where errors become
//! problem responses and every request becomes an access-log line.

use crate::access_log::AccessLog;
use crate::auth::{Principal, Role, bearer_token};
use crate::handlers;
use crate::http::{ApiRequest, ApiResponse, Body, Host};
use crate::input;
use crate::problem::ApiError;
use crate::settings::Settings;
use ledger::types::Version;
use ledger::{Context, Ledger, LedgerError};
use serde::de::DeserializeOwned;

/// A route: its pattern (as in the OpenAPI document) and the methods it accepts.
pub struct RouteSpec {
    pub pattern: &'static str,
    pub methods: &'static [&'static str],
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        pattern: "/api/health",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/ready",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/info",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/openapi.json",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/metrics",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/releases",
        methods: &["GET", "POST"],
    },
    RouteSpec {
        pattern: "/api/releases/{version}",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/releases/{version}/deployments",
        methods: &["POST"],
    },
    RouteSpec {
        pattern: "/api/releases/{version}/approval",
        methods: &["POST"],
    },
    RouteSpec {
        pattern: "/api/releases/{version}/approval/decision",
        methods: &["POST"],
    },
    RouteSpec {
        pattern: "/api/clusters",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/approvals",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/audit",
        methods: &["GET"],
    },
    RouteSpec {
        pattern: "/api/overview",
        methods: &["GET"],
    },
];

/// Finds the route for a path, and the `{version}` segment if the pattern has one.
fn find_route(path: &str) -> Option<(&'static RouteSpec, Option<&str>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES.iter().find_map(|route| {
        let pattern: Vec<&str> = route.pattern.split('/').collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut version = None;
        for (want, got) in pattern.iter().zip(&segments) {
            if *want == "{version}" {
                version = Some(*got).filter(|v| !v.is_empty());
                version?;
            } else if want != got {
                return None;
            }
        }
        Some((route, version))
    })
}

/// Handles one request and describes it for the access log.
pub fn handle(req: &ApiRequest, host: &Host) -> (ApiResponse, AccessLog) {
    let started = std::time::Instant::now();
    let request_id = req
        .header_value("x-request-id")
        .filter(|id| valid_request_id(id))
        .map_or_else(|| host.fresh_request_id.clone(), str::to_owned);
    let trace_id =
        trace_context::trace_id_of(req.header_value("traceparent"), &host.fresh_trace_id);
    let route = find_route(&req.path);
    let mut call = Call {
        req,
        host,
        request_id,
        principal: None,
        settings: None,
        body: None,
    };
    // HEAD is GET without the body (RFC 9110).
    let head = req.method == "HEAD";
    let method = if head { "GET" } else { req.method.as_str() };
    let result = match route {
        None => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        Some((spec, _)) if !spec.methods.contains(&method) => {
            Err(ApiError::MethodNotAllowed(spec.methods))
        }
        Some((spec, version)) => handlers::dispatch(&mut call, method, spec.pattern, version),
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
        route: route.map_or("-", |(spec, _)| spec.pattern),
        status: response.status,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        request_id: call.request_id,
        trace_id,
        actor: call
            .principal
            .map_or_else(|| "-".into(), |p| p.subject.to_string()),
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

/// One request in flight: what handlers need, loaded on first use.
pub struct Call<'r, 'h> {
    pub req: &'r ApiRequest,
    pub host: &'r Host<'h>,
    pub request_id: String,
    principal: Option<Principal>,
    settings: Option<Settings>,
    body: Option<Body>,
}

impl<'r> Call<'r, '_> {
    /// The request body, read on first use: only routes that take one ask, and only after
    /// they authenticated the caller, so an anonymous client cannot make the host wait on it.
    fn body(&mut self) -> &Body {
        let (req, host) = (self.req, self.host);
        self.body.get_or_insert_with(|| match &req.body {
            Body::Unread => (host.read_body)(),
            read => read.clone(),
        })
    }

    /// The body as JSON of type `T` (see [`input::json_body`]).
    pub fn json_body<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let content_type = self.req.header_value("content-type");
        input::json_body(self.body(), content_type)
    }

    /// Like [`Call::json_body`], but an empty body stands for `{}`.
    pub fn optional_json_body<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let content_type = self.req.header_value("content-type");
        input::optional_json_body(self.body(), content_type)
    }

    /// The bearer token, if any. Two `Authorization` headers are refused: which one counts
    /// would depend on who reads them.
    fn bearer(&self) -> Result<Option<&'r str>, ApiError> {
        let req: &'r ApiRequest = self.req;
        if req.header_values("authorization").nth(1).is_some() {
            return Err(ApiError::Unauthorized(
                "send one Authorization header, not several".into(),
            ));
        }
        Ok(bearer_token(req.header_value("authorization")))
    }

    pub fn settings(&mut self) -> Result<&Settings, ApiError> {
        if self.settings.is_none() {
            let settings = Settings::load(self.host.variable).map_err(ApiError::Unavailable)?;
            self.settings = Some(settings);
        }
        Ok(self.settings.as_ref().expect("loaded above"))
    }

    /// Reads need any role, unless `public_read` lets everyone read.
    pub fn authorize_read(&mut self) -> Result<(), ApiError> {
        if self.settings()?.public_read && self.bearer()?.is_none() {
            return Ok(());
        }
        let principal = self.authenticate()?;
        if !principal.may_read() {
            return Err(ApiError::Forbidden(
                "reading needs a token with a role".into(),
            ));
        }
        Ok(())
    }

    /// Writes always need a token carrying `role` (or admin).
    pub fn authorize(&mut self, role: Role) -> Result<Context, ApiError> {
        let principal = self.authenticate()?;
        if !principal.has(role) {
            return Err(ApiError::Forbidden(format!(
                "this needs the `{}` role",
                role.as_str()
            )));
        }
        Ok(Context {
            actor: principal.subject.clone(),
            request_id: self.request_id.clone(),
            now: self.host.now,
        })
    }

    fn authenticate(&mut self) -> Result<&Principal, ApiError> {
        let token = self.bearer()?.ok_or_else(|| {
            ApiError::Unauthorized("send a bearer token: Authorization: Bearer <JWT>".into())
        })?;
        let principal = self
            .settings()?
            .verifier
            .verify(token)
            .map_err(ApiError::Unauthorized)?;
        Ok(self.principal.insert(principal))
    }

    /// Runs a read against the ledger: see [`Ledger::read`] for why it skips the migration
    /// check. `work` may run twice, once more after migrating.
    pub fn read_ledger<T>(
        &mut self,
        work: impl Fn(&Ledger) -> Result<T, LedgerError>,
    ) -> Result<T, ApiError> {
        let now = self.host.now;
        let open_db = self.host.open_db;
        let settings = self.settings()?;
        let exec = open_db(settings.db_url.as_deref())?;
        Ok(Ledger::read(exec.as_ref(), &settings.clusters, now, work)?)
    }

    /// Runs a write against the ledger, opening the database (and migrating it) first.
    pub fn with_ledger<T>(
        &mut self,
        work: impl FnOnce(&Ledger) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let now = self.host.now;
        let open_db = self.host.open_db;
        let settings = self.settings()?;
        let exec = open_db(settings.db_url.as_deref())?;
        let ledger = Ledger::open(exec.as_ref(), &settings.clusters, now)?;
        work(&ledger)
    }
}

/// Parses the `{version}` segment that the route guarantees.
pub fn version_of(segment: Option<&str>) -> Result<Version, ApiError> {
    crate::input::path_version(segment.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_segments() {
        let (spec, version) = find_route("/api/releases/1.2.3/approval/decision").unwrap();
        assert_eq!(
            (spec.pattern, version),
            ("/api/releases/{version}/approval/decision", Some("1.2.3"))
        );
        assert_eq!(
            find_route("/api/releases/").unwrap().0.pattern,
            "/api/releases"
        );
        assert!(find_route("/api/releases//deployments").is_none());
        assert!(find_route("/api/releasesx").is_none());
        assert!(find_route("/api").is_none());
    }

    #[test]
    fn request_ids_from_callers_must_be_plain() {
        assert!(valid_request_id("kestra-exec-42:task.1"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(&"x".repeat(129)));
    }
}
