//! Putting a release on an environment's clusters through Karmada, and putting an earlier one
//! back. The ledger hears every step and is asked first: `started` before anything changes
//! (for production the ledger refuses it unless the release was approved, so nothing unapproved
//! is ever applied), `succeeded` only after Karmada's aggregated status is ready with the new
//! digest and the smoke checks passed; on any failure after the start, `failed`, the previous
//! release put back (its own commit's manifests, its recorded digest), and `rolled_back`.

use crate::analysis::Settings;
use crate::answers::Cluster;
use crate::cli::{self, EnvironmentName, Target};
use crate::failure::Failure;
use crate::hold;
use crate::karmada::{Expected, Karmada, kubectl_error};
use crate::ledger_client::{LedgerClient, NewEvent};
use crate::overlay;
use crate::smoke;
use ledger::types::{ApprovalState, ClusterName, DeploymentStatus, Digest, Version, WebUrl};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod stages;

/// Where an environment lives in a checkout and on the Karmada control plane.
pub struct Environment {
    name: EnvironmentName,
    /// Where the manifests are read: the checkout, or one commit's of it (`Environment::at`).
    root: PathBuf,
    /// The git checkout each commit's manifests come from, whichever `root` is read.
    repository: PathBuf,
    image: String,
    kubeconfig: PathBuf,
    timeout: Duration,
    execution_url: Option<WebUrl>,
}

/// What to put on the environment.
pub struct Rollout<'a> {
    pub version: &'a Version,
    pub digest: &'a Digest,
    /// Where the artifact was pushed (the overlay's `newName:`).
    pub new_name: Option<&'a str>,
    /// `cluster=url` pairs whose `/api/info` must show the version.
    pub smoke: &'a [String],
    /// Nothing to do when every cluster already runs this version with this digest.
    pub unless_current: bool,
    /// `cluster=url` pairs: the Prometheus that judges each stage's cluster.
    pub prometheus: &'a [String],
}

impl Rollout<'_> {
    /// Whether the ledger shows CLUSTER running this version with this digest.
    fn runs_on(&self, cluster: &Cluster) -> bool {
        cluster
            .current
            .as_ref()
            .is_some_and(|now| &now.version == self.version && &now.digest == self.digest)
    }
}

impl Environment {
    pub fn new(name: EnvironmentName, target: Target, execution_url: Option<WebUrl>) -> Self {
        Environment {
            name,
            repository: target.root.clone(),
            root: target.root,
            image: target.image,
            kubeconfig: target.kubeconfig,
            timeout: Duration::from_secs(target.timeout),
            execution_url,
        }
    }

    /// The same environment with the manifests under ROOT.
    fn at(&self, root: &Path) -> Self {
        Environment {
            root: root.to_owned(),
            repository: self.repository.clone(),
            name: self.name,
            image: self.image.clone(),
            kubeconfig: self.kubeconfig.clone(),
            timeout: self.timeout,
            execution_url: self.execution_url.clone(),
        }
    }

    fn overlay(&self) -> PathBuf {
        self.root.join("k8s/overlays").join(self.name.as_str())
    }

    fn workload(&self) -> PathBuf {
        self.root.join("karmada/workloads").join(self.name.as_str())
    }

