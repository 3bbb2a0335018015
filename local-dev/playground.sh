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
#   status  each cluster's console and API URL, the version and cluster it serves, the release
#           in progress, and the memory in use.
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

started=$SECONDS
say() { printf '[%3ds] %s\n' $((SECONDS - started)) "$*" >&2; }
die() { echo "playground: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PROCESS_DIR=$DIR
# shellcheck source=local-dev/processes.sh
source "$repo/local-dev/processes.sh"

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
    REGISTRY_PORT=$(free_port) PG_PORT=$(free_port) REDIS_PORT=$(free_port) KESTRA_PORT=$(free_port)
    printf 'REGISTRY_PORT=%s\nPG_PORT=%s\nREDIS_PORT=%s\nKESTRA_PORT=%s\n' \
      "$REGISTRY_PORT" "$PG_PORT" "$REDIS_PORT" "$KESTRA_PORT" >"$DIR/ports.env"
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
  cargo build -q -p relctl -p spinkube-standin -p pipeline-standins -p token >&2
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
  # The ledger trusts the pipeline's own issuers (kestra/README.md, "Identity").
  sed -i "s|^  auth_issuers: \"\"|  auth_issuers: '$(issuers)'|" "$checkout/k8s/base/config.yaml"
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

# The pusher's SSH signing key, made once, and the allowed signers that name her.
signing_key() {
  mkdir -p "$DIR/keys"
  [[ -f $DIR/keys/$PUSHER ]] || ssh-keygen -q -t ed25519 -N '' -C "$PUSHER" -f "$DIR/keys/$PUSHER"
  printf '%s %s\n' "$PUSHER" "$(cat "$DIR/keys/$PUSHER.pub")" >"$DIR/keys/allowed_signers"
}

console() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
  "$DIR/standin/endpoints.json" "$1" "${NAMESPACE[$1]}/automatizacion-$2" 2>/dev/null; }
serves() { local url; url=$(console "$1" frontend) && curl -fsS --max-time 5 "$url/" | grep -q 'Served by'; }

kestra_url() { echo "http://127.0.0.1:$KESTRA_PORT"; }

# The release flow as an operator sets it for these loopback services, saved through the Kestra
# stand-in's API as kestra/README.md says (POST the first time, PUT after).
save_flow() {
  local flow=$DIR/kestra/automatizacion.release.yml name value code
  cp "$FLOW" "$flow"
  while read -r name value; do
    grep -q "^  $name: " "$flow" || die "$FLOW has no variable $name"
    sed -i "s|^  $name: .*|  $name: \"$value\"|" "$flow"
  done <<EOF
repository_url file://$DIR/origin.git
artifact 127.0.0.1:$REGISTRY_PORT/automatizacion
spin_registry_flags --push-flag=--insecure
ledger_url $(console prod-east backend)
staging_url $(console staging backend)
prod_east_url $(console prod-east backend)
prod_west_url $(console prod-west backend)
kestra_url $(kestra_url)
deploy_timeout 300
EOF
  local api=(curl -sS -o "$DIR/kestra/saved.json" -w '%{http_code}' -u "$KESTRA_USER:$KESTRA_PASSWORD"
    -H 'content-type: application/x-yaml' --data-binary "@$flow")
  code=$("${api[@]}" "$(kestra_url)/api/v1/main/flows")
  if [[ $code == 422 ]] && grep -q 'already exists' "$DIR/kestra/saved.json"; then
    code=$("${api[@]}" -X PUT "$(kestra_url)/api/v1/main/flows/automatizacion/release")
  fi
  [[ $code == 200 ]] || die "Kestra refused the release flow ($code): $(cat "$DIR/kestra/saved.json")"
}

