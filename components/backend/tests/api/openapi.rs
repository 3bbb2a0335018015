//! The served OpenAPI document: every route, every error, every limit.

use super::support::*;

#[test]
fn the_openapi_document_covers_every_route_and_error() {
    let app = App::sqlite();
    let doc = app.send(get("/api/openapi.json")).json_body();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], backend::VERSION);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    let routes = backend::route_table();
    let patterns: std::collections::BTreeSet<&str> =
        routes.iter().map(|r| r.pattern.as_str()).collect();
    assert_eq!(
        paths
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        patterns
    );
    for route in &routes {
        let method = route.method;
        let operation = &paths[&route.pattern][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {} is not documented",
            route.pattern
        );
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/Problem",
                    "{method} {} {status}",
                    route.pattern
                );
            }
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Release",
        "ReleaseDetail",
        "Deployment",
        "Approval",
        "ClusterStatus",
        "AuditEvent",
        "Problem",
        "ReleaseInput",
        "DeploymentInput",
        "DecisionInput",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    // Every status the router can return for a write is documented on the write routes.
    let create = &paths["/api/releases"]["post"]["responses"];
    for status in [
        "200", "201", "400", "401", "403", "409", "413", "415", "422",
    ] {
        assert!(
            create[status].is_object(),
            "POST /api/releases lacks {status}"
        );
    }
    assert_eq!(
        schemas["ReleaseInput"]["required"],
        json!(["version", "artifact", "digest", "commit"])
    );
    // One maximum per text field: the document states the limits the server enforces.
    for (schema, field, limit) in [
        ("ReleaseInput", "version", ledger::types::MAX_VERSION_CHARS),
        ("ReleaseInput", "notes", ledger::types::MAX_NOTES),
        ("DeploymentInput", "message", ledger::types::MAX_MESSAGE),
        ("DecisionInput", "comment", ledger::types::MAX_COMMENT),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["maxLength"],
            json!(limit),
            "{schema}.{field}"
        );
    }
}
