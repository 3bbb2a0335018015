//! The OpenAPI 3.1 document, generated from the handlers' attributes and the Rust types.

use crate::handlers;
use crate::input::{ApprovalRequestInput, DecisionInput, DeploymentInput, ReleaseInput};
use crate::problem::Problem;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Automatización release ledger",
        description = "Which release runs in which cluster, the approvals that gate production, and the audit trail. \
                       Errors are application/problem+json (RFC 9457).",
    ),
    paths(
        handlers::health, handlers::ready, handlers::info, handlers::openapi_json, handlers::metrics_text,
        handlers::list_releases, handlers::create_release, handlers::get_release,
        handlers::record_deployment, handlers::clusters,
        handlers::request_approval, handlers::decide, handlers::list_approvals,
        handlers::audit, handlers::overview,
    ),
    components(schemas(Problem, ReleaseInput, DeploymentInput, DecisionInput, ApprovalRequestInput)),
    modifiers(&BearerAuth),
    tags(
        (name = "releases", description = "Releases: one OCI artifact per version"),
        (name = "deployments", description = "Deployment events and what each cluster runs"),
        (name = "approvals", description = "The production approval gate"),
        (name = "audit", description = "The append-only audit log"),
        (name = "meta", description = "Health, readiness, build information, metrics"),
    ),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_owned();
    doc
}
