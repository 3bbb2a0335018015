//! The stand-in's loop: every second, for each member cluster, read its SpinApps and bring the
//! Spin processes in line, as the operator brings Deployments in line and the kubelet pods.
//!
//! - A SpinApp with no process gets one: `spin up --from IMAGE` on a free loopback port, with
//!   the resolved environment, runtime config and components, pulling from the registry the
//!   image names.
//! - A changed SpinApp (new digest, variable, Secret value) gets a new process beside the old
//!   one; the old one stops only once the new one is ready, like a rolling update with
//!   `maxUnavailable: 0`. A new process that exits is started again after 10 s, as a crash loop.
//! - A deleted SpinApp's process stops.
//!
//! Each SpinApp has a Service (`service`): a loopback address for its life that forwards to
//! the process that is ready, which other apps' variables and people use.
//!
//! Each SpinApp also has the Deployment the operator would make (`deployment`), which says
//! when a change has been taken. Status is what the operator copies from that Deployment:
//! `readyReplicas` is the desired count while a process passes the readiness check (one
//! process stands for every replica), else 0; `Available` says whether any version serves;
//! `Progressing` is False, with the new process's last words, while a change cannot become
//! ready.

pub use crate::config::Config;
use crate::deployment::{self, Deployed, Running};
use crate::desired::{self, Desired, NotYet, Services};
use crate::kube::{KubectlLookup, kubectl_json};
use crate::process::{Instance, exited, ready, start, stop};
use crate::service::Service;
use crate::status::{self, condition};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A crashed process is started again after this long.
const BACKOFF: Duration = Duration::from_secs(10);

/// (member, namespace, name).
type Key = (String, String, String);
#[derive(Default)]
struct App {
    /// Its Service: opened when the SpinApp is first seen, closed when it is deleted.
    service: Option<Service>,
    serving: Option<Instance>,
    starting: Option<Instance>,
    /// The change that last failed to start, why, and when.
    failed: Option<(Desired, String, Instant)>,
    /// The status last written, so that an unchanged one is not written again.
    written: Option<Value>,
    /// Its Deployment, as last applied.
    deployment: Option<Deployed>,
}

pub struct StandIn {
    config: Config,
    apps: BTreeMap<Key, App>,
}

impl StandIn {
    pub fn new(config: Config) -> Self {
        StandIn {
            config,
            apps: BTreeMap::new(),
        }
    }

    /// One pass over every member; a member that cannot be read is skipped this time.
    pub fn step(&mut self) {
        for member in self.config.members.clone() {
            if let Err(why) = self.reconcile(&member) {
                eprintln!("spinkube-standin: {member}: {why}");
            }
        }
        self.write_endpoints();
    }

    /// The Service address of NAMESPACE/NAME on MEMBER, once the stand-in has seen it.
    pub fn service(&self, member: &str, namespace: &str, name: &str) -> Option<String> {
        let key = (member.to_owned(), namespace.to_owned(), name.to_owned());
        let service = self.apps.get(&key)?.service.as_ref()?;
        Some(format!("http://{}", service.address))
    }

    /// Stops every process, closes every Service and deletes every Deployment.
    pub fn stop(&mut self) {
        for ((member, namespace, name), mut app) in std::mem::take(&mut self.apps) {
            app.shut(&self.kubeconfig(&member), &namespace, &name, Shut::Stopping);
        }
    }

    fn kubeconfig(&self, member: &str) -> PathBuf {
        self.config.kubeconfigs.join(member)
    }

