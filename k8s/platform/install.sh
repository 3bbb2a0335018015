#!/usr/bin/env bash
# install.sh [--kind | --gateway-api] [--shim-preinstalled] [--shim-nodes=SELECTOR]
#            [--app-namespace=NS]... [--dry-run]
# Installs SpinKube's prerequisites into the cluster KUBECONFIG names (its current context,
# which it prints first), at the versions pinned in versions.env: cert-manager (the operator's
# webhooks need it), the spin-operator CRDs, the Spin shim on the nodes with its RuntimeClass,
# the operator chart, and the edge.
# - The shim: runtime-class-manager installs it on the nodes SELECTOR picks (all by default),
#   which install.sh labels spin=true, and creates the RuntimeClass (spin/shim.yaml).
#   `--shim-preinstalled` is for nodes that carry it already and applies the RuntimeClass for
#   their runtime `spin` (spin/runtime-class.yaml), as `--kind` does (local-dev/up.sh puts the
#   shim on Kind nodes with the shim's node-installer first).
# - The executor: `--app-namespace=NS` (repeatable) creates NS and puts the SpinAppExecutor in
#   it, for a cluster that runs the app by itself; Karmada members leave it out (Karmada
#   carries the executor with the SpinApps, karmada/workloads).
# - The edge: ingress-nginx as its `cloud` provider (a LoadBalancer Service, for a cluster with
#   a load balancer); `--kind` installs its `kind` provider instead (host ports on the node
#   labelled ingress-ready), and a self-signed ClusterIssuer for the Ingress's certificate,
#   which only local-dev/up.sh passes: on any other cluster those pods stay Pending.
#   `--gateway-api` installs Envoy Gateway instead (with the Gateway API's CRDs), its
#   GatewayClass `envoy-gateway`, and cert-manager's Gateway API support, for overlays that take
#   k8s/components/gateway-api.
# `--dry-run` prints the commands instead.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=k8s/platform/versions.env
source ./versions.env

usage="usage: k8s/platform/install.sh [--kind | --gateway-api] [--shim-preinstalled] [--shim-nodes=SELECTOR] [--app-namespace=NS]... [--dry-run]"
provider=cloud shim=manager shim_nodes=--all dry_run=0 namespaces=()
for arg in "$@"; do
  case $arg in
    --kind) provider=kind shim=preinstalled ;;
    --gateway-api) provider=gateway-api ;;
    --shim-preinstalled) shim=preinstalled ;;
    --shim-nodes=?*) shim_nodes="--selector=${arg#*=}" ;;
    --app-namespace=?*)
      [[ ${arg#*=} =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] ||
        { echo "install.sh: ${arg#*=} is not a namespace name (a DNS label)" >&2; exit 2; }
      namespaces+=("${arg#*=}") ;;
    --dry-run) dry_run=1 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
run() {
  if ((dry_run)); then printf '+ %s\n' "$*"; else "$@"; fi
}
# run_sh 'PIPELINE': the same for a shell pipeline given as text.
run_sh() {
  if ((dry_run)); then printf '+ %s\n' "$1"; else bash -c "$1"; fi
}

if ((!dry_run)); then
  context=$(kubectl config current-context) || { echo "install.sh: no current kubectl context" >&2; exit 1; }
  echo "install.sh: installing into context $context ($(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}'))" >&2
fi

run kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
run kubectl wait --for=condition=Available --timeout=300s -n cert-manager deployment --all
# The certificates' issuer: a Kind cluster gets a self-signed one; any other cluster's platform
# provides its own ClusterIssuer `automatizacion` (k8s/README.md, "TLS").
[[ $provider != kind ]] || run kubectl apply -f cluster-issuer-selfsigned.yaml

base=https://raw.githubusercontent.com/spinframework/spin-operator/$SPIN_OPERATOR_VERSION/config/crd/bases
run kubectl apply -f "$base/core.spinkube.dev_spinapps.yaml" -f "$base/core.spinkube.dev_spinappexecutors.yaml"

if [[ $shim == preinstalled ]]; then
  run kubectl apply -f spin/runtime-class.yaml
else
  run helm upgrade --install rcm --namespace rcm --create-namespace \
    --version "$RUNTIME_CLASS_MANAGER_VERSION" --wait oci://ghcr.io/spinframework/charts/runtime-class-manager
  run kubectl apply -f spin/shim.yaml
  run kubectl label node "$shim_nodes" --overwrite spin=true
  # The manager labels each node `spin-v2` (the Shim's name): pending, then provisioned or failed.
  run kubectl wait node "$shim_nodes" --for=jsonpath='{.metadata.labels.spin-v2}'=provisioned --timeout=600s
fi
for namespace in "${namespaces[@]}"; do
  run_sh "kubectl create namespace $namespace --dry-run=client -o yaml | kubectl apply -f -"
  run kubectl apply --namespace "$namespace" -k spin/executor
done

run helm upgrade --install spin-operator --namespace spin-operator --create-namespace \
  --version "$SPIN_OPERATOR_CHART_VERSION" --wait oci://ghcr.io/spinframework/charts/spin-operator

if [[ $provider == gateway-api ]]; then
  run helm upgrade --install eg oci://docker.io/envoyproxy/gateway-helm --version "$ENVOY_GATEWAY_VERSION" \
    --namespace envoy-gateway-system --create-namespace --wait
  run kubectl apply -f gateway-class.yaml
  # cert-manager issues the Gateway's certificate only with its Gateway API support on, which
  # it reads at start, once the Gateway API's CRDs are there.
  run kubectl -n cert-manager patch deployment cert-manager --type json \
    -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--enable-gateway-api"}]'
  run kubectl -n cert-manager rollout status deployment cert-manager --timeout=300s
  exit 0
fi

run kubectl apply -f "https://raw.githubusercontent.com/kubernetes/ingress-nginx/$INGRESS_NGINX_VERSION/deploy/static/provider/$provider/deploy.yaml"
run kubectl wait --for=condition=Available --timeout=300s -n ingress-nginx deployment --all
# Slow clients are cut off by the ingress, before any Spin instance waits on them (seconds).
run kubectl -n ingress-nginx patch configmap ingress-nginx-controller --type merge \
  -p '{"data":{"client-header-timeout":"10","client-body-timeout":"10"}}'
