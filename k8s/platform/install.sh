#!/usr/bin/env bash
# install.sh [--kind | --gateway-api] [--dry-run]: installs SpinKube's prerequisites into the
# cluster KUBECONFIG names (its current context, which it prints first), at the versions pinned
# in versions.env: cert-manager (the operator's webhooks need it), the spin-operator CRDs, the
# operator chart, and the edge. The edge is ingress-nginx as its `cloud` provider (a
# LoadBalancer Service, for a cluster with a load balancer); `--kind` installs its `kind`
# provider instead (host ports on the node labelled ingress-ready), and a self-signed
# ClusterIssuer for the Ingress's certificate, which only local-dev/up.sh passes: on any other
# cluster those pods stay Pending. `--gateway-api` installs Envoy Gateway
# instead (with the Gateway API's CRDs), its GatewayClass `envoy-gateway`, and cert-manager's
# Gateway API support, for overlays that take k8s/components/gateway-api. `--dry-run` prints
# the commands instead. The RuntimeClass and the SpinAppExecutor are part of the app's own
# manifests (k8s/base). Nodes must run containerd-shim-spin already (Kind: local-dev/up.sh
# installs it first).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=k8s/platform/versions.env
source ./versions.env

provider=cloud dry_run=0
for arg in "$@"; do
  case $arg in
    --kind) provider=kind ;;
    --gateway-api) provider=gateway-api ;;
    --dry-run) dry_run=1 ;;
    *) echo "usage: k8s/platform/install.sh [--kind | --gateway-api] [--dry-run]" >&2; exit 2 ;;
  esac
done
run() {
  if ((dry_run)); then printf '+ %s\n' "$*"; else "$@"; fi
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
