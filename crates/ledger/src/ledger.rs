//! The ledger's rules. Each operation reads what it needs, checks the rules, and writes its
//! change together with its audit entry in one transaction.

use crate::clusters::Clusters;
use crate::db::{DbError, Executor, Sql};
use crate::drift::{self, InFlight, MAX_CLOCK_SKEW_MICROS};
use crate::error::LedgerError;
use crate::filters::{AuditFilter, ReleaseFilter};
use crate::insights::{self, Insights, Window};
use crate::migrations;
use crate::model::{
    Approval, AuditEvent, ClusterStatus, Counts, Deployment, NewDecision, NewDeployment,
    NewObservation, NewRelease, Page, PageRequest, Release, ReleaseDetail,
};
use crate::store::{self, AuditEntry, Place};
use crate::time::Timestamp;
use crate::types::{ApprovalState, ClusterName, DeploymentStatus, Environment, Subject, Version};

/// Who acts, when, and under which request id: recorded with every change.
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Subject,
    pub request_id: String,
    pub now: Timestamp,
}

/// The ledger over one database connection and the configured clusters.
pub struct Ledger<'a> {
    sql: Sql<'a>,
    clusters: &'a Clusters,
    /// When the request arrived: what "too old" is measured against.
    now: Timestamp,
    /// Whether opening it applied migrations, which may change any answer.
    migrated: bool,
}

/// What [`Ledger::observe`] made of an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The cluster's status with the observation recorded.
    pub status: ClusterStatus,
    /// Whether the observation is now the cluster's latest. `false` when one made later was
    /// recorded before it: it is kept as history and changed nothing.
    pub latest: bool,
}

/// Whether [`Ledger::create_release`] stored a new release or found the same one already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyRecorded,
}

impl<'a> Ledger<'a> {
    /// Opens the ledger for writing, first applying any missing migration.
    pub fn open(
        exec: &'a dyn Executor,
        clusters: &'a Clusters,
        now: Timestamp,
    ) -> Result<Self, DbError> {
        let migrated = migrations::ensure(exec, now)?;
        Ok(Self {
            sql: Sql::new(exec),
            clusters,
            now,
            migrated,
        })
    }

    /// Whether opening the ledger applied migrations.
    pub fn migrated(&self) -> bool {
        self.migrated
    }

    /// Runs `read` without checking the schema first. Spin opens the database for every
    /// request, and there the migration check was a third of a list's statements. A read on a
    /// database the migrations have not reached fails on a missing table or column; then the
    /// migrations run and the read runs again. (A read that an older schema can answer is
    /// answered from it; the next write, or `/api/ready`, migrates.)
    pub fn read<T>(
        exec: &'a dyn Executor,
        clusters: &'a Clusters,
        now: Timestamp,
        read: impl Fn(&Ledger<'a>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let ledger = Self {
            sql: Sql::new(exec),
            clusters,
            now,
            migrated: false,
        };
        match read(&ledger) {
            Err(LedgerError::Storage(DbError::Query(refused))) => {
                if migrations::ensure(exec, now)? {
                    read(&ledger)
                } else {
                    Err(LedgerError::Storage(DbError::Query(refused)))
                }
            }
            answered => answered,
        }
    }

    /// Records a release. The same version with the same digest is idempotent; with a different
    /// digest it is a conflict, because a version must always mean the same artifact.
    pub fn create_release(
        &self,
        ctx: &Context,
        new: &NewRelease,
    ) -> Result<(Release, Created), LedgerError> {
        if let Some(pinned) = new.artifact.digest()
            && pinned != new.digest.as_str()
        {
            return Err(LedgerError::Rejected {
                field: "digest",
                reason: format!("the artifact pins {pinned}, not {}", new.digest),
            });
        }
        if let Some(committed) = new.commit_time {
            let latest = ctx.now.as_micros() + MAX_CLOCK_SKEW_MICROS;
            if !(0..=latest).contains(&committed.as_micros()) {
                return Err(LedgerError::Rejected {
                    field: "commit_time",
                    reason: format!(
                        "{committed} is before 1970 or after now: a commit is made before its release"
                    ),
                });
            }
        }
        let inserted = self.sql.transaction(|tx| {
            let inserted = store::insert_release(tx, new, &ctx.actor, ctx.now)?;
            if inserted {
                let entry = AuditEntry {
                    actor: &ctx.actor,
                    on_behalf_of: new.on_behalf_of.as_ref(),
                    action: "release.created",
                    target: format!("release/{}", new.version),
                    request_id: &ctx.request_id,
                    detail: Some(new.digest.to_string()),
                };
                store::append_audit(tx, entry, ctx.now)?;
            }
            Ok::<_, DbError>(inserted)
        })?;
        let (_, release) = self.release(&new.version)?;
        if inserted {
            return Ok((release, Created::New));
        }
        if release.digest != new.digest.as_str() {
            return Err(LedgerError::Conflict(format!(
                "release {} is already recorded with digest {}",
                new.version, release.digest
            )));
        }
        Ok((release, Created::AlreadyRecorded))
    }

