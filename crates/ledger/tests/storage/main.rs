//! The ledger's rules over real databases. Every test runs twice, against a SQLite file and
//! against a PostgreSQL server, through the same SQL the component runs. One module per part
//! of the ledger; the set-ups they share are named here (`staged_release`, `pending_release`,
//! `approved_release`).

mod approvals;
mod audit;
mod deployments;
mod drift;
mod filters;
mod insights;
mod releases;
mod schema;

use ledger::model::{Approval, Deployment, NewDecision, NewDeployment, NewRelease, PageRequest};
use ledger::types::*;
use ledger::{Clusters, Context, Created, Ledger, LedgerError, Timestamp, migrations};
use native_db::testing::TestDb;

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn clusters() -> Clusters {
    Clusters::parse(ledger::clusters::DEFAULT_CLUSTERS).unwrap()
}

fn ctx(actor: &str, request_id: &str, micros: i64) -> Context {
    Context {
        actor: Subject::parse(actor).unwrap(),
        request_id: request_id.into(),
        now: Timestamp::from_micros(micros),
    }
}

fn kestra() -> Context {
    ctx("kestra", "req-kestra", 1_000)
}

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

fn release(version: &str, digest: &str) -> NewRelease {
    NewRelease {
        version: v(version),
        artifact: ArtifactRef::parse(&format!("ghcr.io/acme/automatizacion:{version}")).unwrap(),
        digest: Digest::parse(digest).unwrap(),
        commit: CommitSha::parse(COMMIT).unwrap(),
        commit_time: None,
        notes: format!("notes for {version}"),
        on_behalf_of: None,
    }
}

fn event(cluster: &str, status: DeploymentStatus) -> NewDeployment {
    NewDeployment {
        cluster: ClusterName::parse(cluster).unwrap(),
        status,
        message: Some(format!("{status} on {cluster}")),
        execution_url: Some(WebUrl::parse("https://kestra.example.com/executions/1").unwrap()),
        analysis: None,
    }
}

fn approve(comment: &str) -> NewDecision {
    NewDecision {
        decision: Decision::Approve,
        comment: comment.into(),
    }
}

/// Opens a ledger on a new connection (migrating on first use, as each request does).
fn with_ledger<T>(db: &TestDb, work: impl FnOnce(&Ledger) -> T) -> T {
    let exec = db.connect();
    let clusters = clusters();
    let ledger = Ledger::open(exec.as_ref(), &clusters, Timestamp::from_micros(1)).unwrap();
    work(&ledger)
}

/// Every item of a list, in one page.
const ALL: PageRequest = PageRequest {
    limit: 100,
    before_id: None,
};

/// The pipeline's account records VERSION's STATUS on CLUSTER.
fn deploy(
    ledger: &Ledger,
    version: &str,
    cluster: &str,
    status: DeploymentStatus,
) -> Result<Deployment, LedgerError> {
    deploy_event(ledger, version, &event(cluster, status))
}

/// The pipeline's account records EVENT for VERSION.
fn deploy_event(
    ledger: &Ledger,
    version: &str,
    event: &NewDeployment,
) -> Result<Deployment, LedgerError> {
    ledger.record_deployment(&kestra(), &v(version), event)
}

/// The pipeline's account asks for VERSION's production approval.
fn request(ledger: &Ledger, version: &str) -> Result<Approval, LedgerError> {
    ledger.request_approval(&kestra(), &v(version), None)
}

/// `version` recorded (by the pipeline's account) with DIGEST.
fn created_release(ledger: &Ledger, version: &str, digest: &str) {
    ledger
        .create_release(&kestra(), &release(version, digest))
        .unwrap();
}

/// `version` recorded and succeeded on staging.
fn staged_release(ledger: &Ledger, version: &str, digest: &str) {
    created_release(ledger, version, digest);
    deploy(ledger, version, "staging", DeploymentStatus::Succeeded).unwrap();
}

/// `version` staged, its production approval requested and pending.
fn pending_release(ledger: &Ledger, version: &str, digest: &str) {
    staged_release(ledger, version, digest);
    request(ledger, version).unwrap();
}

/// Records `version` and takes it through staging to an approved approval (by Alice).
fn approved_release(ledger: &Ledger, version: &str) {
    pending_release(ledger, version, DIGEST_A);
    ledger
        .decide(
            &ctx("alice", "req-alice", 2_000),
            &v(version),
            &approve("ok"),
        )
        .unwrap();
}

macro_rules! suite {
    ($($module:ident :: $test:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test] fn $test() { super::$module::$test(&native_db::testing::TestDb::sqlite()); })+
        }
        mod postgres {
            $(#[test] fn $test() { super::$module::$test(&native_db::testing::TestDb::postgres()); })+
        }
    };
}

suite!(
    schema::migrations_apply_once,
    schema::concurrent_starts_migrate_exactly_once,
    schema::reads_migrate_only_when_the_schema_refuses_them,
    releases::releases_are_idempotent_by_digest,
    releases::a_pinned_artifact_must_match_the_digest,
    releases::commit_times_are_bounded,
    releases::releases_page_newest_first,
    releases::unknown_releases_are_not_found,
    releases::release_detail_has_timeline_and_approval,
    deployments::unknown_clusters_are_unprocessable,
    deployments::production_needs_an_approved_approval,
    deployments::current_release_follows_rollbacks,
    deployments::rollbacks_need_an_earlier_event_there,
    deployments::every_cluster_in_three_statements,
    deployments::counts_come_from_storage,
    approvals::rejected_releases_never_reach_production,
    approvals::approvals_need_a_staging_success,
    approvals::four_eyes_and_a_single_decision,
    approvals::four_eyes_see_whom_a_service_account_acts_for,
    approvals::twenty_concurrent_decisions_have_one_winner,
    approvals::approvals_filter_by_state,
    audit::the_audit_log_is_complete_ordered_and_append_only,
    filters::releases_filter_by_version_approval_cluster_and_person,
    filters::the_audit_log_filters_by_action_actor_and_target,
    drift::drift_starts_and_ends_with_what_is_observed,
    drift::a_cluster_running_something_before_any_release_drifts,
    drift::observations_of_unknown_clusters_or_from_the_future_are_refused,
    drift::an_old_observation_shows_as_not_observed,
    drift::a_replayed_old_observation_decides_nothing,
    drift::the_release_being_rolled_out_is_not_drift,
    insights::the_four_keys_over_a_known_history,
    insights::an_empty_window_says_so,
    insights::hostile_stored_commit_times_neither_overflow_nor_go_negative,
);
