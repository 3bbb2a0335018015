#!/usr/bin/env bash
# playground.sh up|status|down: the whole system on one machine, without containers
# (local-dev/README.md, "Playground").
#
#   up      the real Karmada control plane (control-plane.sh) with a real SpinKube node per
#           cluster (nodes.sh), an OCI registry, the ledger's PostgreSQL and the read model's
#           Redis on loopback, which each cluster reaches through Services of its own; builds
#           the app from this checkout and pushes it; pins that digest in the playground's own
#           copy of k8s/ and karmada/ (target/playground/checkout, configured as a platform team
#           configures its copy); and applies it, so that every cluster runs its SpinApps as
#           pods. Ends when every cluster's console answers.
#   status  each cluster's console and API URL (their Services), the version and cluster it
#           serves, the pods that serve them, the release in progress, and the memory in use.
#   release VERSION
#           walks the release flow (kestra/flows) through the Kestra stand-in, as a pushed tag
#           vVERSION starts it: tags this checkout's last commit with the playground's
#           configuration in the playground's git origin, builds and pushes it, deploys it to
#           staging through Karmada, and stops at the approval.
#   approver-env
#           prints what `eval` needs to decide as carol, an approver (as Rundeck's approve job
#           signs her in): the ledger, her token, Kestra and the paused execution.
#   wait    waits until the release in progress pauses or ends.
#   down    stops everything by its PID and removes target/playground.
#
# State lives in $PLAYGROUND_DIR (default target/playground).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

DIR=${PLAYGROUND_DIR:-$repo/target/playground}
export CONTROL_PLANE_DIR=$DIR/control-plane
MEMBERS=(staging prod-east prod-west)
declare -A NAMESPACE=([staging]=automatizacion-staging [prod-east]=automatizacion [prod-west]=automatizacion)

# The playground's people and Kestra account: alice signs and pushes tags (her SSH key is the
# playground's only allowed signer), carol approves (the ledger's four-eyes rule keeps alice
# from approving her own release).
PUSHER=alice APPROVER=carol
KESTRA_USER=playground@example.com KESTRA_PASSWORD=Playgr0und-only
FLOW=kestra/flows/automatizacion.release.yml
# Production's replicas in the playground's copy: 2 on prod-east and 1 on prod-west.
PRODUCTION_REPLICAS=3

PROCESS_DIR=$DIR
# shellcheck source=local-dev/lib.sh
source "$repo/local-dev/lib.sh"
# shellcheck source=local-dev/playground-release.sh
source "$repo/local-dev/playground-release.sh"

start_services() {
  # shellcheck source=/dev/null
  [[ -f $DIR/ports.env ]] && source "$DIR/ports.env"
  if [[ -z ${REGISTRY_PORT:-} ]]; then
    read -r REGISTRY_PORT PG_PORT REDIS_PORT KESTRA_PORT <<<"$(free_ports 4)"
    printf 'REGISTRY_PORT=%s\nPG_PORT=%s\nREDIS_PORT=%s\nKESTRA_PORT=%s\n' \
      "$REGISTRY_PORT" "$PG_PORT" "$REDIS_PORT" "$KESTRA_PORT" >"$DIR/ports.env"
  fi
  command -v docker-registry >/dev/null || die "docker-registry is missing (make tools installs it)"
  command -v redis-server >/dev/null || die "redis-server is missing (make tools installs it)"
  mkdir -p "$DIR/registry"
  PORT=$REGISTRY_PORT DATA=$DIR/registry/data render local-dev/manifests/registry.yml PORT DATA \
    >"$DIR/registry/config.yml"
  start registry docker-registry serve "$DIR/registry/config.yml"
  start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --requirepass playground

  local as_postgres=()
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
    as_postgres=(runuser -u postgres --)
  fi
  if [[ ! -d $DIR/postgres/data ]]; then
    mkdir -p "$DIR/postgres"
    [[ $(id -u) -eq 0 ]] && chown postgres "$DIR/postgres"
    "${as_postgres[@]}" "$(pg_bin initdb)" -D "$DIR/postgres/data" -U postgres --auth=trust -E UTF8 \
      >"$DIR/postgres/initdb.log" 2>&1 || die "initdb failed: $DIR/postgres/initdb.log"
  fi
  start postgres "${as_postgres[@]}" "$(pg_bin postgres)" -D "$DIR/postgres/data" -h 127.0.0.1 \
    -p "$PG_PORT" -k "$DIR/postgres"
  until_ok "the registry" 60 curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/"
  until_ok "PostgreSQL" 60 "$(pg_bin pg_isready)" -q -h 127.0.0.1 -p "$PG_PORT"
  until_ok "Redis" 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT"
  psql -qtA -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "SELECT 1 FROM pg_database WHERE datname = 'ledger'" |
    grep -q 1 || psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE ledger"
}

