//! One function per route: authorise, parse, call the ledger, shape the response.
//! The `#[utoipa::path]` attributes are the OpenAPI document's source.

use crate::auth::Role;
use crate::build_info;
use crate::call::{Call, Effect};
use crate::http::ApiResponse;
use crate::input::{
    ApprovalRequestInput, DecisionInput, DeploymentInput, ObservationInput, ReleaseInput,
};
use crate::metrics;
use crate::problem::{ApiError, Problem, ReadProblems, Unavailable, WriteProblems};
use crate::query::{AUDIT_QUERY, Query, RELEASES_QUERY};
use crate::read_model::{DORA_MAX_AGE_MICROS, Read};
use ledger::Created;
use ledger::filters::{AuditFilter, ReleaseFilter};
use ledger::insights::{Insights, Window};
use ledger::model::{
    Approval, AuditEvent, ClusterStatus, Deployment, Page, PageRequest, Release, ReleaseDetail,
};
use ledger::types::{ApprovalState, Environment};
use serde::Serialize;
use utoipa::ToSchema;

/// What every handler answers: a response, or the error the router turns into a problem.
pub type Handled = Result<ApiResponse, ApiError>;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the component answers. Touches neither storage nor configuration.
#[utoipa::path(get, path = "/api/health", tag = "meta",
    responses((status = 200, description = "The component is alive", body = Health)))]
pub fn health(_: &mut Call) -> Handled {
    Ok(ApiResponse::json(200, &Health { status: "ok" }))
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: &'static str,
    schema_version: i64,
}

/// Readiness: configuration valid, storage reachable and migrated, and the read model's store
/// answering (or failing: reads then go to the database). A store that never answers (Spin's
/// Redis client has no time-out) leaves this probe unanswered too, so Kubernetes takes the pod
/// out of its Service rather than send it requests that would wait as long.
#[utoipa::path(get, path = "/api/ready", tag = "meta", responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        Unavailable))]
pub fn ready(cx: &mut Call) -> Handled {
    let schema_version = cx.with_ledger(|_| Ok((ledger::migrations::LATEST, Effect::Unchanged)))?;
    cx.touch_read_model()?;
    Ok(ApiResponse::json(
        200,
        &Readiness {
            status: "ready",
            schema_version,
        },
    ))
}

#[derive(Clone, Serialize, ToSchema)]
pub struct Info {
    #[schema(example = "automatizacion")]
    name: &'static str,
    #[schema(example = "0.1.0")]
    version: &'static str,
    commit: &'static str,
    #[schema(example = "prod-east")]
    cluster_name: String,
    #[schema(example = "eu-west-1")]
    region: String,
}

/// The build, and the cluster and region serving this request.
#[utoipa::path(get, path = "/api/info", tag = "meta", responses(
        (status = 200, description = "Build and placement", body = Info),
        Unavailable))]
pub fn info(cx: &mut Call) -> Handled {
    Ok(ApiResponse::json(200, &build_info(cx)?))
}

fn build_info(cx: &mut Call) -> Result<Info, ApiError> {
    let settings = cx.settings()?;
    Ok(Info {
        name: "automatizacion",
        version: build_info::VERSION,
        commit: build_info::COMMIT,
        cluster_name: settings.cluster_name.clone(),
        region: settings.region.clone(),
    })
}

/// The page size of a first page, the only pages the read model keeps: kept pages per cursor
/// would grow with every release.
fn first_page(page: PageRequest) -> Option<u32> {
    page.before_id.is_none().then_some(page.limit)
}

/// How many pending approvals and releases the overview carries; the lists link to the rest.
const OVERVIEW_LISTED: u32 = 10;

/// The console's front page in one answer: what `/api/info`, `/api/clusters`,
/// `/api/approvals?state=pending&limit=10` and `/api/releases?limit=10` say, read from one
/// database connection in one request instead of four.
#[derive(Serialize, ToSchema)]
pub struct Overview {
    info: Info,
    clusters: Vec<ClusterStatus>,
    pending_approvals: Page<Approval>,
    releases: Page<Release>,
}

/// Everything the console's overview shows, in one call.
#[utoipa::path(get, path = "/api/overview", tag = "meta",
    responses(
        (status = 200, description = "Build and placement, every cluster, the 10 newest pending approvals and the 10 newest releases", body = Overview),
        ReadProblems))]
pub fn overview(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    cx.authorize_read()?;
    let info = build_info(cx)?;
    let first_page = PageRequest {
        limit: OVERVIEW_LISTED,
        before_id: None,
    };
    cx.read_json(Some(Read::overview()), |ledger| {
        Ok(Overview {
            info: info.clone(),
            clusters: ledger.clusters()?,
            pending_approvals: ledger.list_approvals(Some(ApprovalState::Pending), first_page)?,
            releases: ledger.list_releases(first_page)?,
        })
    })
}

