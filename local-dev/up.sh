#!/usr/bin/env bash
# up.sh [--dry-run]: Kind clusters with SpinKube and Karmada, for people with Docker or Podman on
# Linux (local-dev/README.md). Creates, or finishes creating when run again:
#   a local OCI registry container (localhost:5001 on the host and on every node);
#   Kind clusters karmada-host, staging, prod-east, prod-west (local-dev/kind/*.yaml);
#   containerd-shim-spin and SpinKube (k8s/platform/install.sh) on every member;
#   the ledger's PostgreSQL on staging (local-dev/database), which every cluster uses;
#   Karmada on karmada-host (karmadactl init, Failover on), the members joined in push mode;
#   the SpinApp CRDs, karmada/ and both workloads on the Karmada API server, as
#   karmada/README.md documents;
# then prints local-dev/status.sh's table. --dry-run prints the ordered commands and runs none.
# Versions: k8s/platform/versions.env. Names and ports: local-dev/clusters.env, local-dev/kind/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=k8s/platform/versions.env
source k8s/platform/versions.env
# shellcheck source=local-dev/clusters.env
source local-dev/clusters.env

STATE=${LOCAL_CLUSTERS_DIR:-$PWD/target/local-clusters}
KARMADA_KUBECONFIG=$STATE/karmada/karmada-apiserver.config
dry_run=0
case ${1:-} in
  --dry-run) dry_run=1 ;;
  "") ;;
  *) echo "usage: local-dev/up.sh [--dry-run]" >&2; exit 2 ;;
esac