# The Kestra stand-in, with its secrets as Kestra OSS reads them (SECRET_*, base64). Script
# tasks find the builder image's tools here: relctl, Spin, kubectl, git and cargo.
start_kestra() {
  running kestra && return
  local spin key
  signing_key
  spin=$(spin_bin)
  [[ $spin == */* ]] || spin=$(command -v spin)
  mkdir -p "$DIR/kestra"
  [[ -f $DIR/kestra/webhook-key ]] || python3 -c 'import secrets; print(secrets.token_hex(24), end="")' >"$DIR/kestra/webhook-key"
  key=$(base64 -w0 <"$DIR/kestra/webhook-key")
  (
    export SECRET_RELEASE_WEBHOOK_KEY=$key SECRET_GIT_USERNAME="" SECRET_GIT_PASSWORD=""
    export SECRET_REGISTRY_USER="" SECRET_REGISTRY_PASSWORD=""
    SECRET_LEDGER_SIGNING_KEY=$(base64 -w0 <"$DIR/keys/kestra-1.pem")
    SECRET_KARMADA_KUBECONFIG=$(base64 -w0 <"$CONTROL_PLANE_DIR/kubeconfig/karmada")
    SECRET_ALLOWED_SIGNERS=$(base64 -w0 <"$DIR/keys/allowed_signers")
    export SECRET_LEDGER_SIGNING_KEY SECRET_KARMADA_KUBECONFIG SECRET_ALLOWED_SIGNERS
    start kestra target/debug/kestra-standin --listen "127.0.0.1:$KESTRA_PORT" \
      --user "$KESTRA_USER" --password "$KESTRA_PASSWORD" --workdirs "$DIR/kestra/work" \
      --tools-path "$repo/target/debug:$(dirname "$spin"):$PATH" --cargo-cache "build_and_push=$repo/target"
  )
  until_ok "the Kestra stand-in" 30 curl -fsS "$(kestra_url)/ping"
}

# The playground's git origin: this checkout's last commit with the playground's k8s/ and
# karmada/ on top (the platform team's copy), tagged vVERSION and signed by the pusher, as a
# push leaves it. A tag that is there already stays: a re-run of a version builds the same commit.
tag_release() {
  local version=$1 work=$DIR/origin-work
  [[ -d $DIR/origin.git ]] || git -c init.defaultBranch=main init -q --bare "$DIR/origin.git"
  git -C "$DIR/origin.git" rev-parse -q --verify "refs/tags/v$version" >/dev/null && return
  [[ -z $(git status --porcelain) ]] || say "note: uncommitted changes are not in v$version (it builds the last commit)"
  rm -rf "$work" && git -c init.defaultBranch=main init -q "$work"
  git -C "$work" fetch -q "$repo" HEAD
  git -C "$work" checkout -q FETCH_HEAD
  rm -rf "$work/k8s" "$work/karmada" && cp -r "$DIR/checkout/k8s" "$DIR/checkout/karmada" "$work/"
  git -C "$work" add -A
  git -C "$work" -c user.name=playground -c user.email=playground@example.com \
    commit -q --allow-empty -m "playground: manifests for the loopback registry, PostgreSQL and issuers"
  git -C "$work" -c user.name="$PUSHER" -c user.email="$PUSHER@example.com" -c gpg.format=ssh \
    -c user.signingkey="$DIR/keys/$PUSHER" tag -s -m "Release $version from the playground" "v$version"
  git -C "$work" push -q "$DIR/origin.git" "v$version"
  rm -rf "$work"
}

release() {
  local version=${1:-} validator body code id
  [[ -n $version ]] || die "usage: playground.sh release VERSION (e.g. 1.4.0)"
  [[ -f $DIR/ports.env ]] || die "not started: make playground first"
  validator=$(sed -n "/- id: version/,/validator:/s/^ *validator: '\(.*\)'$/\1/p" "$FLOW")
  [[ $version =~ ^($validator)$ ]] || die "$version is not a version the release flow takes (semver without the v, e.g. 1.4.0)"
  # shellcheck source=/dev/null
  source "$DIR/ports.env"
  start_kestra
  save_flow
  tag_release "$version"
  body=$(printf '{"ref": "refs/tags/v%s", "deleted": false, "pusher": {"name": "%s"}}' "$version" "$PUSHER")
  code=$(curl -sS -o "$DIR/kestra/webhook.json" -w '%{http_code}' -H 'content-type: application/json' --data "$body" \
    "$(kestra_url)/api/v1/main/executions/webhook/automatizacion/release/$(cat "$DIR/kestra/webhook-key")")
  [[ $code == 200 ]] || die "the webhook started no release ($code): $(cat "$DIR/kestra/webhook.json")"
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$DIR/kestra/webhook.json")
  printf '%s %s\n' "$id" "$version" >"$DIR/kestra/execution"
  say "v$version signed and pushed by $PUSHER: Kestra execution $id (its log: $DIR/logs/kestra.log)"
  wait_release
}

# STATE TASKS of the release in progress, e.g. `PAUSED staging,clone,…`.
execution_state() {
  curl -fsS -u "$KESTRA_USER:$KESTRA_PASSWORD" "$(kestra_url)/api/v1/main/executions/$1" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["state"]["current"], ",".join(t["taskId"] for t in d["taskRunList"]) or "-")'
}

wait_release() {
  [[ -f $DIR/kestra/execution ]] || die "no release in progress (playground.sh release VERSION)"
  # shellcheck source=/dev/null
  source "$DIR/ports.env"
  local id version state tasks shown=0 deadline=$((SECONDS + 1800))
  read -r id version <"$DIR/kestra/execution"
  while :; do
    read -r state tasks < <(execution_state "$id") || die "the Kestra stand-in does not answer (logs in $DIR/logs)"
    local list=()
    [[ $tasks == - ]] || IFS=, read -ra list <<<"$tasks"
    for (( ; shown < ${#list[@]}; shown++)); do say "  ${list[shown]}"; done
    case $state in
      PAUSED)
        say "v$version runs on staging and waits for a decision. As $APPROVER, an approver:"
        cat <<EOF
  eval "\$(local-dev/playground.sh approver-env)"
  relctl decide --version $version --decision approve --comment "tried it on staging"
  relctl resume-kestra --execution "\$KESTRA_EXECUTION" --version $version
  local-dev/playground.sh wait
EOF
        return 0 ;;
      SUCCESS) say "v$version: the release flow succeeded"; return 0 ;;
      FAILED) tail -n 20 "$DIR/logs/kestra.log" >&2; die "v$version: the release flow failed (the ledger has each step)" ;;
    esac
    ((SECONDS < deadline)) || die "v$version: still $state after 30 minutes"
    sleep 2
  done
}

# What `eval` needs to decide as the approver, as Rundeck's approve job signs one in.
approver_env() {
  [[ -f $DIR/kestra/execution ]] || die "no release in progress (playground.sh release VERSION)"
  # shellcheck source=/dev/null
  source "$DIR/ports.env"
  local id version
  read -r id version <"$DIR/kestra/execution"
  # shellcheck disable=SC2016 # $PATH is the caller's, expanded by their eval
  printf 'export PATH=%q:"$PATH"\n' "$repo/target/debug"
  printf 'export LEDGER_URL=%q LEDGER_ISSUER=rundeck LEDGER_KEY_ID=rundeck-1 LEDGER_SUBJECT=%q LEDGER_ROLE=approver\n' \
    "$(console prod-east backend)" "$APPROVER"
  printf 'export LEDGER_SIGNING_KEY=%q\n' "$(cat "$DIR/keys/rundeck-1.pem")"
  printf 'export KESTRA_URL=%q KESTRA_USER=%q KESTRA_PASSWORD=%q KESTRA_EXECUTION=%q\n' \
    "$(kestra_url)" "$KESTRA_USER" "$KESTRA_PASSWORD" "$id"
}

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
  # shellcheck source=/dev/null
  source "$DIR/ports.env"
  local member url api version state=0 served
  for member in "${MEMBERS[@]}"; do
    if url=$(console "$member" frontend); then
      served=$(curl -fsS --max-time 5 "$url/" | grep -o 'Served by <strong>[^<]*</strong> ([^)]*)' | sed 's/<[^>]*>//g') || served="not answering"
      api=$(console "$member" backend)
      version=$(curl -fsS --max-time 5 "$api/api/info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') || version="?"
      printf '%-10s console %s  api %s  version %s  %s\n' "$member" "$url" "$api" "$version" "$served"
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
  # Every process was started in a group of its own: count each group whole.
  local groups rss
  groups=" $(cat "$DIR"/pids/* "$CONTROL_PLANE_DIR"/pids/* 2>/dev/null | xargs) "
  rss=$(ps -e -o pgid=,rss= | awk -v groups="$groups" 'index(groups, " " $1 " ") {kib += $2} END {print int(kib / 1024)}')
  echo "memory: $rss MiB resident (control plane, registry, PostgreSQL, Redis, the stand-ins and their Spins)"
  echo "kubectl: export KUBECONFIG=$CONTROL_PLANE_DIR/kubeconfig/all"
  return $state
}

down() {
  [[ -d $DIR ]] || return 0
  local name
  for name in kestra standin redis registry postgres; do
    if [[ -f $DIR/pids/$name ]]; then kill -- "-$(cat "$DIR/pids/$name")" 2>/dev/null || true; fi
  done
  local-dev/control-plane.sh down >/dev/null 2>&1 || true
  for name in kestra standin redis registry postgres; do
    running "$name" && sleep 1
    if [[ -f $DIR/pids/$name ]]; then kill -KILL -- "-$(cat "$DIR/pids/$name")" 2>/dev/null || true; fi
  done
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