/// Gauges read from storage, in Prometheus text format. They show what the ledger holds, so
/// they are read like it: public only while `public_read` is `true`. DORA's four keys are
/// kept in the read model between writes (for up to a minute), so scrapes do not recompute
/// them.
#[utoipa::path(get, path = "/metrics", tag = "meta", responses(
        (status = 200, description = "Prometheus exposition", body = String, content_type = "text/plain; version=0.0.4"),
        ReadProblems))]
pub fn metrics_text(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    cx.authorize_read()?;
    let window = Window {
        environment: Environment::Production,
        days: Window::DEFAULT_DAYS,
        now: cx.host.now,
    };
    let counts = cx.read_ledger(|ledger| ledger.counts())?;
    let dora = cx.read_kept(Some(Read::dora()), DORA_MAX_AGE_MICROS, |ledger| {
        Ok(metrics::dora(&ledger.insights(&window)?).into_bytes())
    })?;
    let text = metrics::render(
        &counts,
        &String::from_utf8_lossy(&dora),
        build_info::VERSION,
        build_info::COMMIT,
        cx.host.now,
    );
    Ok(ApiResponse::new(
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        text.into_bytes(),
    ))
}

/// Releases, newest first, optionally narrowed: every filter given must hold. A filtered list
/// is read from the database, never kept by the read model.
#[utoipa::path(get, path = "/api/releases", tag = "releases",
    params(
        ("version" = Option<String>, Query, description = "Only versions that start with this, e.g. `1.4` (letters, digits, `.`, `-`, `+`)"),
        ("state" = Option<String>, Query, description = "Only releases whose production approval is `pending`, `approved` or `rejected`, or `none` for those with no approval requested"),
        ("cluster" = Option<String>, Query, description = "Only releases with a deployment event on this cluster"),
        ("person" = Option<String>, Query, description = "Only releases this subject recorded or that were recorded on their behalf"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, with the same filters")),
    responses(
        (status = 200, description = "A page of releases", body = Page<Release>),
        ReadProblems))]
pub fn list_releases(cx: &mut Call) -> Handled {
    let query = Query::parse(&cx.req.query, &RELEASES_QUERY)?;
    let (filter, page) = (query.release_filter()?, query.page()?);
    cx.authorize_read()?;
    let read = first_page(page)
        .filter(|_| filter == ReleaseFilter::default())
        .map(Read::releases);
    cx.read_json(read, |ledger| ledger.list_releases_matching(&filter, page))
}

/// Records a release. Posting the same version and digest again is harmless.
#[utoipa::path(post, path = "/api/releases", tag = "releases", request_body = ReleaseInput,
    responses(
        (status = 201, description = "Recorded", body = Release),
        (status = 200, description = "Already recorded with the same digest", body = Release),
        (status = 409, description = "Version already recorded with another digest", body = Problem, content_type = "application/problem+json"),
        WriteProblems))]
pub fn create_release(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    let ctx = cx.authorize(Role::Deployer)?;
    let new = cx.json_body::<ReleaseInput>()?.validate()?;
    cx.may_act_for(new.on_behalf_of.as_ref())?;
    let (release, created) = cx.with_ledger(|ledger| {
        let (release, created) = ledger.create_release(&ctx, &new)?;
        Ok((
            (release, created),
            Effect::changed_if(created == Created::New),
        ))
    })?;
    let status = if created == Created::New { 201 } else { 200 };
    let location = format!("/api/releases/{}", release.version);
    Ok(ApiResponse::json(status, &release).with_header("location", &location))
}

/// A release with its deployments (oldest first) and its approval.
#[utoipa::path(get, path = "/api/releases/{version}", tag = "releases",
    params(("version" = String, Path, description = "Semantic version")),
    responses(
        (status = 200, description = "The release", body = ReleaseDetail),
        (status = 404, description = "No such release", body = Problem, content_type = "application/problem+json"),
        ReadProblems))]
pub fn get_release(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    cx.authorize_read()?;
    let version = cx.version()?;
    cx.read_json(Some(Read::release(&version)), |ledger| {
        ledger.release_detail(&version)
    })
}

/// Records a deployment event. Production clusters need an approved approval.
#[utoipa::path(post, path = "/api/releases/{version}/deployments", tag = "deployments",
    params(("version" = String, Path, description = "Semantic version")),
    request_body = DeploymentInput,
    responses(
        (status = 201, description = "Recorded", body = Deployment),
        (status = 404, description = "No such release", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Production without approval, or a rollback of nothing", body = Problem, content_type = "application/problem+json"),
        WriteProblems))]