started=$SECONDS
step() { printf '== [%4ds] %s\n' $((SECONDS - started)) "$*"; }
# run COMMAND...: runs it, or prints it under --dry-run.
run() {
  if ((dry_run)); then printf '+ %s\n' "$*"; else "$@"; fi
}
# run_sh 'PIPELINE': the same for a shell pipeline given as text.
run_sh() {
  if ((dry_run)); then printf '+ %s\n' "$1"; else bash -c "$1"; fi
}
# run_until SECONDS COMMAND...: runs it again every second until it succeeds, for `kubectl wait`,
# which fails at once on an object whose status.conditions is still null (a new CRD's is).
run_until() {
  local deadline=$((SECONDS + $1))
  shift
  if ((dry_run)); then printf '+ %s\n' "$*"; return; fi
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
# exists COMMAND...: whether something is already there; under --dry-run nothing is.
exists() {
  ((dry_run)) && return 1
  "$@" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
step "checking prerequisites"
engine=
if command -v docker >/dev/null; then engine=docker
elif command -v podman >/dev/null; then engine=podman; export KIND_EXPERIMENTAL_PROVIDER=podman
fi
missing=()
[[ -n $engine ]] || missing+=("docker or podman: https://docs.docker.com/engine/install/ or https://podman.io/docs/installation")
command -v kind >/dev/null ||
  missing+=("kind $KIND_VERSION: curl -Lo /usr/local/bin/kind https://kind.sigs.k8s.io/dl/$KIND_VERSION/kind-linux-amd64 && chmod +x /usr/local/bin/kind")
command -v kubectl >/dev/null ||
  missing+=("kubectl $KUBECTL_VERSION: curl -Lo /usr/local/bin/kubectl https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64/kubectl && chmod +x /usr/local/bin/kubectl")
command -v helm >/dev/null ||
  missing+=("helm $HELM_VERSION: curl -L https://get.helm.sh/helm-$HELM_VERSION-linux-amd64.tar.gz | tar -xz -C /usr/local/bin --strip-components=1 linux-amd64/helm")
command -v karmadactl >/dev/null ||
  missing+=("karmadactl $KARMADA_VERSION: curl -L https://github.com/karmada-io/karmada/releases/download/$KARMADA_VERSION/karmadactl-linux-amd64.tgz | tar -xz -C /usr/local/bin karmadactl")
if ((${#missing[@]})); then
  printf 'up.sh: missing %s\n' "${missing[@]}" >&2
  ((dry_run)) || exit 1
  engine=docker
fi
if ((!dry_run)); then
  "$engine" info >/dev/null 2>&1 || { echo "up.sh: $engine is installed but does not answer (is its daemon running?)" >&2; exit 1; }
  kind version | grep -q "$KIND_VERSION" || echo "up.sh: note: kind is not $KIND_VERSION, the version tested with $KIND_NODE_IMAGE" >&2
  karmadactl version 2>/dev/null | grep -q "$KARMADA_VERSION" || echo "up.sh: note: karmadactl is not $KARMADA_VERSION" >&2
fi
run mkdir -p "$STATE/kubeconfig" "$STATE/karmada"
kubeconfig() { echo "$STATE/kubeconfig/$1"; }

# ---------------------------------------------------------------------------------------------
step "local OCI registry $REGISTRY_NAME on 127.0.0.1:$REGISTRY_PORT"
if ! exists "$engine" container inspect "$REGISTRY_NAME"; then
  run "$engine" run -d --restart=always -p "127.0.0.1:$REGISTRY_PORT:5000" --network bridge \
    --name "$REGISTRY_NAME" "$REGISTRY_IMAGE"
fi

# ---------------------------------------------------------------------------------------------
for cluster in "$KARMADA_HOST" $MEMBERS; do
  if exists kind get kubeconfig --name "$cluster"; then
    step "Kind cluster $cluster exists"
    run kind export kubeconfig --name "$cluster" --kubeconfig "$(kubeconfig "$cluster")"
  else
    step "creating Kind cluster $cluster"
    run kind create cluster --name "$cluster" --image "$KIND_NODE_IMAGE" \
      --config "local-dev/kind/$cluster.yaml" --kubeconfig "$(kubeconfig "$cluster")" --wait 180s
  fi
done

step "every node pulls localhost:$REGISTRY_PORT from the registry container"
if ! exists sh -c "$engine network inspect kind -f '{{range .Containers}}{{.Name}} {{end}}' | grep -qw $REGISTRY_NAME"; then
  run "$engine" network connect kind "$REGISTRY_NAME"
fi
for cluster in "$KARMADA_HOST" $MEMBERS; do
  node=$cluster-control-plane
  certs=/etc/containerd/certs.d/localhost:$REGISTRY_PORT
  run "$engine" exec "$node" mkdir -p "$certs"
  run_sh "printf '[host.\"http://$REGISTRY_NAME:5000\"]\\n' | $engine exec -i $node cp /dev/stdin $certs/hosts.toml"
  run_sh "sed 's/REGISTRY_PORT/$REGISTRY_PORT/' local-dev/manifests/local-registry-hosting.yaml | kubectl --kubeconfig $(kubeconfig "$cluster") apply -f -"
done

# ---------------------------------------------------------------------------------------------
for member in $MEMBERS; do
  node=$member-control-plane
  step "containerd-shim-spin on $node ($SHIM_NODE_INSTALLER_IMAGE)"
  run_sh "sed -e 's|NODE_NAME|$node|g' -e 's|IMAGE|$SHIM_NODE_INSTALLER_IMAGE|' local-dev/manifests/shim-installer.yaml | kubectl --kubeconfig $(kubeconfig "$member") apply -f -"
  run kubectl --kubeconfig "$(kubeconfig "$member")" -n shim-installer wait --for=condition=Complete \
    "job/install-shim-$node" --timeout=300s
  step "SpinKube on $member (k8s/platform/install.sh)"
  run env KUBECONFIG="$(kubeconfig "$member")" k8s/platform/install.sh --kind
done

# ---------------------------------------------------------------------------------------------
# One ledger for every cluster (k8s/README.md): its PostgreSQL and the read model's Redis run on
# staging, published on the node's ports 30432 and 30379; every cluster's SpinApps reach them at
# the staging node's kind address.
step "the ledger's PostgreSQL and Redis on staging (local-dev/database)"
staging_kubeconfig=$(kubeconfig staging)
db_password_file=$STATE/db-password
kv_password_file=$STATE/kv-password
for file in "$db_password_file" "$kv_password_file"; do
  if ! exists test -s "$file"; then
    run_sh "python3 -c 'import secrets; print(secrets.token_hex(24))' >$file"
  fi
done
run kubectl --kubeconfig "$staging_kubeconfig" apply -k local-dev/database
run_sh "kubectl --kubeconfig $staging_kubeconfig -n automatizacion-ledger create secret generic automatizacion-db-credentials --from-literal=POSTGRES_USER=ledger --from-literal=POSTGRES_PASSWORD=\$(cat $db_password_file) --from-literal=POSTGRES_DB=ledger --from-literal=REDIS_PASSWORD=\$(cat $kv_password_file) --dry-run=client -o yaml | kubectl --kubeconfig $staging_kubeconfig apply -f -"
run kubectl --kubeconfig "$staging_kubeconfig" -n automatizacion-ledger rollout status statefulset/automatizacion-db --timeout=300s
run kubectl --kubeconfig "$staging_kubeconfig" -n automatizacion-ledger rollout status deployment/automatizacion-kv --timeout=300s
if ((dry_run)); then
  db_address="<staging node address>:30432"
else
  staging_node=$("$engine" inspect -f '{{.NetworkSettings.Networks.kind.IPAddress}}' staging-control-plane)
  db_address=$staging_node:30432
  DB_URL="postgres://ledger:$(cat "$db_password_file")@$db_address/ledger"
  KV_URL="redis://:$(cat "$kv_password_file")@$staging_node:30379"
  export DB_URL KV_URL # read by scripts/make-secrets.sh below
fi

# ---------------------------------------------------------------------------------------------
host_kubeconfig=$(kubeconfig "$KARMADA_HOST")
if exists kubectl --kubeconfig "$host_kubeconfig" -n karmada-system get deployment karmada-apiserver; then
  step "Karmada $KARMADA_VERSION is installed on $KARMADA_HOST"
else
  step "Karmada $KARMADA_VERSION on $KARMADA_HOST (karmadactl init, Failover feature gate on)"
  run karmadactl init --kubeconfig "$host_kubeconfig" \
    --karmada-data "$STATE/karmada" --karmada-pki "$STATE/karmada/pki" \
    --port "$KARMADA_APISERVER_PORT" --cert-external-ip 127.0.0.1 \
    --crds "https://github.com/karmada-io/karmada/releases/download/$KARMADA_VERSION/crds.tar.gz" \
    --karmada-aggregated-apiserver-image "docker.io/karmada/karmada-aggregated-apiserver:$KARMADA_VERSION" \
    --karmada-controller-manager-image "docker.io/karmada/karmada-controller-manager:$KARMADA_VERSION" \
    --karmada-scheduler-image "docker.io/karmada/karmada-scheduler:$KARMADA_VERSION" \
    --karmada-webhook-image "docker.io/karmada/karmada-webhook:$KARMADA_VERSION" \
    --karmada-controller-manager-extra-args=--feature-gates=Failover=true
fi
# The NodePort is published on loopback (kind/karmada-host.yaml), which the certificate names.
run kubectl config --kubeconfig "$KARMADA_KUBECONFIG" set-cluster karmada-apiserver \
  --server "https://127.0.0.1:$KARMADA_APISERVER_PORT"

# ---------------------------------------------------------------------------------------------
declare -A REGION=([staging]=eu-central-1 [prod-east]=eu-east-1 [prod-west]=eu-west-1)
for member in $MEMBERS; do
  if exists kubectl --kubeconfig "$KARMADA_KUBECONFIG" get clusters.cluster.karmada.io "$member"; then
    step "$member is a member of Karmada"
    continue
  fi
  step "joining $member (push mode)"
  # Karmada's controllers run inside karmada-host: they reach the member's API server at its
  # node's address on the kind network, which its certificate names (as Karmada's own
  # hack/ scripts do).
  join_config=$STATE/kubeconfig/$member-join
  run cp "$(kubeconfig "$member")" "$join_config"
  run_sh "kubectl config --kubeconfig $join_config set-cluster kind-$member --server https://\$($engine inspect -f '{{.NetworkSettings.Networks.kind.IPAddress}}' $member-control-plane):6443"
  run karmadactl join "$member" --kubeconfig "$KARMADA_KUBECONFIG" --karmada-context karmada-apiserver \
    --cluster-kubeconfig "$join_config" --cluster-context "kind-$member" \
    --cluster-region "${REGION[$member]}" --cluster-zones "${REGION[$member]}a"
  environment=production
  [[ $member == staging ]] && environment=staging
  run kubectl --kubeconfig "$KARMADA_KUBECONFIG" label --overwrite clusters.cluster.karmada.io "$member" \
    "environment=$environment" "region=${REGION[$member]}" "zone=${REGION[$member]}a"
done
run kubectl --kubeconfig "$KARMADA_KUBECONFIG" wait --for=condition=Ready clusters.cluster.karmada.io --all --timeout=300s

# ---------------------------------------------------------------------------------------------
step "the SpinApp CRDs, karmada/ and both workloads on the Karmada API server"
crds=https://raw.githubusercontent.com/spinframework/spin-operator/$SPIN_OPERATOR_VERSION/config/crd/bases
run kubectl --kubeconfig "$KARMADA_KUBECONFIG" apply --server-side \
  -f "$crds/core.spinkube.dev_spinapps.yaml" -f "$crds/core.spinkube.dev_spinappexecutors.yaml"
run_until 60 kubectl --kubeconfig "$KARMADA_KUBECONFIG" wait --for=condition=Established crd \
  spinapps.core.spinkube.dev spinappexecutors.core.spinkube.dev --timeout=5s
# Kind only: every cluster's db_outbound_host names the ledger database on staging.
run_sh "sed 's|DB_ADDRESS|$db_address|' local-dev/manifests/kind-database-override.yaml | kubectl --kubeconfig $KARMADA_KUBECONFIG apply -f -"
run kubectl --kubeconfig "$KARMADA_KUBECONFIG" apply -k karmada
run kubectl --kubeconfig "$KARMADA_KUBECONFIG" apply -k karmada/workloads/staging
run_sh "NAMESPACE=automatizacion-staging scripts/make-secrets.sh | kubectl --kubeconfig $KARMADA_KUBECONFIG apply -f -"
run kubectl --kubeconfig "$KARMADA_KUBECONFIG" apply -k karmada/workloads/production
run_sh "scripts/make-secrets.sh | kubectl --kubeconfig $KARMADA_KUBECONFIG apply -f -"
run kubectl --kubeconfig "$KARMADA_KUBECONFIG" wait --for=condition=FullyApplied --all --all-namespaces \
  resourcebindings.work.karmada.io --timeout=300s

step "done"
run local-dev/status.sh
