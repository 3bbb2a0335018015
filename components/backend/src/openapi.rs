//! The OpenAPI 3.1 document: its paths from the route table, its schemas from the Rust types,
//! then the constraints the server enforces (from the same constants the validators use) and
//! the links that lead a client from a new release to its approval decision.

use crate::problem::Problem;
use crate::query::CURSOR_PATTERN;
use crate::routes::Route;
use ledger::Clusters;
use ledger::drift::MAX_SOURCE;
use ledger::filters::{AUDIT_ACTIONS, ApprovalFilter, AuditTarget, VersionPrefix};
use ledger::insights::Window;
use ledger::model::PageRequest;
use ledger::types::{
    ArtifactRef, CommitSha, Digest, MAX_COMMENT, MAX_MESSAGE, MAX_NOTES, Subject, TEXT_PATTERN,
    Version, WebUrl,
};
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Automatización release ledger",
        description = "Which release runs in which cluster, the approvals that gate production, and the audit trail. \
                       Errors are application/problem+json (RFC 9457).",
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "releases", description = "Releases: one OCI artifact per version"),
        (name = "deployments", description = "Deployment events and what each cluster runs"),
        (name = "approvals", description = "The production approval gate"),
        (name = "audit", description = "The append-only audit log"),
        (name = "insights", description = "DORA's four keys, from the ledger's record"),
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

/// The document of the routes in `table`, for a backend serving `clusters` (deployments name
/// one of them).
pub fn document(table: &[Route], clusters: &Clusters) -> Value {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::build_info::VERSION.to_owned();
    for route in table {
        let mut schemas = Vec::new();
        (route.schemas)(&mut schemas);
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        let method = match route.method {
            "POST" => HttpMethod::Post,
            _ => HttpMethod::Get,
        };
        doc.paths
            .add_path_operation(&route.pattern, vec![method], (route.operation)());
    }
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    constrain(&mut doc, clusters);
    link(&mut doc);
    doc
}