pub fn record_deployment(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    let ctx = cx.authorize(Role::Deployer)?;
    let version = cx.version()?;
    let event = cx.json_body::<DeploymentInput>()?.validate()?;
    let deployment = cx.with_ledger(|ledger| {
        let deployment = ledger.record_deployment(&ctx, &version, &event)?;
        Ok((deployment, Effect::Changed))
    })?;
    Ok(ApiResponse::json(201, &deployment))
}

/// Records what an observer (`relctl observe`) saw a cluster run. The ledger compares it with
/// the cluster's current release: `drift` in the answer (and in `/api/clusters`) says how they
/// differ, and the audit log records when drift starts and ends.
#[utoipa::path(post, path = "/api/clusters/{name}/observations", tag = "deployments",
    params(("name" = String, Path, description = "A configured cluster")),
    request_body = ObservationInput,
    responses(
        (status = 201, description = "Recorded, and the cluster's latest: its status, with any drift", body = ClusterStatus),
        (status = 200, description = "Recorded as history only: an observation made later was recorded first and decides the status shown", body = ClusterStatus),
        WriteProblems))]
pub fn observe(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    let ctx = cx.authorize(Role::Deployer)?;
    let cluster = cx.cluster()?;
    let observation = cx.json_body::<ObservationInput>()?.validate()?;
    let observed = cx.with_ledger(|ledger| {
        let observed = ledger.observe(&ctx, &cluster, &observation)?;
        let effect = Effect::changed_if(observed.latest);
        Ok((observed, effect))
    })?;
    let status = if observed.latest { 201 } else { 200 };
    Ok(ApiResponse::json(status, &observed.status))
}

/// Every configured cluster, what it runs now and its latest event.
#[utoipa::path(get, path = "/api/clusters", tag = "deployments",
    responses(
        (status = 200, description = "The clusters, in configured order", body = Vec<ClusterStatus>),
        ReadProblems))]
pub fn clusters(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    cx.authorize_read()?;
    cx.read_json(Some(Read::clusters()), |ledger| ledger.clusters())
}

/// Requests the production approval, once the release has succeeded on a staging cluster.
#[utoipa::path(post, path = "/api/releases/{version}/approval", tag = "approvals",
    params(("version" = String, Path, description = "Semantic version")),
    request_body(content = ApprovalRequestInput, description = "Empty, `{}`, or the person a service account asks for"),
    responses(
        (status = 201, description = "Pending approval", body = Approval),
        (status = 404, description = "No such release", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not yet on staging, or already requested", body = Problem, content_type = "application/problem+json"),
        WriteProblems))]
pub fn request_approval(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    let ctx = cx.authorize(Role::Deployer)?;
    let version = cx.version()?;
    let on_behalf_of = cx
        .optional_json_body::<ApprovalRequestInput>()?
        .validate()?;
    cx.may_act_for(on_behalf_of.as_ref())?;
    let approval = cx.with_ledger(|ledger| {
        let approval = ledger.request_approval(&ctx, &version, on_behalf_of.as_ref())?;
        Ok((approval, Effect::Changed))
    })?;
    Ok(ApiResponse::json(201, &approval))
}

/// Decides a pending approval: once, and not by whoever created the release or requested it,
/// nor by the person a service account did either for.
#[utoipa::path(post, path = "/api/releases/{version}/approval/decision", tag = "approvals",
    params(("version" = String, Path, description = "Semantic version")),
    request_body = DecisionInput,
    responses(
        (status = 200, description = "Decided", body = Approval),
        (status = 404, description = "No such release", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No approval requested, or already decided", body = Problem, content_type = "application/problem+json"),
        WriteProblems))]
pub fn decide(cx: &mut Call) -> Handled {
    Query::parse(&cx.req.query, &[])?;
    let ctx = cx.authorize(Role::Approver)?;
    let version = cx.version()?;
    let decision = cx.json_body::<DecisionInput>()?.validate()?;
    let approval =
        cx.with_ledger(|ledger| Ok((ledger.decide(&ctx, &version, &decision)?, Effect::Changed)))?;
    Ok(ApiResponse::json(200, &approval))
}

/// Approvals, newest first, optionally in one state.
#[utoipa::path(get, path = "/api/approvals", tag = "approvals",
    params(
        ("state" = Option<ApprovalState>, Query, description = "Only approvals in this state"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")),
    responses(
        (status = 200, description = "A page of approvals", body = Page<Approval>),
        ReadProblems))]