    /// The namespace the environment's objects have on the control plane (karmada/namespaces.yaml).
    fn namespace(&self) -> &'static str {
        match self.name {
            EnvironmentName::Production => "automatizacion",
            EnvironmentName::Staging => "automatizacion-staging",
        }
    }

    fn karmada(&self) -> Karmada<'_> {
        Karmada {
            kubeconfig: &self.kubeconfig,
            context: None,
        }
    }

    /// The image a rollout pins: where it was pushed, by digest.
    fn image_of(&self, rollout: &Rollout) -> String {
        let repository = rollout.new_name.unwrap_or(&self.image);
        format!("{repository}@{}", rollout.digest)
    }

    /// Pins DIGEST in the overlay and applies the workload to Karmada.
    fn apply(&self, digest: &Digest, new_name: Option<&str>) -> Result<(), Failure> {
        overlay::set_image(&self.overlay(), &self.image, new_name, digest)?;
        let output = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["apply", "-k"])
            .arg(self.workload())
            .output()
            .map_err(|e| Failure::Unreachable(format!("cannot run kubectl: {e}")))?;
        if !output.status.success() {
            return Err(Failure::Unreachable(format!(
                "kubectl apply -k {}: {}",
                self.workload().display(),
                kubectl_error(&output)
            )));
        }
        Ok(())
    }

    /// Pins DIGEST, applies the workload to Karmada and waits until it is ready everywhere.
    /// The stages a stopped staged rollout left go too: this release is for every cluster.
    fn roll_out(&self, digest: &Digest, new_name: Option<&str>) -> Result<String, Failure> {
        self.apply(digest, new_name)?;
        let karmada = self.karmada();
        hold::set(&karmada, self.namespace(), &hold::Images::new())
            .map_err(Failure::Unreachable)?;
        karmada.wait_ready(
            self.namespace(),
            &Expected::everywhere(Some(digest)),
            self.timeout,
        )
    }

    fn record(
        &self,
        ledger: &LedgerClient,
        version: &Version,
        cluster: &ClusterName,
        status: DeploymentStatus,
        message: Option<&str>,
        analysis: Option<&ledger::analysis::Record>,
    ) -> Result<(), Failure> {
        let message: Option<String> = message.map(|m| m.chars().take(2000).collect());
        let event = NewEvent {
            cluster,
            status,
            message: message.as_deref(),
            execution_url: self.execution_url.as_ref(),
            analysis,
        };
        ledger.record_deployment(version, &event)
    }

    fn record_all(
        &self,
        ledger: &LedgerClient,
        version: &Version,
        clusters: &[Cluster],
        status: DeploymentStatus,
        message: Option<&str>,
    ) -> Result<(), Failure> {
        clusters
            .iter()
            .try_for_each(|c| self.record(ledger, version, &c.name, status, message, None))
    }
}

/// The environment's clusters, each with what it runs now, from the ledger.
fn clusters_of(ledger: &LedgerClient, env: &Environment) -> Result<Vec<Cluster>, Failure> {
    let clusters: Vec<Cluster> = ledger
        .clusters()?
        .into_iter()
        .filter(|c| c.environment.as_str() == env.name.as_str())
        .collect();
    if clusters.is_empty() {
        return Err(Failure::Invalid(format!(
            "the ledger knows no cluster in environment {}",
            env.name.as_str()
        )));
    }
    Ok(clusters)
}

fn names(clusters: &[Cluster]) -> String {
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    names.join(", ")
}

/// `relctl deploy`.
pub fn deploy(ledger: &LedgerClient, args: cli::Deploy) -> Result<String, Failure> {
    let env = Environment::new(args.environment, args.target, args.execution_url);
    let prometheus: Vec<String> = args
        .prometheus
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    let rollout = Rollout {
        version: &args.version,
        digest: &args.digest,
        new_name: args.new_name.as_deref(),
        smoke: &args.smoke,
        unless_current: args.unless_current,
        prometheus: &prometheus,
    };
    if args.stages.0.is_empty() {
        if !prometheus.is_empty() {
            return Err(Failure::Invalid(
                "--prometheus judges a stage, and there are no --stages".into(),
            ));
        }
        return roll_out(ledger, &env, &rollout);
    }
    if args.new_name.is_none() {
        return Err(Failure::Invalid(
            "--stages needs --new-name: each stage names the pushed image".into(),
        ));
    }
    let analysis = match prometheus.is_empty() {
        true => None,
        false => Some(Settings::new(&args.analysis)?),
    };
    stages::roll_out_in_stages(ledger, &env, &rollout, &args.stages.0, analysis.as_ref())
}

/// `relctl roll-back`.
pub fn roll_back(ledger: &LedgerClient, args: cli::RollBack) -> Result<String, Failure> {
    let env = Environment::new(args.environment, args.target, args.execution_url);
    roll_back_to(ledger, &env, &args.to_version)
}