    pub fn list_releases(&self, page: PageRequest) -> Result<Page<Release>, LedgerError> {
        self.list_releases_matching(&ReleaseFilter::default(), page)
    }

    /// The releases FILTER lets through, newest first.
    pub fn list_releases_matching(
        &self,
        filter: &ReleaseFilter,
        page: PageRequest,
    ) -> Result<Page<Release>, LedgerError> {
        Ok(store::list_releases(&self.sql, filter, page)?)
    }

    pub fn release_detail(&self, version: &Version) -> Result<ReleaseDetail, LedgerError> {
        let (id, release) = self.release(version)?;
        Ok(ReleaseDetail {
            release,
            deployments: store::deployments_of(&self.sql, id)?,
            approval: store::approval_of(&self.sql, id)?,
            previous: store::release_before(&self.sql, id)?,
        })
    }

    /// Records a deployment event. Production events need an approved approval; a rollback
    /// needs an earlier event of the same release on that cluster; an analysis comes only
    /// with the event that ends a stage.
    pub fn record_deployment(
        &self,
        ctx: &Context,
        version: &Version,
        event: &NewDeployment,
    ) -> Result<Deployment, LedgerError> {
        let environment = self
            .clusters
            .environment_of(&event.cluster)
            .ok_or_else(|| LedgerError::Rejected {
                field: "cluster",
                reason: format!("unknown cluster `{}`", event.cluster),
            })?;
        let ends_a_stage = matches!(
            event.status,
            DeploymentStatus::Succeeded | DeploymentStatus::Failed
        );
        if event.analysis.is_some() && !ends_a_stage {
            return Err(LedgerError::Rejected {
                field: "analysis",
                reason: format!(
                    "an analysis ends a stage, `succeeded` or `failed`; not `{}`",
                    event.status
                ),
            });
        }
        let (release_id, _) = self.release(version)?;
        if environment == Environment::Production {
            let approved = store::approval_of(&self.sql, release_id)?
                .is_some_and(|a| a.state == ApprovalState::Approved);
            if !approved {
                return Err(LedgerError::Conflict(format!(
                    "release {version} has no approved approval, which production cluster `{}` needs",
                    event.cluster
                )));
            }
        }
        let deployment = self.sql.transaction(|tx| {
            if event.status == DeploymentStatus::RolledBack {
                let here = Place::Cluster(event.cluster.as_str());
                if !store::has_event(tx, release_id, None, here)? {
                    return Err(LedgerError::Conflict(format!(
                        "release {version} was never deployed to `{}`, so it cannot be rolled back there",
                        event.cluster
                    )));
                }
            }
            let release = (release_id, version);
            let deployment = store::insert_deployment(tx, release, event, environment, &ctx.actor, ctx.now)?;
            let entry = AuditEntry {
                actor: &ctx.actor,
                on_behalf_of: None,
                action: "deployment.recorded",
                target: format!("release/{version}/cluster/{}", event.cluster),
                request_id: &ctx.request_id,
                detail: Some(event.status.to_string()),
            };
            store::append_audit(tx, entry, ctx.now)?;
            Ok(deployment)
        })?;
        Ok(deployment)
    }

