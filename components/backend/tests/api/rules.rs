//! One rule per field, stated twice: once for the parser (`crates/ledger/src/types/` and the
//! API's own inputs) and once for the served OpenAPI document, built from the same constants.
//! Every good and bad value below goes through both, and a disagreement in either direction
//! fails; then values generated from each documented pattern must all pass the parser, so
//! nothing the document allows is refused.

use super::pattern_samples::Generator;
use super::support::*;
use ledger::types::{
    ArtifactRef, ClusterName, CommitSha, Digest, MAX_COMMENT, MAX_MESSAGE, MAX_NOTES, Subject,
    Version, WebUrl, bounded_text,
};

/// The schema of FIELD of the input SCHEMA in the served document.
fn documented(doc: &Value, schema: &str, field: &str) -> Value {
    let found = doc["components"]["schemas"][schema]["properties"][field].clone();
    assert!(found.is_object(), "the document has no {schema}.{field}");
    found
}

/// Whether a JSON Schema string field takes VALUE: its enum, maxLength (in characters) and
/// pattern (ECMA-262, which these patterns keep to the part regex-lite shares).
pub fn document_takes(schema: &Value, value: &str) -> bool {
    if let Some(allowed) = schema["enum"].as_array() {
        return allowed.iter().any(|a| a == value);
    }
    let length_ok = schema["maxLength"]
        .as_u64()
        .is_none_or(|max| value.chars().count() as u64 <= max);
    let pattern_ok = schema["pattern"].as_str().is_none_or(|p| {
        regex_lite::Regex::new(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(value)
    });
    length_ok && pattern_ok
}

type Parser = fn(&str) -> bool;

fn version(t: &str) -> bool {
    Version::parse(t).is_ok()
}
fn artifact(t: &str) -> bool {
    ArtifactRef::parse(t).is_ok()
}
fn digest(t: &str) -> bool {
    Digest::parse(t).is_ok()
}
fn commit(t: &str) -> bool {
    CommitSha::parse(t).is_ok()
}
fn url(t: &str) -> bool {
    WebUrl::parse(t).is_ok()
}
fn notes(t: &str) -> bool {
    bounded_text(t, MAX_NOTES).is_ok()
}
fn message(t: &str) -> bool {
    bounded_text(t, MAX_MESSAGE).is_ok()
}
fn comment(t: &str) -> bool {
    bounded_text(t, MAX_COMMENT).is_ok()
}
fn subject(t: &str) -> bool {
    Subject::parse(t).is_ok()
}
/// The configured clusters only: the ledger refuses any other name.
fn cluster(t: &str) -> bool {
    ClusterName::parse(t).is_ok() && ["staging", "prod-east", "prod-west"].contains(&t)
}

const DIGEST_TEXT: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// (schema, field, parser, values the rule takes, values it refuses).
type Rule = (&'static str, &'static str, Parser, Vec<String>, Vec<String>);

fn table() -> Vec<Rule> {
    let s = |list: &[&str]| list.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
    let long = |n: usize| "a".repeat(n);
    vec![
        (
            "ReleaseInput",
            "version",
            version as Parser,
            s(&[
                "1.4.0",
                "0.0.0",
                "1.0.0-rc.1",
                "1.0.0-0.3.7",
                "1.0.0-x-y.z",
                "1.0.0+build.5",
                "1.0.0-alpha+001",
                "9999999999999999999.0.0",
                "1.0.0-a.9999999999999999999",
            ]),
            s(&[
                "v1",
                "1.4",
                "01.0.0",
                "1.0.0-01",
                "1.0.0-",
                "1.0.0+",
                "1.0.0+a..b",
                "1..0",
                "10000000000000000000.0.0",
                " 1.0.0",
                "1.0.0-é",
                "",
            ]),
        ),
        (
            "ReleaseInput",
            "artifact",
            artifact as Parser,
            s(&[
                "ghcr.io/acme/automatizacion:1.2.3",
                "localhost:5000/automatizacion:v1",
                "registry.example.com:5443/a/b/c",
                "acme/app",
                "app",
                "a.b",
                "my_app__x-y--z/app.1:tag_1.0-rc",
                "localhost/app",
                "host:5000/app",
                "Ghcr.IO/acme/app",
                "localhost:5000",
                &format!("ghcr.io/acme/app@{DIGEST_TEXT}"),
                &format!("app:1@{DIGEST_TEXT}"),
            ]),
            s(&[
                "",
                "Ghcr.io/Acme/App",
                "ghcr.io/acme/App:1",
                "acme/app:",
                "acme/app:-tag",
                "acme//app",
                "acme/app@sha256:xyz",
                "-acme/app",
                "acme/app.",
                "reg:port/app",
                "acme/a..b",
                "a_b.c/app",
                "host:123456/app",
                "-h.io/app",
                "h-.io/app",
                "acme/app@sha512:ab",
                &long(513),
            ]),
        ),
        (
            "ReleaseInput",
            "digest",
            digest as Parser,
            s(&[DIGEST_TEXT]),
            s(&[
                "sha256:abc",
                &DIGEST_TEXT.to_uppercase(),
                &DIGEST_TEXT.replace("sha256", "sha512"),
                &format!("{DIGEST_TEXT}0"),
                "sha256:",
            ]),
        ),
        (
            "ReleaseInput",
            "commit",
            commit as Parser,
            s(&[
                "0123456789abcdef0123456789abcdef01234567",
                "0123456789ABCDEF0123456789ABCDEF01234567",
            ]),
            s(&[
                "0123456789abcdef",
                "g123456789abcdef0123456789abcdef01234567",
                "",
            ]),
        ),
        (
            "ReleaseInput",
            "notes",
            notes as Parser,
            s(&[
                "",
                "First release\nwith\ttabs\r\n",
                "é \u{202E} bidi is text",
                &long(MAX_NOTES),
            ]),
            s(&[
                "bell\u{7}",
                "nul\u{0}",
                "esc\u{1b}",
                "del\u{7f}",
                &long(MAX_NOTES + 1),
            ]),
        ),
        (
            "DeploymentInput",
            "message",
            message as Parser,
            s(&["rolled out", &long(MAX_MESSAGE)]),
            s(&["\u{8}", &long(MAX_MESSAGE + 1)]),
        ),
        (
            "DecisionInput",
            "comment",
            comment as Parser,
            s(&["Staging is green; go.", &long(MAX_COMMENT)]),
            s(&["\u{c}", &long(MAX_COMMENT + 1)]),
        ),
        (
            "DeploymentInput",
            "execution_url",
            url as Parser,
            s(&[
                "https://kestra.example.com/ui/main/executions/automatizacion/release/4Zb",
                "http://127.0.0.1:8080/x?y=1#z",
                "https://h",
                "https://a-b.example.com:443/p%20q",
                "https://h/~user/(x)!$&'*+,;=:@",
            ]),
            s(&[
                "ftp://h",
                "https://",
                "https:///path",
                "https://h:/x",
                "https://h:123456",
                "https://h/a b",
                "https://h_x.com/",
                "https://h/é",
                "javascript:alert(1)",
                &format!("https://h/{}", long(2048)),
            ]),
        ),
        (
            "DeploymentInput",
            "cluster",
            cluster as Parser,
            s(&["staging", "prod-east", "prod-west"]),
            s(&["mars", "Staging", "prod-", ""]),
        ),
        (
            "ReleaseInput",
            "on_behalf_of",
            subject as Parser,
            s(&[
                "alice",
                "Alice",
                "release-bot@example.com",
                "j.doe",
                "Ann Lee",
            ]),
            s(&["", " alice", "a  b", "a\u{200b}lice", &long(129)]),
        ),
    ]
}

/// What the server takes beyond its document: subjects the identity rule can show
/// unambiguously but a JSON Schema pattern cannot state (`Subject::DOCUMENTED_PATTERN`).
const SERVER_TAKES_MORE: &[&str] = &["élise", "Åsa", "李雷"];

#[test]
fn every_field_means_the_same_to_the_parser_and_the_document() {
    let doc = App::sqlite().send(get("/api/openapi.json")).json_body();
    for (schema, field, parser, good, bad) in table() {
        let documented = documented(&doc, schema, field);
        for value in &good {
            assert!(
                parser(value),
                "{schema}.{field}: the parser refuses {value:?}"
            );
            assert!(
                document_takes(&documented, value),
                "{schema}.{field}: the document refuses {value:?}"
            );
        }
        for value in &bad {
            assert!(
                !parser(value),
                "{schema}.{field}: the parser takes {value:?}"
            );
            assert!(
                !document_takes(&documented, value),
                "{schema}.{field}: the document takes {value:?}"
            );
        }
    }
    let on_behalf_of = documented(&doc, "ReleaseInput", "on_behalf_of");
    for value in SERVER_TAKES_MORE {
        assert!(
            subject(value) && !document_takes(&on_behalf_of, value),
            "{value}"
        );
    }
    // The cursor, through the router: what the document allows is a page, what it refuses a 422.
    let cursor = doc["paths"]["/api/releases"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cursor")
        .unwrap()["schema"]
        .clone();
    let app = App::sqlite();
    for value in [
        "1",
        "42",
        "999999999999999999",
        "0",
        "-1",
        "+5",
        "007",
        "1e3",
        "9999999999999999999",
    ] {
        let status = app
            .send(get(&format!("/api/releases?cursor={value}")))
            .status;
        assert_eq!(
            status == 200,
            document_takes(&cursor, value),
            "cursor {value:?} answered {status}"
        );
    }
}

#[test]
fn whatever_a_documented_pattern_generates_the_server_takes() {
    let doc = App::sqlite().send(get("/api/openapi.json")).json_body();
    let mut generator = Generator(0x5eed_1234_abcd_9876);
    for (schema, field, parser, _, _) in table() {
        let documented = documented(&doc, schema, field);
        let Some(pattern) = documented["pattern"].as_str() else {
            continue;
        };
        for _ in 0..300 {
            let value = generator.matching(pattern);
            if !document_takes(&documented, &value) {
                continue; // longer than maxLength: outside what the document allows
            }
            assert!(
                parser(&value),
                "{schema}.{field}: the document allows {value:?}, the parser refuses it"
            );
        }
    }
}
