# shellcheck shell=bash
# Sourced by playground.sh: `release VERSION`, `wait` and `approver-env`, the release flow walked
# through the Kestra stand-in (local-dev/README.md, "A release through the pipeline").
# shellcheck disable=SC2153,SC2154 # repo, DIR, FLOW and the ports are playground.sh's

# The pusher's SSH signing key, made once, and the allowed signers that name her.
signing_key() {
  mkdir -p "$DIR/keys"
  [[ -f $DIR/keys/$PUSHER ]] || ssh-keygen -q -t ed25519 -N '' -C "$PUSHER" -f "$DIR/keys/$PUSHER"
  printf '%s %s\n' "$PUSHER" "$(cat "$DIR/keys/$PUSHER.pub")" >"$DIR/keys/allowed_signers"
}

kestra_url() { echo "http://127.0.0.1:$KESTRA_PORT"; }

# The release flow saved through the Kestra stand-in's API by kestra/deploy-flows.sh, as CI
# deploys flows (POST the first time, PUT after), and this playground's loopback services as
# its settings, stored in the KV store by kestra/put-settings.sh, as an operator loads them.
# No Prometheus runs here: production's stages are judged by readiness and smoke checks.
save_flow() {
  local settings=$DIR/kestra/settings name value
  cp kestra/settings.example "$settings"
  while read -r name value; do
    grep -q "^$name=" "$settings" || die "kestra/settings.example has no $name"
    sed -i "s|^$name=.*|$name=$value|" "$settings"
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
production_prometheus
EOF
  KESTRA_URL=$(kestra_url) KESTRA_USER=$KESTRA_USER KESTRA_PASSWORD=$KESTRA_PASSWORD \
    kestra/deploy-flows.sh "$FLOW" >/dev/null
  KESTRA_URL=$(kestra_url) KESTRA_USER=$KESTRA_USER KESTRA_PASSWORD=$KESTRA_PASSWORD \
    kestra/put-settings.sh "$settings" >/dev/null
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
  [[ -f $DIR/kestra/webhook-key ]] || openssl rand -hex 24 | tr -d '\n' >"$DIR/kestra/webhook-key"
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
  body=$(jq -nc --arg ref "refs/tags/v$version" --arg pusher "$PUSHER" \
    '{ref: $ref, deleted: false, pusher: {name: $pusher}}')
  code=$(curl -sS -o "$DIR/kestra/webhook.json" -w '%{http_code}' -H 'content-type: application/json' --data "$body" \
    "$(kestra_url)/api/v1/main/executions/webhook/automatizacion/release/$(cat "$DIR/kestra/webhook-key")")
  [[ $code == 200 ]] || die "the webhook started no release ($code): $(cat "$DIR/kestra/webhook.json")"
  id=$(jq -er .id "$DIR/kestra/webhook.json")
  printf '%s %s\n' "$id" "$version" >"$DIR/kestra/execution"
  say "v$version signed and pushed by $PUSHER: Kestra execution $id (its log: $DIR/logs/kestra.log)"
  wait_release
}

# STATE TASKS of the release in progress, e.g. `PAUSED staging,clone,…`.
execution_state() {
  curl -fsS -u "$KESTRA_USER:$KESTRA_PASSWORD" "$(kestra_url)/api/v1/main/executions/$1" |
    jq -er '"\(.state.current) \([.taskRunList[].taskId] | join(",") | if . == "" then "-" else . end)"'
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