spin_bin() { command -v spin >/dev/null && spin --version 2>/dev/null | grep -q '^spin 3\.[4-9]' && echo spin || echo "$repo/target/parts/bin/spin"; }

# Builds and pushes this checkout; prints the pushed digest.
build_and_push() {
  make -s components >&2
  cargo build -q -p relctl -p pipeline-standins -p token >&2
  "$(spin_bin)" registry push --insecure "127.0.0.1:$REGISTRY_PORT/automatizacion:playground" |
    target/debug/relctl push-digest
}

# The playground's copy of k8s/ and karmada/, pinned to DIGEST; the registry is staging's
# mirror; Secrets name the ledger and the read model by the Services each cluster has for them.
configure() {
  local digest=$1 registry=127.0.0.1:$REGISTRY_PORT checkout=$DIR/checkout environment
  rm -rf "$checkout" && mkdir -p "$checkout"
  cp -r k8s karmada "$checkout/"
  sed -i "s|value: registry.staging.internal:5000|value: $registry|" "$checkout/karmada/overrides/staging.yaml"
  # One machine's production: PRODUCTION_REPLICAS, not the repository's 6 (each is a pod with
  # a shim of its own, ~175 MiB); Karmada's weights still divide them between the two clusters.
  local production=$checkout/karmada/workloads/production/kustomization.yaml
  sed -i "/path: \/spec\/replicas/{n;s/value: 6\$/value: $PRODUCTION_REPLICAS/}" "$production"
  grep -A1 "path: /spec/replicas" "$production" | grep -q "value: $PRODUCTION_REPLICAS\$" ||
    die "$production no longer sets production's replicas as 6"
  # The ledger trusts the pipeline's own issuers (kestra/README.md, "Identity").
  sed -i "s|^  auth_issuers: \"\"|  auth_issuers: '$(issuers)'|" "$checkout/k8s/base/config.yaml"
  for environment in staging production; do
    target/debug/relctl set-digest --overlay "$checkout/k8s/overlays/$environment" \
      --new-name "$registry/automatizacion" --digest "$digest" >/dev/null
  done
  local karmada=$CONTROL_PLANE_DIR/kubeconfig/karmada
  kubectl --kubeconfig "$karmada" apply -k "$checkout/karmada" >/dev/null
  local member namespace
  # The ledger's PostgreSQL and the read model's Redis run outside the clusters, as managed
  # ones would: each cluster reaches them at the Service names db_outbound_host and the
  # Secrets use.
  for member in "${MEMBERS[@]}"; do
    namespace=${NAMESPACE[$member]}
    until_ok "namespace $namespace on $member" 60 \
      kubectl --kubeconfig "$CONTROL_PLANE_DIR/kubeconfig/$member" get namespace "$namespace"
    local-dev/nodes.sh outside "$member" "$namespace" automatizacion-db 5432 "$PG_PORT"
    local-dev/nodes.sh outside "$member" "$namespace" automatizacion-kv 6379 "$REDIS_PORT"
  done
  for namespace in automatizacion-staging automatizacion; do
    NAMESPACE=$namespace DB_URL="postgres://postgres@automatizacion-db.$namespace.svc.cluster.local:5432/ledger" \
      KV_URL="redis://:playground@automatizacion-kv.$namespace.svc.cluster.local:6379" scripts/make-secrets.sh |
      kubectl --kubeconfig "$karmada" apply -f - >/dev/null
  done
  for environment in staging production; do
    kubectl --kubeconfig "$karmada" apply -k "$checkout/karmada/workloads/$environment" >/dev/null
  done
}

# Kestra's and Rundeck's ledger keys (Ed25519), made once; prints the ledger's auth_issuers.
issuers() {
  local key jwks=()
  mkdir -p "$DIR/keys"
  for key in kestra-1 rundeck-1; do
    [[ -f $DIR/keys/$key.pem ]] || openssl genpkey -algorithm ed25519 -out "$DIR/keys/$key.pem" 2>/dev/null
    openssl pkey -in "$DIR/keys/$key.pem" -pubout -out "$DIR/keys/$key.pub.pem"
    jwks+=("$(target/debug/token jwk --public-key "$DIR/keys/$key.pub.pem" --kid "$key")")
  done
  printf '[{"issuer": "kestra", "roles": ["deployer"], "acts_for_others": true, "jwks": {"keys": [%s]}}, {"issuer": "rundeck", "roles": ["approver"], "jwks": {"keys": [%s]}}]' \
    "${jwks[0]}" "${jwks[1]}"
}

