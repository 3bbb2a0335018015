#!/usr/bin/env bash
# playground.sh up|status|down: the whole system on one machine, without containers
# (local-dev/README.md, "Playground").
#
#   up      the real Karmada control plane (control-plane.sh), an OCI registry, the ledger's
#           PostgreSQL and the read model's Redis on loopback; builds the app from this checkout
#           and pushes it; pins that digest in the playground's own copy of k8s/ and karmada/
#           (target/playground/checkout, configured for these loopback services as a platform
#           team configures its copy); applies it; and starts the SpinKube stand-in, which runs
#           each cluster's SpinApps with real Spin. Ends when every cluster's console answers.
#   status  each cluster's console and API URL, what it serves, and the memory in use.
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

started=$SECONDS
say() { printf '[%3ds] %s\n' $((SECONDS - started)) "$*" >&2; }
die() { echo "playground: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
running() { [[ -f $DIR/pids/$1 ]] && kill -0 "$(cat "$DIR/pids/$1")" 2>/dev/null; }

# start NAME COMMAND...: in the background, in a process group of its own, logging to logs/NAME.log.
start() {
  local name=$1
  shift
  running "$name" && return
  mkdir -p "$DIR/pids" "$DIR/logs"
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name"
}

# until_ok WHAT SECONDS COMMAND...: polls COMMAND until it succeeds.
until_ok() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what: not ready after $limit s (logs in $DIR/logs)"
    sleep 0.5
  done
}

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do [[ -x $dir/$1 ]] && { echo "$dir/$1"; return; }; done
  die "PostgreSQL's $1 is missing (apt-get install postgresql)"
}

start_services() {
  # shellcheck source=/dev/null
  [[ -f $DIR/ports.env ]] && source "$DIR/ports.env"
  if [[ -z ${REGISTRY_PORT:-} ]]; then
    REGISTRY_PORT=$(free_port) PG_PORT=$(free_port) REDIS_PORT=$(free_port)
    printf 'REGISTRY_PORT=%s\nPG_PORT=%s\nREDIS_PORT=%s\n' "$REGISTRY_PORT" "$PG_PORT" "$REDIS_PORT" >"$DIR/ports.env"
  fi
  command -v docker-registry >/dev/null || die "docker-registry is missing (make tools installs it)"
  command -v redis-server >/dev/null || die "redis-server is missing (make tools installs it)"
  mkdir -p "$DIR/registry"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$DIR/registry/data" "$REGISTRY_PORT" >"$DIR/registry/config.yml"
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
  make -s build >&2
  cargo build -q -p relctl -p spinkube-standin >&2
  "$(spin_bin)" registry push --insecure "127.0.0.1:$REGISTRY_PORT/automatizacion:playground" |
    target/debug/relctl push-digest
}

# The playground's copy of k8s/ and karmada/, pinned to DIGEST and pointed at the loopback
# PostgreSQL; the registry is staging's mirror; Secrets name the ledger and the read model.
configure() {
  local digest=$1 registry=127.0.0.1:$REGISTRY_PORT checkout=$DIR/checkout environment
  rm -rf "$checkout" && mkdir -p "$checkout"
  cp -r k8s karmada "$checkout/"
  # Every db_outbound_host (the base's and staging's) names the loopback PostgreSQL.
  grep -rlE 'postgres://automatizacion-db\.[a-z-]+\.svc\.cluster\.local:5432' "$checkout" |
    xargs sed -i -E "s#postgres://automatizacion-db\.[a-z-]+\.svc\.cluster\.local:5432#postgres://127.0.0.1:$PG_PORT#g"
  sed -i "s|value: registry.staging.internal:5000|value: $registry|" "$checkout/karmada/overrides/staging.yaml"
  for environment in staging production; do
    target/debug/relctl set-digest --overlay "$checkout/k8s/overlays/$environment" \
      --new-name "$registry/automatizacion" --digest "$digest" >/dev/null
  done
  local karmada=$CONTROL_PLANE_DIR/kubeconfig/karmada
  kubectl --kubeconfig "$karmada" apply -k "$checkout/karmada" >/dev/null
  for environment in staging production; do
    kubectl --kubeconfig "$karmada" apply -k "$checkout/karmada/workloads/$environment" >/dev/null
  done
  local namespace
  for namespace in automatizacion-staging automatizacion; do
    NAMESPACE=$namespace DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/ledger" \
      KV_URL="redis://:playground@127.0.0.1:$REDIS_PORT" scripts/make-secrets.sh |
      kubectl --kubeconfig "$karmada" apply -f - >/dev/null
  done
}

console() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
  "$DIR/standin/endpoints.json" "$1" "${NAMESPACE[$1]}/automatizacion-$2" 2>/dev/null; }
serves() { local url; url=$(console "$1" frontend) && curl -fsS --max-time 5 "$url/" | grep -q 'Served by'; }

up() {
  mkdir -p "$DIR"
  say "starting the Karmada control plane (local-dev/control-plane.sh)"
  local-dev/control-plane.sh up >"$DIR/control-plane.log" 2>&1 ||
    { tail -n 5 "$DIR/control-plane.log" >&2; die "the control plane did not start"; }
  say "starting the registry, PostgreSQL and Redis"
  start_services
  say "building this checkout and pushing it"
  local digest
  digest=$(build_and_push)
  say "pinning $digest in target/playground/checkout and applying it"
  configure "$digest"
  say "starting the SpinKube stand-in (real Spin for every SpinApp on every cluster)"
  start standin target/debug/spinkube-standin --kubeconfigs "$CONTROL_PLANE_DIR/kubeconfig" \
    --members "$(IFS=,; echo "${MEMBERS[*]}")" --state "$DIR/standin" --spin "$(spin_bin)" --insecure-registry
  local member
  for member in "${MEMBERS[@]}"; do until_ok "$member's console" 240 serves "$member"; done
  say "up in $((SECONDS - started)) s"
  status
}

status() {
  [[ -f $DIR/ports.env ]] || { echo "playground: not started ($DIR)"; return 1; }
  local member url state=0 served
  for member in "${MEMBERS[@]}"; do
    if url=$(console "$member" frontend); then
      served=$(curl -fsS --max-time 5 "$url/" | grep -o 'Served by <strong>[^<]*</strong> ([^)]*)' | sed 's/<[^>]*>//g') || served="not answering"
      printf '%-10s console %s  api %s  %s\n' "$member" "$url" "$(console "$member" backend)" "$served"
    else
      printf '%-10s not serving yet (kubectl --context %s get spinapps -A)\n' "$member" "$member"
      state=1
    fi
  done
  # Every process was started in a group of its own: count each group whole.
  local groups rss
  groups=" $(cat "$DIR"/pids/* "$CONTROL_PLANE_DIR"/pids/* 2>/dev/null | xargs) "
  rss=$(ps -e -o pgid=,rss= | awk -v groups="$groups" 'index(groups, " " $1 " ") {kib += $2} END {print int(kib / 1024)}')
  echo "memory: $rss MiB resident (control plane, registry, PostgreSQL, Redis, stand-in and its Spins)"
  echo "kubectl: export KUBECONFIG=$CONTROL_PLANE_DIR/kubeconfig/all"
  return $state
}

down() {
  [[ -d $DIR ]] || return 0
  local name
  for name in standin redis registry postgres; do
    if [[ -f $DIR/pids/$name ]]; then kill -- "-$(cat "$DIR/pids/$name")" 2>/dev/null || true; fi
  done
  local-dev/control-plane.sh down >/dev/null 2>&1 || true
  for name in standin redis registry postgres; do
    running "$name" && sleep 1
    if [[ -f $DIR/pids/$name ]]; then kill -KILL -- "-$(cat "$DIR/pids/$name")" 2>/dev/null || true; fi
  done
  rm -rf "$DIR"
  say "stopped and removed $DIR"
}

case ${1:-} in
  up) up ;;
  status) status ;;
  down) down ;;
  *) die "usage: playground.sh up | status | down" ;;
esac
