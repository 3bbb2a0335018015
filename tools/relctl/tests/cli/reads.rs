//! The ledger's reads from a shell: tables for people, the ledger's own JSON for scripts, every
//! page followed when asked, and a read the ledger refuses as one line.

use super::*;

/// The lines of a table's output, split into their cells (two spaces or more apart).
fn cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn releases_a_release_clusters_and_approvals_as_tables_and_as_the_ledgers_json() {
    let (ledger, deployer) = with_release_1_0_0("relctl-shell-reads");
    let base = ledger.base.clone();
    let read = |args: &[&str]| succeeds(relctl(&base, Some(&deployer), args), args);
    let digest_2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let record_2 = [
        "record-release",
        "--version",
        "1.1.0",
        "--artifact",
        "registry.example.com/acme/automatizacion:1.1.0",
        "--digest",
        digest_2,
        "--commit",
        COMMIT,
        "--notes",
        "- Faster console\n- Fewer clicks",
        "--on-behalf-of",
        "alice",
    ];
    read(&record_2);
    for status in ["started", "succeeded"] {
        read(&deployment("1.1.0", "staging", status));
    }
    read(&[
        "request-approval",
        "--version",
        "1.1.0",
        "--on-behalf-of",
        "alice",
    ]);

    let releases = cells(&read(&["releases"]));
    assert_eq!(
        releases[0],
        ["VERSION", "RECORDED", "FOR", "DIGEST", "COMMIT", "NOTES"]
    );
    let newest = &releases[1];
    assert_eq!(
        (newest[0].as_str(), newest[2].as_str(), newest[3].as_str()),
        ("1.1.0", "alice", "sha256:222222222222")
    );
    assert_eq!(newest[4], &COMMIT[..12]);
    assert_eq!(newest[5], "- Faster console", "the notes' first line");
    assert_eq!(releases[2][0], "1.0.0");
    assert_eq!(releases[2][2], "kestra", "recorded for nobody else");
    assert_eq!(releases.len(), 3);
    assert_eq!(cells(&read(&["releases", "--limit", "1"])).len(), 2);
    // The ledger's filters, each alone and together.
    let versions = |filters: &[&str]| -> Vec<String> {
        let table = read(&[&["releases"], filters].concat());
        cells(&table)
            .iter()
            .skip(1)
            .map(|row| row[0].clone())
            .collect()
    };
    assert_eq!(versions(&["--state", "pending"]), ["1.1.0"]);
    assert_eq!(versions(&["--state", "none"]), ["1.0.0"]);
    assert_eq!(versions(&["--version", "1.0"]), ["1.0.0"]);
    assert_eq!(versions(&["--person", "alice"]), ["1.1.0"]);
    assert_eq!(
        versions(&["--cluster", "staging", "--version", "1.1."]),
        ["1.1.0"]
    );
    assert!(versions(&["--cluster", "prod-east"]).is_empty());

    // JSON is the ledger's own answer, untouched: a list as its items.
    let json: Value = serde_json::from_str(&read(&["releases", "-o", "json"])).unwrap();
    assert_eq!(json, ledger.get("/api/releases?limit=100").json()["items"]);
    let detail: Value = serde_json::from_str(&read(&["release", "1.1.0", "-o", "json"])).unwrap();
    assert_eq!(detail, ledger.get("/api/releases/1.1.0").json());
    let clusters: Value = serde_json::from_str(&read(&["clusters", "--output", "json"])).unwrap();
    assert_eq!(clusters, ledger.get("/api/clusters").json());

    let shown = read(&["release", "1.1.0"]);
    let field = |name: &str| {
        shown
            .lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim))
            .unwrap_or_else(|| panic!("no {name} in:\n{shown}"))
            .to_owned()
    };
    assert_eq!(field("digest "), digest_2);
    assert!(
        field("recorded ").ends_with("by kestra for alice"),
        "{shown}"
    );
    assert!(
        field("approval ").starts_with("pending (requested ") && shown.contains("for alice)"),
        "{shown}"
    );
    assert_eq!(field("notes "), "- Faster console");
    assert!(
        shown.contains("\n           - Fewer clicks\n"),
        "notes keep their lines: {shown}"
    );
    let events: Vec<Vec<String>> = cells(shown.split("\n\n").nth(1).unwrap());
    assert_eq!(
        events[0],
        ["AT", "CLUSTER", "ENVIRONMENT", "STATUS", "BY", "MESSAGE"]
    );
    let statuses: Vec<&str> = events[1..].iter().map(|e| e[3].as_str()).collect();
    assert_eq!(statuses, ["started", "succeeded"], "oldest first");
    assert!(read(&["release", "1.0.0"]).ends_with("No deployment recorded yet."));

    let clusters = cells(&read(&["clusters"]));
    assert_eq!(
        clusters[0],
        [
            "CLUSTER",
            "ENVIRONMENT",
            "RUNS",
            "SINCE",
            "LAST EVENT",
            "NOTICE"
        ]
    );
    let staging = clusters.iter().find(|c| c[0] == "staging").unwrap();
    assert_eq!(
        (staging[1].as_str(), staging[2].as_str()),
        ("staging", "1.1.0")
    );
    assert!(staging[4].starts_with("1.1.0 succeeded at "), "{staging:?}");

    let pending = cells(&read(&["approvals", "--state", "pending"]));
    assert_eq!(pending[1][..3], ["1.1.0", "pending", "alice"]);
    assert_eq!(
        read(&["approvals", "--state", "approved"]),
        "Nothing recorded yet."
    );

    // What the ledger refuses, and what never reaches it, is one line.
    let missing = refusal(&relctl(&base, Some(&deployer), &["release", "9.9.9"]), 1);
    assert!(missing.contains("refused (404)"), "{missing}");
    let bad_state = ["approvals", "--state", "maybe"];
    let refused = refusal(&relctl(&base, Some(&deployer), &bad_state), 2);
    assert!(refused.contains("'maybe'"), "{refused}");
}

/// More than a page (the ledger gives at most 100): `--limit` and `--all` follow the cursors,
/// and nothing is listed twice or skipped.
#[test]
fn lists_follow_the_ledgers_pages() {
    let (ledger, deployer) = with_release_1_0_0("relctl-shell-pages");
    for minor in 1..=101 {
        let version = format!("1.{minor}.0");
        let mut body = release_body(&version);
        body["digest"] = format!("sha256:{minor:064x}").into();
        let created = ledger.post_json("/api/releases", &deployer, &body);
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let base = ledger.base.clone();
    let listed = |args: &[&str]| -> Vec<String> {
        let out = succeeds(relctl(&base, Some(&deployer), args), args);
        let items: Vec<Value> = serde_json::from_str(&out).unwrap();
        items
            .iter()
            .map(|i| i["version"].as_str().unwrap().to_owned())
            .collect()
    };
    let everything = listed(&["releases", "--all", "-o", "json"]);
    let expected: Vec<String> = (0..=101).rev().map(|m| format!("1.{m}.0")).collect();
    assert_eq!(everything, expected, "newest first, each once");
    assert_eq!(
        listed(&["releases", "--limit", "101", "-o", "json"]),
        expected[..101]
    );
    let table = succeeds(relctl(&base, Some(&deployer), &["releases", "--all"]), &[]);
    assert_eq!(table.lines().count(), 1 + 102);
}