# console MEMBER frontend|backend: that app's Service on MEMBER, by its ClusterIP (the host
# routes each cluster's Service range to its node).
console() {
  local ip
  ip=$(kubectl --kubeconfig "$CONTROL_PLANE_DIR/kubeconfig/$1" -n "${NAMESPACE[$1]}" get service \
    "automatizacion-$2" -o jsonpath='{.spec.clusterIP}' 2>/dev/null) && [[ -n $ip ]] && echo "http://$ip"
}
# The pods serving MEMBER's apps, with their addresses and nodes.
pods_of() {
  kubectl --kubeconfig "$CONTROL_PLANE_DIR/kubeconfig/$1" -n "${NAMESPACE[$1]}" get pods \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName} {.status.phase}{"\n"}{end}' 2>/dev/null
}
serves() { local url; url=$(console "$1" frontend) && curl -fsS --max-time 5 "$url/" | grep -q 'Served by'; }

up() {
  mkdir -p "$DIR"
  # Without workloads: `configure` applies the playground's own, just before the stand-in
  # starts writing their status.
  say "starting the Karmada control plane (local-dev/control-plane.sh)"
  local-dev/control-plane.sh up --no-workloads >"$DIR/control-plane.log" 2>&1 ||
    { tail -n 5 "$DIR/control-plane.log" >&2; die "the control plane did not start"; }
  say "starting the registry, PostgreSQL and Redis"
  start_services
  say "starting a SpinKube node for each cluster (local-dev/nodes.sh)"
  REGISTRY=127.0.0.1:$REGISTRY_PORT local-dev/nodes.sh up >"$DIR/nodes.log" 2>&1 ||
    { tail -n 5 "$DIR/nodes.log" >&2; die "the nodes did not start"; }
  say "building this checkout and pushing it"
  local digest
  digest=$(build_and_push)
  say "pinning $digest in target/playground/checkout and applying it"
  configure "$digest"
  local member
  for member in "${MEMBERS[@]}"; do until_ok "$member's console" 240 serves "$member"; done
  say "up in $((SECONDS - started)) s"
  status
}

status() {
  [[ -f $DIR/ports.env ]] || { echo "playground: not started ($DIR)"; return 1; }
  # shellcheck source=/dev/null
  source "$DIR/ports.env"
  local member url api version state=0 served
  for member in "${MEMBERS[@]}"; do
    if url=$(console "$member" frontend); then
      served=$(curl -fsS --max-time 5 "$url/" | grep -o 'Served by <strong>[^<]*</strong> ([^)]*)' | sed 's/<[^>]*>//g') || served="not answering"
      api=$(console "$member" backend)
      version=$(curl -fsS --max-time 5 "$api/api/info" | jq -er .version) || version="?"
      printf '%-10s console %s  api %s  version %s  %s\n' "$member" "$url" "$api" "$version" "$served"
      pods_of "$member" | sed 's/^/  pod /'
    else
      printf '%-10s not serving yet (kubectl --context %s get spinapps -A)\n' "$member" "$member"
      state=1
    fi
  done
  if [[ -f $DIR/kestra/execution ]]; then
    local id release progress
    read -r id release <"$DIR/kestra/execution"
    progress=$(execution_state "$id") || progress="the Kestra stand-in does not answer"
    echo "release v$release: Kestra execution $id ${progress%% *}, last task ${progress##*[ ,]}"
  fi
  # Every process was started in a group of its own: count each group whole, and the pods'
  # shims, which containerd starts as daemons of their own.
  local groups rss
  groups=" $(cat "$DIR"/pids/* "$CONTROL_PLANE_DIR"/pids/* "$CONTROL_PLANE_DIR"/nodes/pids/* 2>/dev/null | xargs) "
  rss=$(ps -e -o pgid=,rss=,args= | awk -v groups="$groups" -v nodes="$CONTROL_PLANE_DIR/nodes/" \
    'index(groups, " " $1 " ") || index($0, nodes) {kib += $2} END {print int(kib / 1024)}')
  echo "memory: $rss MiB resident (control plane, nodes and their pods, registry, PostgreSQL, Redis, Kestra stand-in)"
  echo "kubectl: export KUBECONFIG=$CONTROL_PLANE_DIR/kubeconfig/all"
  return $state
}

down() {
  [[ -d $DIR ]] || return 0
  stop kestra redis registry postgres
  local-dev/control-plane.sh down >/dev/null 2>&1 || true
  rm -rf "$DIR"
  say "stopped and removed $DIR"
}

case ${1:-} in
  up) up ;;
  status) status ;;
  release) release "${2:-}" ;;
  approver-env) approver_env ;;
  wait) wait_release ;;
  down) down ;;
  *) die "usage: playground.sh up | status | release VERSION | approver-env | wait | down" ;;
esac
