//! Real SpinKube nodes for the members of the suite's control plane (`local-dev/nodes.sh`):
//! containerd with containerd-shim-spin, a kubelet, kube-proxy, the real spin-operator and a
//! cluster DNS stand-in, each member's node in a network namespace of its own. Its pods and
//! Services are reached from the host at their own addresses.

use host_harness::control_plane::MEMBERS;
use host_harness::control_plane::{
    KARMADA, get, kubeconfigs, kubectl, kubectl_ok, until_members_hold_secret,
};
use host_harness::{OneSetOfNodes, repo};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The app's namespaces on the members (karmada/namespaces.yaml).
const NAMESPACES: [&str; 2] = ["automatizacion", "automatizacion-staging"];

/// The nodes of some members, started for a test and stopped when dropped, with everything
/// they leave outside their directories and what the operator and `outside` made on the
/// members (Deployments, Services, EndpointSlices), so that the next test finds the members as
/// the suite's control plane left them.
pub struct Nodes {
    members: Vec<String>,
    /// Released after `drop` has stopped them.
    _one_set: OneSetOfNodes,
}

impl Nodes {
    /// Starts a node for each of MEMBERS, pulling from the suite's registry (`TEST_REGISTRY`),
    /// once no other set of nodes runs.
    ///
    /// # Panics
    /// When a node does not start: with `nodes.sh`'s own account.
    pub fn up(members: &[&str]) -> Self {
        let registry = std::env::var("TEST_REGISTRY")
            .expect("TEST_REGISTRY: run under scripts/with-registry.sh, as `make test` does");
        let one_set = OneSetOfNodes::wait();
        let out = nodes_sh(&[&["up"], members].concat(), &[("REGISTRY", &registry)]);
        // Made before the check, so that what a failed start left is cleaned up too.
        let nodes = Nodes::of(members, one_set);
        assert!(out.status.success(), "nodes.sh up: {}", text(&out));
        nodes
    }

    /// The nodes of MEMBERS that something other than [`Nodes::up`] will start (a README's
    /// block typed into a shell), once no other set of nodes runs; stopped and cleaned up when
    /// dropped as if `up` had started them.
    ///
    /// # Panics
    /// When nodes of this control plane's slot run that this suite did not start (a node's
    /// namespace lives).
    pub fn started_elsewhere(members: &[&str]) -> Self {
        let one_set = OneSetOfNodes::wait();
        let netns = node_namespaces();
        assert!(netns.is_empty(), "nodes already run here:\n{netns}");
        Nodes::of(members, one_set)
    }