pub fn list_approvals(cx: &mut Call) -> Handled {
    let query = Query::parse(&cx.req.query, &["state", "limit", "cursor"])?;
    let (state, page) = (query.approval_state()?, query.page()?);
    cx.authorize_read()?;
    let state_name = state.map_or("any", ApprovalState::as_str);
    let read = first_page(page).map(|limit| Read::approvals(state_name, limit));
    cx.read_json(read, |ledger| ledger.list_approvals(state, page))
}

/// How many releases a list of choices offers: a person picks from the newest.
const CHOICES_LISTED: u32 = 100;

/// One release to choose, in the shape of Rundeck's remote option values (`valuesUrl`): Rundeck
/// shows `name` and gives the job `value`.
#[derive(Serialize, ToSchema)]
pub struct Choice {
    #[schema(example = "1.4.0 (pending: requested by kestra for alice, 2026-12-05T10:00:00.000Z)")]
    name: String,
    #[schema(example = "1.4.0")]
    value: String,
}

impl Choice {
    fn of(approval: &Approval) -> Self {
        let by = match (&approval.decided_by, &approval.on_behalf_of) {
            (Some(decider), _) => format!("by {decider}"),
            (None, Some(person)) => format!("requested by {} for {person}", approval.requested_by),
            (None, None) => format!("requested by {}", approval.requested_by),
        };
        let at = approval.decided_at.unwrap_or(approval.requested_at);
        Choice {
            name: format!(
                "{} ({}: {by}, {at})",
                approval.version,
                approval.state.as_str()
            ),
            value: approval.version.to_string(),
        }
    }
}

/// The 100 newest releases whose production approval is in one state, as a bare list of
/// choices: what Rundeck's `valuesUrl` reads for `approve-release` (pending) and
/// `rollback-production` (approved), rundeck/README.md.
#[utoipa::path(get, path = "/api/choices/releases", tag = "approvals",
    params(("state" = ApprovalState, Query, description = "The approvals' state")),
    responses(
        (status = 200, description = "Newest first; empty when none", body = Vec<Choice>),
        ReadProblems))]
pub fn release_choices(cx: &mut Call) -> Handled {
    let state = Query::parse(&cx.req.query, &["state"])?
        .approval_state()?
        .ok_or_else(|| ApiError::Unprocessable {
            field: "state".into(),
            reason: "required: pending, approved or rejected".into(),
        })?;
    cx.authorize_read()?;
    let page = PageRequest {
        limit: CHOICES_LISTED,
        before_id: None,
    };
    cx.read_json(None, |ledger| {
        let approvals = ledger.list_approvals(Some(state), page)?;
        Ok(approvals.items.iter().map(Choice::of).collect::<Vec<_>>())
    })
}

/// The audit log, newest first, optionally narrowed: every filter given must hold.
#[utoipa::path(get, path = "/api/audit", tag = "audit",
    params(
        ("action" = Option<String>, Query, description = "Only this action: release.created, deployment.recorded, approval.requested, approval.decided, drift.started or drift.ended"),
        ("actor" = Option<String>, Query, description = "Only what this subject did, or what was done on their behalf"),
        ("target" = Option<String>, Query, description = "Only this target and those below it: `release/1.4.0` also finds `release/1.4.0/cluster/prod-east`"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, with the same filters")),
    responses(
        (status = 200, description = "A page of audit events", body = Page<AuditEvent>),
        ReadProblems))]
pub fn audit(cx: &mut Call) -> Handled {
    let query = Query::parse(&cx.req.query, &AUDIT_QUERY)?;
    let (filter, page) = (query.audit_filter()?, query.page()?);
    cx.authorize_read()?;
    let read = first_page(page)
        .filter(|_| filter == AuditFilter::default())
        .map(Read::audit);
    cx.read_json(read, |ledger| ledger.audit_matching(&filter, page))
}

/// DORA's four keys for one environment over the last `days` days, and week by week (UTC
/// weeks from Monday). Percentiles are nearest-rank; a figure with nothing to measure is null.
#[utoipa::path(get, path = "/api/insights", tag = "insights",
    params(
        ("environment" = Option<Environment>, Query,
            description = "The environment to measure (default production)"),
        ("days" = Option<u32>, Query,
            description = "The window: this many days up to now, 1 to 366 (default 30)")),
    responses(
        (status = 200, description = "The four keys", body = Insights),
        ReadProblems))]
pub fn insights(cx: &mut Call) -> Handled {
    let window = Query::parse(&cx.req.query, &["environment", "days"])?.window(cx.host.now)?;
    cx.authorize_read()?;
    // Not kept in the read model: the window moves with the clock.
    cx.read_json(None, |ledger| ledger.insights(&window))
}