/// Deploys the rollout's release to the environment.
fn roll_out(
    ledger: &LedgerClient,
    env: &Environment,
    rollout: &Rollout,
) -> Result<String, Failure> {
    let version = rollout.version;
    let clusters = clusters_of(ledger, env)?;
    let smoke = cluster_urls("--smoke", rollout.smoke, &clusters, env)?;
    if rollout.unless_current && clusters.iter().all(|c| rollout.runs_on(c)) {
        return Ok(format!(
            "{version} already runs on {}; nothing to do",
            names(&clusters)
        ));
    }
    // What to put back if this fails: the release the environment runs now, from where it
    // was pushed.
    let previous = clusters
        .iter()
        .filter_map(|c| c.current.as_ref())
        .find(|now| &now.version != version)
        .cloned();
    env.record_all(ledger, version, &clusters, DeploymentStatus::Started, None)?;
    let outcome = env
        .roll_out(rollout.digest, rollout.new_name)
        .and_then(|ready| {
            for (cluster, url) in &smoke {
                smoke::smoke(url, cluster, version, env.timeout)?;
            }
            Ok(ready)
        });
    let reason = match outcome {
        Ok(ready) => {
            env.record_all(
                ledger,
                version,
                &clusters,
                DeploymentStatus::Succeeded,
                None,
            )?;
            return Ok(format!("{version} runs on {} ({ready})", names(&clusters)));
        }
        Err(failure) => failure.to_string(),
    };
    env.record_all(
        ledger,
        version,
        &clusters,
        DeploymentStatus::Failed,
        Some(&reason),
    )?;
    let environment = env.name.as_str();
    let Some(previous) = previous else {
        return Err(Failure::DeployFailed(format!(
            "{version} failed on {environment} and no earlier release ran there to put back: {reason}"
        )));
    };
    if let Err(again) = put_back(ledger, env, &previous) {
        return Err(Failure::DeployFailed(format!(
            "{version} failed on {environment}: {reason}; putting {} back failed too: {again}",
            previous.version
        )));
    }
    let message = format!("{} put back", previous.version);
    env.record_all(
        ledger,
        version,
        &clusters,
        DeploymentStatus::RolledBack,
        Some(&message),
    )?;
    Err(Failure::DeployFailed(format!(
        "{version} failed on {environment} and {} was put back: {reason}",
        previous.version
    )))
}

/// Puts PREVIOUS back as it was deployed: its digest, with the manifests of its own commit (a
/// newer commit's may name settings, Secrets or policies the older release never had).
fn put_back(
    ledger: &LedgerClient,
    env: &Environment,
    previous: &crate::answers::Current,
) -> Result<String, Failure> {
    let release = ledger.release(&previous.version)?;
    let checkout = Checkout::at(&env.repository, release.commit.as_str())?;
    // The stages' hold goes first. Under it, the canary keeps the failed release's image while
    // the template takes PREVIOUS's manifests, so for a moment it would run the failed release
    // with the previous one's settings, which may well make it ready, and serve it.
    hold::set(&env.karmada(), env.namespace(), &hold::Images::new())
        .map_err(Failure::Unreachable)?;
    env.at(&checkout.path)
        .roll_out(&previous.digest, Some(previous.artifact.repository()))
}

/// FLAG's `cluster=url` pairs, each naming a cluster of the environment.
fn cluster_urls(
    flag: &str,
    pairs: &[String],
    clusters: &[Cluster],
    env: &Environment,
) -> Result<Vec<(ClusterName, String)>, Failure> {
    pairs
        .iter()
        .map(|pair| {
            let (cluster, url) = pair
                .split_once('=')
                .filter(|(_, url)| !url.is_empty())
                .ok_or_else(|| Failure::Invalid(format!("{flag} {pair:?} is not CLUSTER=URL")))?;
            let cluster = ClusterName::parse(cluster)?;
            if !clusters.iter().any(|c| c.name == cluster) {
                return Err(Failure::Invalid(format!(
                    "{flag} names {cluster}, which is not in {}",
                    env.name.as_str()
                )));
            }
            Ok((cluster, url.to_owned()))
        })
        .collect()
}