    /// Every configured cluster with what it runs now and its latest event.
    pub fn clusters(&self) -> Result<Vec<ClusterStatus>, LedgerError> {
        Ok(store::cluster_statuses(&self.sql, self.clusters, self.now)?)
    }

    /// Records what an observer saw CLUSTER run, and returns the cluster's status with it.
    /// The newest `observed_at` decides: a report made before the cluster's latest one (a
    /// replay, a slow observer) is kept as history and changes nothing. The audit log gets
    /// `drift.started` when the cluster begins to run a digest that is neither its current
    /// release's nor the one being rolled out there, and `drift.ended` when that stops.
    pub fn observe(
        &self,
        ctx: &Context,
        cluster: &ClusterName,
        observation: &NewObservation,
    ) -> Result<Observed, LedgerError> {
        if self.clusters.environment_of(cluster).is_none() {
            return Err(LedgerError::Rejected {
                field: "name",
                reason: format!("unknown cluster `{cluster}`"),
            });
        }
        if observation.observed_at.as_micros() > ctx.now.as_micros() + MAX_CLOCK_SKEW_MICROS {
            return Err(LedgerError::Rejected {
                field: "observed_at",
                reason: format!("{} is in the future", observation.observed_at),
            });
        }
        let observed = self.sql.transaction(|tx| {
            // Two observers of one cluster must not both find it undrifted and both log
            // `drift.started`.
            tx.serialize_on(&format!("observations:{cluster}"))?;
            let latest = store::latest_observation(tx, cluster)?;
            let decides = latest
                .as_ref()
                .is_none_or(|(seen, _)| seen.observed_at <= observation.observed_at);
            let was = latest.is_some_and(|(_, drifted)| drifted);
            let (before, in_flight) = self.state_of(tx, cluster)?;
            let drifted = drift::unexpected(
                before.current.as_ref(),
                in_flight.as_ref(),
                &observation.digest,
            );
            store::insert_observation(tx, cluster, observation, drifted, &ctx.actor, ctx.now)?;
            let (after, _) = self.state_of(tx, cluster)?;
            if decides && drifted != was {
                let detail = match (&after.drift, &after.current) {
                    (Some(drift), _) if drifted => drift.summary.clone(),
                    (_, Some(current)) => format!("{cluster} runs {} again", current.version),
                    _ => format!("{cluster} runs {}", observation.digest),
                };
                let entry = AuditEntry {
                    actor: &ctx.actor,
                    on_behalf_of: None,
                    action: if drifted {
                        "drift.started"
                    } else {
                        "drift.ended"
                    },
                    target: format!("cluster/{cluster}"),
                    request_id: &ctx.request_id,
                    detail: Some(detail),
                };
                store::append_audit(tx, entry, ctx.now)?;
            }
            Ok::<_, DbError>(Observed {
                status: after,
                latest: decides,
            })
        })?;
        Ok(observed)
    }

    fn state_of(
        &self,
        sql: &Sql,
        cluster: &ClusterName,
    ) -> Result<(ClusterStatus, Option<InFlight>), DbError> {
        let states = store::cluster_states(sql, &self.clusters.only(cluster), self.now)?;
        states
            .into_iter()
            .next()
            .ok_or_else(|| DbError::Mapping(format!("no status for {cluster}")))
    }

    /// Requests the production approval of a release that has succeeded on a staging cluster,
    /// for ON_BEHALF_OF when a service account asks for a person.
    pub fn request_approval(
        &self,
        ctx: &Context,
        version: &Version,
        on_behalf_of: Option<&Subject>,
    ) -> Result<Approval, LedgerError> {
        let (release_id, _) = self.release(version)?;
        let staged = Place::Environment(Environment::Staging);
        if !store::has_event(
            &self.sql,
            release_id,
            Some(DeploymentStatus::Succeeded),
            staged,
        )? {
            return Err(LedgerError::Conflict(format!(
                "release {version} has not succeeded on a staging cluster yet"
            )));
        }
        let inserted = self.sql.transaction(|tx| {
            let inserted =
                store::insert_approval(tx, release_id, &ctx.actor, on_behalf_of, ctx.now)?;
            if inserted {
                let entry = AuditEntry {
                    actor: &ctx.actor,
                    on_behalf_of,
                    action: "approval.requested",
                    target: format!("release/{version}"),
                    request_id: &ctx.request_id,
                    detail: None,
                };
                store::append_audit(tx, entry, ctx.now)?;
            }
            Ok::<_, DbError>(inserted)
        })?;
        if !inserted {
            return Err(LedgerError::Conflict(format!(
                "release {version} already has an approval"
            )));
        }
        self.approval(release_id, version)
    }