    fn reconcile(&mut self, member: &str) -> Result<(), String> {
        let kubeconfig = self.kubeconfig(member);
        let listed = kubectl_json(&kubeconfig, &["get", "spinapps", "--all-namespaces"])?;
        let items = listed["items"].as_array().cloned().unwrap_or_default();
        let mut present = BTreeSet::new();
        // One lookup per namespace per pass: each ConfigMap, Secret and executor read once.
        let mut lookups: BTreeMap<String, KubectlLookup> = BTreeMap::new();
        for app in &items {
            let namespace = text(&app["metadata"], "namespace");
            let name = text(&app["metadata"], "name");
            let key = (member.to_owned(), namespace.clone(), name.clone());
            present.insert(key.clone());
            let lookup = lookups
                .entry(namespace.clone())
                .or_insert_with(|| KubectlLookup::new(&kubeconfig, namespace.clone()));
            let services = self.services(member);
            let resolved = desired::resolve(app, &*lookup, &services);
            let state_dir = self.config.state.join(member).join(&namespace).join(&name);
            let entry = self.apps.entry(key).or_default();
            if entry.service.is_none() {
                entry.service = Some(Service::open().map_err(|e| format!("no port: {e}"))?);
            }
            let (desired, waiting) = match resolved {
                Ok(desired) => {
                    entry.advance(desired.clone(), &self.config, &state_dir);
                    (Some(desired), None)
                }
                Err(NotYet::WaitingFor(what)) => (None, Some(format!("waiting for {what}"))),
                Err(NotYet::Invalid(why)) => (None, Some(why)),
            };
            entry.check();
            let status = entry.status(app, waiting.as_deref());
            if let Some(desired) = &desired
                && let Err(why) = entry.sync_deployment(&kubeconfig, app, desired, &status)
            {
                eprintln!("spinkube-standin: {member}: {why}");
            }
            if entry.written.as_ref() != Some(&status) {
                // A SpinApp deleted since the listing refuses its status; the next pass knows.
                match status::write(&kubeconfig, &namespace, &name, &status) {
                    Ok(()) => entry.written = Some(status),
                    Err(why) => eprintln!("spinkube-standin: {member}: {why}"),
                }
            }
        }
        // Deleted SpinApps shut: processes, Deployment and (once dropped) Service.
        self.apps.retain(|key, app| {
            let keep = key.0 != member || present.contains(key);
            if !keep {
                app.shut(&kubeconfig, &key.1, &key.2, Shut::SpinAppDeleted);
            }
            keep
        });
        Ok(())
    }

    /// The Service address of every SpinApp on MEMBER, and of the platform's Services there.
    fn services(&self, member: &str) -> Services {
        let mut services = self
            .config
            .platform_services
            .get(member)
            .cloned()
            .unwrap_or_default();
        services.extend(
            self.apps
                .iter()
                .filter(|((m, _, _), _)| m == member)
                .filter_map(|((_, ns, name), app)| {
                    let service = app.service.as_ref()?;
                    Some(((ns.clone(), name.clone(), 80), service.address.clone()))
                }),
        );
        services
    }

    /// `endpoints.json`: member → `namespace/name` → the Service's URL, for each SpinApp with
    /// a ready process; for people and scripts.
    fn write_endpoints(&self) {
        let mut endpoints: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
        for ((member, ns, name), app) in &self.apps {
            if let Some(service) = app.service.as_ref().filter(|s| s.routes()) {
                endpoints.entry(member).or_default().insert(
                    format!("{ns}/{name}"),
                    format!("http://{}", service.address),
                );
            }
        }
        let path = self.config.state.join("endpoints.json");
        let partial = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(&endpoints).unwrap();
        if std::fs::write(&partial, text).is_ok() {
            let _ = std::fs::rename(partial, path);
        }
    }
}

/// Why an app shuts: what decides whether a Deployment it did not make goes too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shut {
    Stopping,
    SpinAppDeleted,
}

impl App {
    /// Stops its processes and deletes its Deployment; its Service closes when it drops. A
    /// stand-in that stops deletes only a Deployment it made; once the SpinApp is gone, its
    /// Deployment goes whoever made it (an earlier stand-in, say), as the garbage collector
    /// removes what the SpinApp owns.
    fn shut(&mut self, kubeconfig: &Path, namespace: &str, name: &str, why: Shut) {
        let made_here = self.deployment.take().is_some();
        if made_here || why == Shut::SpinAppDeleted {
            let _ = deployment::delete(kubeconfig, namespace, name);
        }
        for instance in [self.serving.take(), self.starting.take()]
            .into_iter()
            .flatten()
        {
            stop(instance);
        }
    }

