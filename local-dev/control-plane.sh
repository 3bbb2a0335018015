#!/usr/bin/env bash
# control-plane.sh up|down|status|env: a real Karmada control plane on loopback, without
# containers, for trying policies and overrides and for the tests (local-dev/README.md).
#
#   up      etcd, the Karmada API server with Karmada's CRDs, webhook, aggregated API server,
#           controllers and scheduler, and three member API servers (staging, prod-east,
#           prod-west) with the SpinKube CRDs; joins the members, then applies what
#           karmada/README.md says, in its order. Nothing runs pods: objects are stored,
#           propagated, overridden and their status aggregated. On a running control plane it
#           starts what is missing and applies the project again, keeping its Secrets.
#   down    stops every process by its PID (and the nodes of local-dev/nodes.sh, if any) and
#           removes the state directory.
#   status  one line per process and per member cluster.
#   env     prints `export KUBECONFIG=…` for the control plane's four contexts.
#
# State lives in $CONTROL_PLANE_DIR (default target/control-plane). CONTROL_PLANE_SLOT (0 to 3,
# default 0) sets the members' Service ranges, and so which set of nodes.sh's nodes it takes:
# control planes that run at once with nodes each need a slot of their own. Binaries come from PATH,
# else target/parts/bin; Karmada's CRDs and manifests and SpinKube's CRDs from target/parts
# (scripts/parts.sh fills it). etcd comes from Debian's etcd-server.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source=local-dev/lib.sh
source "$repo/local-dev/lib.sh"
# shellcheck source=local-dev/credentials.sh
source "$repo/local-dev/credentials.sh"

STATE=${CONTROL_PLANE_DIR:-$repo/target/control-plane}
PARTS=${PARTS_DIR:-$repo/target/parts}
KARMADA_MANIFESTS=$PARTS/karmada
KARMADA_CRDS=$PARTS/crds/karmada
SPINKUBE_CRDS=$PARTS/crds/spinkube
MEMBERS=(staging prod-east prod-west)
# Region and zone of each member, as `karmadactl join` labels the Cluster objects.
declare -A REGION=([staging]=eu-central-1 [prod-east]=eu-east-1 [prod-west]=eu-west-1)
declare -A ZONE=([staging]=eu-central-1a [prod-east]=eu-east-1a [prod-west]=eu-west-1a)
BINARIES=(kube-apiserver kube-controller-manager karmada-controller-manager karmada-scheduler
  karmada-webhook karmada-aggregated-apiserver karmadactl)
PROCESS_DIR=$STATE

# ---------------------------------------------------------------------------------------------
# Binaries
# ---------------------------------------------------------------------------------------------
bin_dir=$PARTS/bin
binary() { command -v "$1" || echo "$bin_dir/$1"; }
install_binaries() {
  PARTS_DIR=$PARTS "$repo/scripts/parts.sh" data binary build
  local name
  for name in "${BINARIES[@]}"; do
    [[ -x $bin_dir/$name ]] || command -v "$name" >/dev/null || die "no $name on PATH or in $bin_dir"
  done
  command -v etcd >/dev/null || apt_install etcd-server etcd
  command -v kubectl >/dev/null || die "kubectl is missing (https://kubernetes.io/docs/tasks/tools/)"
  command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
}

# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------
# wait_for NAME WHAT COMMAND...: polls COMMAND until it succeeds; fails with NAME's log tail.
wait_for() {
  local name=$1 what=$2
  shift 2
  local deadline=$((SECONDS + 90))
  until "$@" >/dev/null 2>&1; do
    running "$name" || { tail -n 20 "$STATE/logs/$name.log" >&2; die "$name exited while starting"; }
    ((SECONDS < deadline)) || { tail -n 20 "$STATE/logs/$name.log" >&2; die "$name: $what not ready after 90 s"; }
    sleep 0.5
  done
}

healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz"; }
tls_open() { curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$1/"; }
kc() { kubectl --kubeconfig="$STATE/kubeconfig/$1" "${@:2}"; }
readyz() { kc "$1" get --raw=/readyz; }

start_etcd() {
  start etcd etcd --name automatizacion --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "automatizacion=http://127.0.0.1:$ETCD_PEER_PORT" \
    --quota-backend-bytes 1073741824
  wait_for etcd "client port" curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
}

# start_apiserver NAME [EXTRA FLAGS...]: every API server shares the etcd under its own prefix.
start_apiserver() {
  local name=$1 pki=$STATE/pki
  shift
  start "$name-apiserver" "$(binary kube-apiserver)" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-prefix="/$name" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$(apiserver_port "$name")" \
    --tls-cert-file="$pki/server.crt" --tls-private-key-file="$pki/server.key" \
    --client-ca-file="$pki/ca.crt" \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range="$(service_range "$name")" --authorization-mode=RBAC \
    --kubelet-client-certificate="$pki/admin.crt" --kubelet-client-key="$pki/admin.key" \
    --kubelet-preferred-address-types=InternalIP \
    --endpoint-reconciler-type=none \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key" \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- "$@"
}

# start_controller_manager NAME CONTROLLERS: Kubernetes' own controllers, for namespace
# deletion, garbage collection (deleted templates take their bindings and Works along) and
# service-account tokens (what `karmadactl join` waits for on each member); on members also
# each namespace's `default` ServiceAccount, without which the API server refuses any Pod.
start_controller_manager() {
  start "kube-controller-manager-$1" "$(binary kube-controller-manager)" \
    --kubeconfig="$STATE/kubeconfig/$1" --authentication-kubeconfig="$STATE/kubeconfig/$1" \
    --authorization-kubeconfig="$STATE/kubeconfig/$1" \
    --controllers="$2" --leader-elect=false --secure-port=0 \
    --service-account-private-key-file="$STATE/pki/sa.key" --root-ca-file="$STATE/pki/ca.crt"
}

start_karmada() {
  local karmada=$STATE/kubeconfig/karmada
  say "starting the Karmada API server and three member API servers"
  start_apiserver karmada --disable-admission-plugins=StorageObjectInUseProtection,ServiceAccount
  local member
  for member in "${MEMBERS[@]}"; do start_apiserver "$member"; done
  for member in karmada "${MEMBERS[@]}"; do wait_for "$member-apiserver" /readyz readyz "$member"; done

  start_controller_manager karmada namespace,garbagecollector,serviceaccount-token,clusterrole-aggregation
  for member in "${MEMBERS[@]}"; do
    start_controller_manager "$member" namespace,garbagecollector,serviceaccount-token,serviceaccount
  done

  say "installing Karmada's CRDs, and the SpinKube CRDs and RuntimeClass on each member"
  kc karmada apply --server-side -f "$KARMADA_CRDS" >/dev/null
  kc karmada apply --server-side -f "$SPINKUBE_CRDS" >/dev/null
  # Polled: `kubectl wait` fails at once on a CRD whose status.conditions is still null.
  until_ok "Karmada's CRDs" 60 kc karmada wait --for=condition=Established crd --all --timeout=5s
  for member in "${MEMBERS[@]}"; do
    kc "$member" apply --server-side -f "$SPINKUBE_CRDS" >/dev/null
    until_ok "the SpinKube CRDs on $member" 60 kc "$member" wait --for=condition=Established crd --all --timeout=5s
    # As install.sh does for nodes that carry the shim already (local-dev/nodes.sh's do).
    kc "$member" apply -f k8s/platform/spin/runtime-class.yaml >/dev/null
  done
  kc karmada apply -f "$KARMADA_MANIFESTS/admin-clusterrole-aggregation.yaml" \
    -f "$KARMADA_MANIFESTS/cluster-proxy-admin-rbac.yaml" \
    -f local-dev/manifests/cluster-proxy-binding.yaml >/dev/null

  say "starting karmada-aggregated-apiserver, karmada-webhook, controllers and scheduler"
  start karmada-aggregated-apiserver "$(binary karmada-aggregated-apiserver)" \
    --kubeconfig="$karmada" --authentication-kubeconfig="$karmada" --authorization-kubeconfig="$karmada" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-prefix=/karmada-aggregated \
    --bind-address=127.0.0.1 --secure-port="$AGGREGATED_APISERVER_PORT" \
    --tls-cert-file="$STATE/pki/server.crt" --tls-private-key-file="$STATE/pki/server.key" \
    --audit-log-path=- --audit-log-maxage=0 --audit-log-maxbackup=0
  start karmada-webhook "$(binary karmada-webhook)" --kubeconfig="$karmada" \
    --bind-address=127.0.0.1 --secure-port="$WEBHOOK_PORT" --cert-dir="$STATE/webhook-certs" \
    --health-probe-bind-address="127.0.0.1:$WEBHOOK_HEALTH_PORT" --metrics-bind-address=0
  # A member lost or back shows in its Cluster's Ready condition within 10 s of the probes
  # that see it (Karmada's defaults: 30 s), so that trying failover takes seconds.
  start karmada-controller-manager "$(binary karmada-controller-manager)" --kubeconfig="$karmada" \
    --cluster-status-update-frequency=10s --cluster-failure-threshold=10s \
    --cluster-success-threshold=10s --feature-gates=Failover=true --leader-elect=false \
    --health-probe-bind-address="127.0.0.1:$CONTROLLER_MANAGER_HEALTH_PORT" --metrics-bind-address=0
  start karmada-scheduler "$(binary karmada-scheduler)" --kubeconfig="$karmada" \
    --enable-scheduler-estimator=false --leader-elect=false \
    --health-probe-bind-address="127.0.0.1:$SCHEDULER_HEALTH_PORT" \
    --metrics-bind-address="127.0.0.1:$SCHEDULER_METRICS_PORT"

  local ca
  ca=$(base64 -w0 "$STATE/pki/ca.crt")
  # Cluster objects are served by karmada-aggregated-apiserver, reached through an
  # ExternalName Service that names loopback (local-dev/manifests/aggregated-apiserver.yaml).
  CA_BUNDLE=$ca render local-dev/manifests/aggregated-apiserver.yaml CA_BUNDLE \
    AGGREGATED_APISERVER_PORT | kc karmada apply -f - >/dev/null
  wait_for karmada-webhook "TLS port" tls_open "$WEBHOOK_PORT"
  sed -e "s|{{caBundle}}|$ca|g" \
    -e "s|url: https://karmada-webhook.karmada-system.svc:443/|url: https://127.0.0.1:$WEBHOOK_PORT/|g" \
    "$KARMADA_MANIFESTS/webhook-configuration.yaml" | kc karmada apply -f - >/dev/null
  wait_for karmada-aggregated-apiserver "Cluster API" kc karmada get clusters.cluster.karmada.io
  wait_for karmada-controller-manager /healthz healthy "$CONTROLLER_MANAGER_HEALTH_PORT"
  wait_for karmada-scheduler /healthz healthy "$SCHEDULER_HEALTH_PORT"
}

# join_member NAME: push mode, as `karmadactl join` does it on a real cluster.
join_member() {
  local member=$1 environment=production
  [[ $member == staging ]] && environment=staging
  kc karmada get clusters.cluster.karmada.io "$member" >/dev/null 2>&1 && return
  "$(binary karmadactl)" join "$member" --kubeconfig="$STATE/kubeconfig/karmada" \
    --cluster-kubeconfig="$STATE/kubeconfig/$member" --cluster-context="$member" \
    --cluster-region="${REGION[$member]}" --cluster-zones="${ZONE[$member]}" >"$STATE/logs/join-$member.log" 2>&1 ||
    { cat "$STATE/logs/join-$member.log" >&2; die "karmadactl join $member failed"; }
  kc karmada label --overwrite clusters.cluster.karmada.io "$member" "environment=$environment" \
    "region=${REGION[$member]}" "zone=${ZONE[$member]}" >/dev/null
}

join_members() {
  say "joining ${MEMBERS[*]}"
  local member pids=()
  for member in "${MEMBERS[@]}"; do
    join_member "$member" &
    pids+=($!)
  done
  for member in "${pids[@]}"; do wait "$member" || exit 1; done
  say "waiting for the members to be Ready in Karmada"
  until_ok "the members in Karmada" 90 kc karmada wait --for=condition=Ready clusters.cluster.karmada.io --all --timeout=5s
}

has_secrets() { kc karmada -n "$1" get secret automatizacion-secrets >/dev/null 2>&1; }

# What karmada/README.md documents, in its order (the tests run exactly this).
apply_project() {
  say "applying karmada/ (interpreter, namespaces, policies)"
  kc karmada apply -k karmada >/dev/null
  say "applying the staging and production workloads and their Secrets"
  kc karmada apply -k karmada/workloads/staging >/dev/null
  # A control plane brought up again keeps its Secrets (the keys that signed its tokens).
  has_secrets automatizacion-staging ||
    NAMESPACE=automatizacion-staging scripts/make-secrets.sh | kc karmada apply -f - >/dev/null
  kc karmada apply -k karmada/workloads/production >/dev/null
  has_secrets automatizacion ||
    scripts/make-secrets.sh | kc karmada apply -f - >/dev/null
  # Divided scheduling waits for the first cluster status refresh (up to 10 s after joining).
  say "waiting until Karmada has applied every binding to its members"
  until_ok "the bindings" 90 kc karmada wait --for=condition=FullyApplied --all --all-namespaces \
    resourcebindings.work.karmada.io,clusterresourcebindings.work.karmada.io --timeout=5s
}

up() {
  install_binaries
  mkdir -p "$STATE"
  allocate_ports
  # shellcheck source=/dev/null
  source "$STATE/ports.env"
  make_pki
  make_kubeconfigs
  say "starting etcd"
  start_etcd
  start_karmada
  join_members
  [[ ${1:-} == --no-workloads ]] || apply_project
  say "ready: export KUBECONFIG=$STATE/kubeconfig/all (contexts karmada-apiserver, ${MEMBERS[*]})"
}

# Clients first, then API servers, then etcd: an API server whose etcd is gone takes tens of
# seconds to give up.
down() {
  [[ -d $STATE ]] || return 0
  [[ -f $STATE/ports.env || -z $(ls -A "$STATE") ]] ||
    die "refusing to remove $STATE: it is not a control plane's state directory"
  [[ ! -d $STATE/nodes ]] || CONTROL_PLANE_DIR=$STATE local-dev/nodes.sh down
  local file clients=() servers=()
  for file in "$STATE"/pids/*; do
    [[ -f $file ]] || continue
    case $(basename "$file") in
      etcd) ;;
      *apiserver) servers+=("$(basename "$file")") ;;
      *) clients+=("$(basename "$file")") ;;
    esac
  done
  stop "${clients[@]}"
  stop "${servers[@]}"
  stop etcd
  rm -rf "$STATE"
  say "stopped and removed $STATE"
}

status() {
  [[ -f $STATE/ports.env ]] || { echo "control plane: not started ($STATE)"; return 1; }
  local state=0
  process_lines || state=1
  local rss
  rss=$(cat "$STATE"/pids/* | xargs ps -o rss= -p 2>/dev/null | awk '{kib += $1} END {print int(kib / 1024)}')
  echo "resident memory of all of the above: $rss MiB"
  kc karmada get clusters.cluster.karmada.io -L environment,region,zone 2>/dev/null || state=1
  local member
  for member in "${MEMBERS[@]}"; do
    echo "SpinApps on $member:"
    kc "$member" get spinapps --all-namespaces 2>/dev/null | sed 's/^/  /' || state=1
  done
  return $state
}

case ${1:-} in
  up) up "${2:-}" ;;
  down) down ;;
  status) status ;;
  env) echo "export KUBECONFIG=$STATE/kubeconfig/all" ;;
  *) die "usage: control-plane.sh up [--no-workloads] | down | status | env" ;;
esac