    /// Decides a pending approval, exactly once, and never by the subject who created the
    /// release or requested the approval, nor by the person a service account did either for
    /// (four eyes: the pipeline's `kestra` account records for whoever pushed the tag).
    pub fn decide(
        &self,
        ctx: &Context,
        version: &Version,
        decision: &NewDecision,
    ) -> Result<Approval, LedgerError> {
        let (release_id, release) = self.release(version)?;
        let approval = store::approval_of(&self.sql, release_id)?.ok_or_else(|| {
            LedgerError::Conflict(format!(
                "release {version} has no approval request to decide"
            ))
        })?;
        let involved = [
            Some(&release.created_by),
            release.on_behalf_of.as_ref(),
            Some(&approval.requested_by),
            approval.on_behalf_of.as_ref(),
        ];
        if involved
            .into_iter()
            .flatten()
            .any(|s| s == ctx.actor.as_str())
        {
            return Err(LedgerError::FourEyes(format!(
                "`{}` created release {version} or requested its approval (or a service account \
                 did so for them), so someone else must decide it",
                ctx.actor
            )));
        }
        let state = decision.decision.resulting_state();
        self.sql.transaction(|tx| {
            if !store::decide(
                tx,
                release_id,
                state,
                &ctx.actor,
                &decision.comment,
                ctx.now,
            )? {
                return Err(LedgerError::Conflict(format!(
                    "the approval of release {version} is already decided"
                )));
            }
            let entry = AuditEntry {
                actor: &ctx.actor,
                on_behalf_of: None,
                action: "approval.decided",
                target: format!("release/{version}"),
                request_id: &ctx.request_id,
                detail: Some(state.to_string()),
            };
            store::append_audit(tx, entry, ctx.now)?;
            Ok(())
        })?;
        self.approval(release_id, version)
    }

    pub fn list_approvals(
        &self,
        state: Option<ApprovalState>,
        page: PageRequest,
    ) -> Result<Page<Approval>, LedgerError> {
        Ok(store::list_approvals(&self.sql, state, page)?)
    }

    /// DORA's four keys for WINDOW (see [`crate::insights`]).
    pub fn insights(&self, window: &Window) -> Result<Insights, LedgerError> {
        Ok(insights::insights(&self.sql, window)?)
    }

    pub fn audit(&self, page: PageRequest) -> Result<Page<AuditEvent>, LedgerError> {
        self.audit_matching(&AuditFilter::default(), page)
    }

    /// The audit events FILTER lets through, newest first.
    pub fn audit_matching(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, LedgerError> {
        Ok(store::list_audit(&self.sql, filter, page)?)
    }

    /// The figures `/metrics` shows: counts, what each cluster runs, the newest approved
    /// release and the oldest pending approval.
    pub fn counts(&self) -> Result<Counts, LedgerError> {
        let mut counts = store::counts(&self.sql)?;
        let clusters = self.clusters()?;
        counts.observed = clusters
            .iter()
            .filter_map(|c| {
                let observed = c.observed.as_ref()?;
                Some((c.name.clone(), c.runs_unexpected(), observed.observed_at))
            })
            .collect();
        counts.current = clusters
            .into_iter()
            .filter_map(|c| Some((c.name, c.environment, c.current?.version)))
            .collect();
        Ok(counts)
    }

    fn release(&self, version: &Version) -> Result<(i64, Release), LedgerError> {
        store::release_by_version(&self.sql, version.as_str())?
            .ok_or_else(|| LedgerError::NotFound(format!("release {version}")))
    }

    fn approval(&self, release_id: i64, version: &Version) -> Result<Approval, LedgerError> {
        store::approval_of(&self.sql, release_id)?
            .ok_or_else(|| LedgerError::NotFound(format!("approval of release {version}")))
    }
}