/// Puts TO_VERSION back on the environment (Rundeck's rollback-production) as honestly as a
/// deploy: production takes only a release approved for it (checked before anything changes),
/// the manifests are the ones at the release's own commit, the digest is its recorded one, and
/// the ledger hears `started`, then `succeeded` (or `failed` and what was put back). Once it
/// runs, what ran before is recorded `rolled_back`.
fn roll_back_to(
    ledger: &LedgerClient,
    env: &Environment,
    to_version: &Version,
) -> Result<String, Failure> {
    let release = ledger.release(to_version)?;
    let approved = release
        .approval
        .as_ref()
        .is_some_and(|a| a.state == ApprovalState::Approved);
    if env.name == EnvironmentName::Production && !approved {
        return Err(Failure::Refused {
            status: 409,
            reason: format!(
                "{to_version} was never approved for production; production is unchanged"
            ),
        });
    }
    let before = clusters_of(ledger, env)?;
    let checkout = Checkout::at(&env.repository, release.commit.as_str())?;
    let at_its_commit = env.at(&checkout.path);
    let rollout = Rollout {
        version: to_version,
        digest: &release.digest,
        new_name: Some(release.artifact.repository()),
        smoke: &[],
        unless_current: true,
        prometheus: &[],
    };
    let done = roll_out(ledger, &at_its_commit, &rollout)?;
    for cluster in &before {
        if let Some(now) = cluster
            .current
            .as_ref()
            .filter(|now| &now.version != to_version)
        {
            let message = format!("{to_version} put back");
            env.record(
                ledger,
                &now.version,
                &cluster.name,
                DeploymentStatus::RolledBack,
                Some(&message),
                None,
            )?;
        }
    }
    Ok(format!("{done}; {} runs again", env.name.as_str()))
}

/// `k8s/` and `karmada/` as they were at one commit of a checkout, in a directory of their own
/// that goes away with this value.
struct Checkout {
    path: PathBuf,
}

impl Checkout {
    fn at(root: &Path, commit: &str) -> Result<Self, Failure> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("relctl-{commit}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| Failure::Invalid(format!("cannot create {}: {e}", path.display())))?;
        let checkout = Checkout { path };
        let archive = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["archive", "--format=tar", commit, "k8s", "karmada"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Failure::Unreachable(format!("cannot run git: {e}")))?;
        let unpacked = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(&checkout.path)
            .stdin(
                archive
                    .stdout
                    .ok_or_else(|| Failure::Unreachable("git gave no output".into()))?,
            )
            .stderr(Stdio::null()) // git's own error says why, below
            .status()
            .map_err(|e| Failure::Unreachable(format!("cannot run tar: {e}")))?;
        let mut stderr = String::new();
        if let Some(mut err) = archive.stderr {
            use std::io::Read;
            let _ = err.read_to_string(&mut stderr);
        }
        if !unpacked.success() || !checkout.path.join("karmada").exists() {
            return Err(Failure::Invalid(format!(
                "the manifests at commit {commit} are not in the checkout {} (fetch it there \
                 first): {}",
                root.display(),
                stderr.lines().next().unwrap_or("git archive failed")
            )));
        }
        Ok(checkout)
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A rollback rolls out from its release's unpacked manifests; when that fails, the put-back
    /// unpacks what ran before from the git checkout, which the unpacked tree is not.
    #[test]
    fn an_environment_at_one_commits_manifests_unpacks_others_from_its_checkout() {
        let repository = std::env::temp_dir().join(format!("relctl-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&repository);
        git(
            Path::new("/"),
            &["init", "-q", repository.to_str().unwrap()],
        );
        let mut commits = Vec::new();
        for release in ["older", "newer"] {
            for dir in ["k8s", "karmada"] {
                std::fs::create_dir_all(repository.join(dir)).unwrap();
                std::fs::write(repository.join(dir).join("release"), release).unwrap();
            }
            git(&repository, &["add", "."]);
            let who = ["-c", "user.name=t", "-c", "user.email=t@example.com"];
            git(
                &repository,
                &[&who[..], &["commit", "-qm", release]].concat(),
            );
            commits.push(git(&repository, &["rev-parse", "HEAD"]));
        }
        let target = Target {
            root: repository.clone(),
            image: cli::IMAGE.into(),
            kubeconfig: "kubeconfig".into(),
            timeout: 1,
        };
        let env = Environment::new(EnvironmentName::Production, target, None);
        let newer = Checkout::at(&env.repository, &commits[1]).unwrap();
        let at_newer = env.at(&newer.path);
        assert_eq!(
            at_newer.workload(),
            newer.path.join("karmada/workloads/production")
        );
        let older = Checkout::at(&at_newer.repository, &commits[0]).unwrap();
        let read = std::fs::read_to_string(older.path.join("karmada/release")).unwrap();
        assert_eq!(read, "older");
        let refused = Checkout::at(&newer.path, &commits[0]).err().unwrap();
        assert!(
            format!("{refused:?}").contains("not in the checkout"),
            "{refused:?}"
        );
        std::fs::remove_dir_all(&repository).unwrap();
    }
}