/// Puts the server's own bounds on every parameter and input field.
fn constrain(doc: &mut Value, clusters: &Clusters) {
    // Each validated type states its own rule (crates/ledger/src/types.rs).
    let version =
        json!({"type": "string", "pattern": Version::PATTERN, "maxLength": Version::MAX_CHARS});
    let text = |max: usize| json!({"type": "string", "maxLength": max, "pattern": TEXT_PATTERN});
    let bounds = [
        ("version", version.clone()),
        (
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": PageRequest::MAX_LIMIT}),
        ),
        (
            "cursor",
            json!({"type": "string", "pattern": CURSOR_PATTERN}),
        ),
        (
            "days",
            json!({"type": "integer", "minimum": 1, "maximum": Window::MAX_DAYS}),
        ),
    ];
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut() {
                let parameters = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut);
                for parameter in parameters.into_iter().flatten() {
                    let name = parameter["name"].as_str().unwrap_or_default();
                    if let Some((_, schema)) = bounds.iter().find(|(n, _)| *n == name) {
                        parameter["schema"] = schema.clone();
                    }
                }
            }
        }
    }
    let names: Vec<&str> = clusters.iter().map(|(name, _)| name.as_str()).collect();
    let subject = json!({"type": ["string", "null"], "pattern": Subject::DOCUMENTED_PATTERN,
                         "maxLength": Subject::MAX_CHARS});
    let fields = [
        ("ReleaseInput", "version", version),
        (
            "ReleaseInput",
            "artifact",
            json!({"type": "string", "pattern": ArtifactRef::PATTERN, "maxLength": ArtifactRef::MAX_CHARS}),
        ),
        (
            "ReleaseInput",
            "digest",
            json!({"type": "string", "pattern": Digest::PATTERN}),
        ),
        (
            "ReleaseInput",
            "commit",
            json!({"type": "string", "pattern": CommitSha::PATTERN}),
        ),
        ("ReleaseInput", "notes", text(MAX_NOTES)),
        ("ReleaseInput", "on_behalf_of", subject.clone()),
        ("ApprovalRequestInput", "on_behalf_of", subject),
        (
            "DeploymentInput",
            "cluster",
            json!({"type": "string", "enum": names}),
        ),
        (
            "DeploymentInput",
            "message",
            json!({"type": ["string", "null"], "maxLength": MAX_MESSAGE, "pattern": TEXT_PATTERN}),
        ),
        (
            "DeploymentInput",
            "execution_url",
            json!({"type": ["string", "null"], "pattern": WebUrl::PATTERN, "maxLength": WebUrl::MAX_CHARS}),
        ),
        ("DecisionInput", "comment", text(MAX_COMMENT)),
        (
            "ObservationInput",
            "digest",
            json!({"type": "string", "pattern": Digest::PATTERN}),
        ),
        ("ObservationInput", "source", text(MAX_SOURCE)),
    ];
    let schemas = &mut doc["components"]["schemas"];
    for (schema, field, constraint) in fields {
        schemas[schema]["properties"][field] = constraint;
    }
    // The list filters (crates/ledger/src/filters.rs): a version's start, not a version.
    let person = json!({"type": "string", "pattern": Subject::DOCUMENTED_PATTERN,
                        "maxLength": Subject::MAX_CHARS});
    let filters = [
        (
            "/api/releases",
            "version",
            json!({"type": "string", "pattern": VersionPrefix::PATTERN}),
        ),
        (
            "/api/releases",
            "state",
            json!({"type": "string", "enum": ApprovalFilter::WORDS}),
        ),
        (
            "/api/releases",
            "cluster",
            json!({"type": "string", "enum": names}),
        ),
        ("/api/releases", "person", person.clone()),
        (
            "/api/audit",
            "action",
            json!({"type": "string", "enum": AUDIT_ACTIONS}),
        ),
        ("/api/audit", "actor", person),
        (
            "/api/audit",
            "target",
            json!({"type": "string", "pattern": AuditTarget::PATTERN,
                   "maxLength": AuditTarget::MAX_CHARS}),
        ),
    ];
    for (path, name, schema) in filters {
        let parameters = doc["paths"][path]["get"]["parameters"].as_array_mut();
        for parameter in parameters.into_iter().flatten() {
            if parameter["name"] == name && parameter["in"] == "query" {
                parameter["schema"] = schema.clone();
            }
        }
    }
    // An observation names a configured cluster.
    let name = &mut doc["paths"]["/api/clusters/{name}/observations"]["post"]["parameters"][0];
    name["schema"] = json!({"type": "string", "enum": names});
    // An approval request takes no fields, so it may come without a body.
    doc["paths"]["/api/releases/{version}/approval"]["post"]["requestBody"]["required"] =
        json!(false);
    let schemas = &mut doc["components"]["schemas"];
    // A rejection says why: its comment must hold more than white space.
    schemas["DecisionInput"]["if"] = json!({"properties": {"decision": {"const": "reject"}}});
    schemas["DecisionInput"]["then"] =
        json!({"properties": {"comment": {"pattern": "[^\\s]"}}, "required": ["comment"]});
}

/// Links from each answer to the operations that take the same release further, so that a
/// client (or a stateful tester) can walk from a new release to its approval decision.
fn link(doc: &mut Value) {
    let to = |operation: &str, description: &str| {
        json!({
            "operationId": operation,
            "parameters": {"version": "$response.body#/version"},
            "description": description,
        })
    };
    let get = to(
        "get_release",
        "The release, its deployments and its approval",
    );
    let deploy = to("record_deployment", "Record a deployment of this release");
    let request = to(
        "request_approval",
        "Request this release's production approval",
    );
    let decide = to("decide", "Decide this release's pending approval");
    let links = [
        (
            "/api/releases",
            "post",
            &["200", "201"][..],
            json!({"GetRelease": get, "RecordDeployment": deploy, "RequestApproval": request}),
        ),
        (
            "/api/releases/{version}/deployments",
            "post",
            &["201"],
            json!({"GetRelease": get, "RecordDeployment": deploy, "RequestApproval": request}),
        ),
        (
            "/api/releases/{version}/approval",
            "post",
            &["201"],
            json!({"GetRelease": get, "DecideApproval": decide}),
        ),
        (
            "/api/releases/{version}/approval/decision",
            "post",
            &["200"],
            json!({"GetRelease": get}),
        ),
    ];
    for (path, method, statuses, these) in links {
        for status in statuses {
            doc["paths"][path][method]["responses"][*status]["links"] = these.clone();
        }
    }
}