    /// One node for every member, shared by every test of this process: started by the first
    /// that asks, stopped (and the members left as found) when the process exits. Starting and
    /// stopping a set takes half a minute; a test that shares them starts from [`Nodes::clear`].
    ///
    /// # Panics
    /// When a node does not start (and a later test tries again).
    pub fn shared() -> &'static Nodes {
        SHARED.get_or_init(|| {
            let nodes = Nodes::up(&MEMBERS);
            stop_shared_at_exit();
            nodes
        })
    }

    fn of(members: &[&str], one_set: OneSetOfNodes) -> Self {
        Nodes {
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            _one_set: one_set,
        }
    }

    /// `ctr ARGS…` against MEMBER's containerd: its stdout.
    ///
    /// # Panics
    /// When ctr fails.
    pub fn ctr(&self, member: &str, args: &[&str]) -> String {
        let out = nodes_sh(&[&["ctr", member], args].concat(), &[]);
        assert!(
            out.status.success(),
            "ctr {}: {}",
            args.join(" "),
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Nodes {
    /// Makes SERVICE.NAMESPACE:PORT on MEMBER reach the host's 127.0.0.1:HOST_PORT, as a cluster
    /// reaches a managed database (`nodes.sh outside`).
    ///
    /// # Panics
    /// When nodes.sh refuses.
    pub fn outside(
        &self,
        member: &str,
        namespace: &str,
        service: &str,
        port: u16,
        host_port: &str,
    ) {
        let port = port.to_string();
        let args = ["outside", member, namespace, service, &port, host_port];
        let out = nodes_sh(&args, &[]);
        assert!(out.status.success(), "nodes.sh outside: {}", text(&out));
    }
}

impl Nodes {
    /// What the members hold in the app's namespaces, for a test that failed (a timeout says
    /// only what the test waited for), the most telling first, as a CI log may keep only a
    /// failure's first lines: every pod, Service and EndpointSlice, a line each; the last
    /// warnings among the events since [`Nodes::clear`]; then the app's last log lines and each
    /// node's DNS records.
    pub fn account(&self) -> String {
        let objects = [
            "get",
            "pods,services,endpointslices",
            "-o",
            "wide",
            "--no-headers",
        ];
        let warnings = [
            "get",
            "events",
            "--field-selector=type=Warning",
            "--sort-by=.lastTimestamp",
            "--no-headers",
        ];
        let logs = [
            "logs",
            "-l",
            "app.kubernetes.io/name=automatizacion",
            "--prefix",
            "--tail=20",
        ];
        let mut account = String::new();
        for (args, last) in [
            (&objects[..], usize::MAX),
            (&warnings, 8),
            (&logs, usize::MAX),
        ] {
            for member in &self.members {
                for namespace in NAMESPACES {
                    let mut command = vec!["-n", namespace, "--request-timeout=10s"];
                    command.extend(args);
                    let out = kubectl(member, &command, None).unwrap_or_else(|why| why);
                    let lines: Vec<&str> = out.lines().map(|l| cut(l, 400)).collect();
                    if lines.is_empty() {
                        continue;
                    }
                    let shown = lines[lines.len().saturating_sub(last)..].join("\n");
                    let heading = format!("{member}, {namespace}: kubectl {}", args.join(" "));
                    account.push_str(&format!("--- {heading}\n{shown}\n"));
                }
            }
        }
        for member in &self.members {
            let hosts = kubeconfigs().join(format!("../nodes/{member}/dns/hosts"));
            let records = std::fs::read_to_string(&hosts).unwrap_or_else(|e| e.to_string());
            account.push_str(&format!("--- {member}'s DNS records\n{records}\n"));
        }
        account
    }
}

/// LINE's first MAX characters: an event's message can hold a whole pull error.
fn cut(line: &str, max: usize) -> &str {
    line.char_indices()
        .nth(max)
        .map_or(line, |(at, _)| &line[..at])
}

impl Nodes {
    /// MEMBER's kubelet frozen (`nodes.sh pause`), as a node that stops reporting: its pods run
    /// on, and the member marks them not ready once the node's lease has lapsed.
    ///
    /// # Panics
    /// When nodes.sh refuses.
    pub fn pause(&self, member: &str) {
        let out = nodes_sh(&["pause", member], &[]);
        assert!(out.status.success(), "nodes.sh pause: {}", text(&out));
    }

    /// MEMBER's kubelet thawed (`nodes.sh resume`): it reports again, and its pods are ready.
    ///
    /// # Panics
    /// When nodes.sh refuses.
    pub fn resume(&self, member: &str) {
        let out = nodes_sh(&["resume", member], &[]);
        assert!(out.status.success(), "nodes.sh resume: {}", text(&out));
    }
}

impl Nodes {
    /// NAMESPACE on each member reads the PostgreSQL at DB_URL and the Redis at KV_URL (both on
    /// the host's loopback) through Services of their own, `automatizacion-db` and
    /// `automatizacion-kv` (`outside`); Karmada holds the namespace's Secret naming them.
    ///
    /// # Panics
    /// When a Service or the Secret cannot be made.
    pub fn read_from_outside(&self, namespace: &str, db_url: &str, kv_url: &str) {
        let members: Vec<&str> = self.members.iter().map(String::as_str).collect();
        self.read_from_outside_on(&members, namespace, db_url, kv_url);
    }

    /// [`Nodes::read_from_outside`] on MEMBERS only: those that hold NAMESPACE (Karmada takes
    /// each environment's namespace to its own clusters).
    ///
    /// # Panics
    /// When a Service or the Secret cannot be made.
    pub fn read_from_outside_on(
        &self,
        members: &[&str],
        namespace: &str,
        db_url: &str,
        kv_url: &str,
    ) {
        for member in members {
            for (service, port, url) in [
                ("automatizacion-db", 5432, db_url),
                ("automatizacion-kv", 6379, kv_url),
            ] {
                self.outside(member, namespace, service, port, &loopback_port(url));
            }
        }
        let db = in_cluster(db_url, namespace, "automatizacion-db", 5432);
        let kv = in_cluster(kv_url, namespace, "automatizacion-kv", 6379);
        apply_secrets(namespace, &db, &kv);
    }
}

/// The network namespaces of this control plane's nodes that live on this machine, a path
/// each (`nodes.sh namespaces`, which knows how a slot names them).
///
/// # Panics
/// When nodes.sh fails.
pub fn node_namespaces() -> String {
    let out = nodes_sh(&["namespaces"], &[]);
    assert!(out.status.success(), "nodes.sh namespaces: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The URL of Service SERVICE in NAMESPACE on MEMBER, by its ClusterIP: the host routes each
/// member's Service range to its node, through the node's kube-proxy.
///
/// # Errors
/// While the Service or its ClusterIP is not there yet.
pub fn service_url(member: &str, namespace: &str, service: &str) -> Result<String, String> {
    let service = get(member, namespace, &format!("service/{service}"))?;
    match service["spec"]["clusterIP"].as_str() {
        Some(ip) => Ok(format!("http://{ip}")),
        None => Err("no clusterIP".into()),
    }
}

/// `scripts/make-secrets.sh` for NAMESPACE, applied on Karmada, which takes the Secret to the
/// members with the SpinApps; once they hold it, so that no pod starts with the one before
/// (Karmada takes each object to each member on its own: nothing orders the two).
pub fn apply_secrets(namespace: &str, db_url: &str, kv_url: &str) {
    let secrets = Command::new(repo().join("scripts/make-secrets.sh"))
        .env("NAMESPACE", namespace)
        .env("DB_URL", db_url)
        .env("KV_URL", kv_url)
        .output()
        .unwrap();
    assert!(
        secrets.status.success(),
        "make-secrets.sh: {}",
        text(&secrets)
    );
    let secrets = String::from_utf8(secrets.stdout).unwrap();
    kubectl_ok(KARMADA, &["apply", "-f", "-"], Some(&secrets));
    until_members_hold_secret(namespace, "automatizacion-secrets");
}

/// URL (on the host's loopback) as a pod names it: the Service SERVICE in NAMESPACE on PORT,
/// with URL's scheme, credentials and path.
fn in_cluster(url: &str, namespace: &str, service: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.rsplit_once('@').unwrap();
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    format!("{scheme}://{credentials}@{service}.{namespace}.svc.cluster.local:{port}{path}")
}

fn loopback_port(url: &str) -> String {
    let authority = url.rsplit_once('@').unwrap().1;
    let authority = authority.split('/').next().unwrap();
    authority.rsplit_once(':').unwrap().1.to_owned()
}

impl Nodes {
    /// What the test before left in the app's namespaces on these nodes, gone: its
    /// Deployments, ReplicaSets, pods and events. The operator makes each SpinApp's Deployment
    /// again at once, so the next pods start from the SpinApps and Secrets as they are now, not
    /// from a copy kept from a database that is gone.
    ///
    /// Services stay, and with them their ClusterIPs and EndpointSlices (`outside` moves its
    /// own to the next test's ports in place). A Service made again has a new ClusterIP, and a
    /// pod that asked the DNS before its records caught up connected to the old one, which
    /// nothing answers or refuses: it waited out TCP's retries, unready for 100 s and more.
    /// Seen 6 times in 45 clears on a loaded machine; with the Services kept, in none of 25.
    pub fn clear(&self) {
        self.delete("deployments,replicasets,events");
    }

    fn stop(&self) {
        let out = nodes_sh(&["down"], &[]);
        if !out.status.success() {
            eprintln!("nodes.sh down: {}", text(&out));
        }
        self.delete("deployments,replicasets,services,endpointslices");
    }

    /// Deletes KINDS (a list, as `kubectl delete` takes it) and the pods in the app's
    /// namespaces on the members: at [`Nodes::clear`], or, once the nodes are gone, all that
    /// the operator, its Deployments and `outside` made, so that the members are as the suite's
    /// control plane left them. ReplicaSets are deleted by name, not left to the garbage
    /// collector's later sweep, in which the next nodes' controllers could start their pods
    /// again; a pod whose node is gone is deleted at once, as nothing is left to confirm it.
    fn delete(&self, kinds: &str) {
        // No waiting for each object to go: with the operator running, a deleted ReplicaSet
        // can stay (the Deployment it makes again takes it back), and kubectl waited on it
        // for more than ten minutes.
        let bounded = ["--all", "--wait=false", "--request-timeout=30s"];
        for member in &self.members {
            for namespace in NAMESPACES {
                for what in [&[kinds][..], &["pods", "--force", "--grace-period=0"]] {
                    let delete = [&["-n", namespace, "delete"][..], what, &bounded].concat();
                    let _ = kubectl(member, &delete, None);
                }
            }
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// [`Nodes::shared`]'s set: a static, which Rust never drops.
static SHARED: OnceLock<Nodes> = OnceLock::new();

/// Stops the shared set when the process exits (`atexit`, which runs after a test binary's
/// `main` returns or calls `exit`, whether the tests passed or not), so that no node outlives
/// the tests that started it.
fn stop_shared_at_exit() {
    extern "C" fn stop_shared() {
        if let Some(nodes) = SHARED.get() {
            // Nothing may unwind out of an atexit handler.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| nodes.stop()));
        }
    }
    // SAFETY: `atexit` only stores the pointer to a function that lives as long as the process.
    #[allow(unsafe_code)]
    let registered = unsafe { libc::atexit(stop_shared) };
    assert_eq!(registered, 0, "atexit refused the shared nodes' stop");
}

fn nodes_sh(args: &[&str], env: &[(&str, &str)]) -> Output {
    let control_plane = kubeconfigs().parent().unwrap().to_owned();
    Command::new(repo().join("local-dev/nodes.sh"))
        .args(args)
        .env("CONTROL_PLANE_DIR", control_plane)
        .envs(env.iter().copied())
        .output()
        .expect("local-dev/nodes.sh runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