    /// Starts a process for DESIRED unless one runs or starts for it, or it crashed lately.
    fn advance(&mut self, desired: Desired, config: &Config, dir: &Path) {
        if self.serving.as_ref().is_some_and(|i| i.desired == desired) {
            if let Some(stale) = self.starting.take() {
                stop(stale); // the change was taken back
            }
            self.failed = None;
            return;
        }
        if self.starting.as_ref().is_some_and(|i| i.desired == desired) {
            return;
        }
        if let Some((failed, _, at)) = &self.failed
            && *failed == desired
            && at.elapsed() < BACKOFF
        {
            return;
        }
        if let Some(stale) = self.starting.take() {
            stop(stale);
        }
        // A crash loop keeps saying why; a different change starts with a clean slate.
        if self
            .failed
            .as_ref()
            .is_some_and(|(failed, _, _)| *failed != desired)
        {
            self.failed = None;
        }
        match start(&desired, config, dir) {
            Ok(instance) => self.starting = Some(instance),
            Err(why) => self.failed = Some((desired, why, Instant::now())),
        }
    }

    /// Notes exits and readiness; a ready new process replaces the old one.
    fn check(&mut self) {
        if let Some(instance) = self.starting.as_mut() {
            if let Some(why) = exited(instance) {
                let instance = self.starting.take().unwrap();
                self.failed = Some((instance.desired.clone(), why, Instant::now()));
                stop(instance);
            } else if ready(instance) {
                let mut new = self.starting.take().unwrap();
                new.ready = true;
                if let Some(service) = &self.service {
                    service.route_to(Some(&new.address)); // before the old one stops
                }
                if let Some(old) = self.serving.replace(new) {
                    stop(old);
                }
                self.failed = None;
            }
        }
        if let Some(instance) = self.serving.as_mut() {
            if let Some(why) = exited(instance) {
                let instance = self.serving.take().unwrap();
                self.failed = Some((instance.desired.clone(), why, Instant::now()));
                stop(instance);
            } else {
                instance.ready = ready(instance);
            }
        }
        let ready = self.serving.as_ref().filter(|i| i.ready);
        if let Some(service) = &self.service {
            service.route_to(ready.map(|i| i.address.as_str()));
        }
    }

    /// Keeps the Deployment in step with DESIRED and the processes; STATUS is the SpinApp's,
    /// whose conditions are the Deployment's.
    fn sync_deployment(
        &mut self,
        kubeconfig: &Path,
        app: &Value,
        desired: &Desired,
        status: &Value,
    ) -> Result<(), String> {
        let serving = self.serving.as_ref().filter(|i| i.ready);
        let running = Running {
            new_ready: serving.is_some_and(|i| i.desired == *desired),
            old_ready: serving.is_some_and(|i| i.desired != *desired),
            conditions: status["conditions"].clone(),
        };
        let applied = self.deployment.take();
        self.deployment = Some(deployment::sync(
            kubeconfig, app, desired, &running, applied,
        )?);
        Ok(())
    }

    fn status(&self, app: &Value, waiting: Option<&str>) -> Value {
        let desired = app["spec"]["replicas"].as_i64().unwrap_or(1);
        let serving = self.serving.as_ref().filter(|i| i.ready);
        let ready = if serving.is_some() { desired } else { 0 };
        let available = match serving {
            Some(i) => condition(
                "Available",
                true,
                "MinimumReplicasAvailable",
                &format!(
                    "SpinKube stand-in: Spin serves {} at http://{}",
                    i.desired.image, i.address
                ),
            ),
            None => condition(
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "SpinKube stand-in: no Spin process is ready",
            ),
        };
        let progressing = match (&self.failed, waiting, &self.starting) {
            (Some((d, why, _)), _, _) => condition(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                &format!("SpinKube stand-in: {} does not start: {why}", d.image),
            ),
            (None, Some(why), _) => condition(
                "Progressing",
                false,
                "ReplicaSetCreateError",
                &format!("SpinKube stand-in: {why}"),
            ),
            (None, None, Some(i)) => condition(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                &format!("SpinKube stand-in: starting {}", i.desired.image),
            ),
            (None, None, None) => condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                "SpinKube stand-in: up to date",
            ),
        };
        json!({"readyReplicas": ready, "activeScheduler": "containerd-shim-spin",
               "conditions": [available, progressing]})
    }
}

fn text(record: &Value, key: &str) -> String {
    record[key].as_str().unwrap_or_default().to_owned()
}
