#!/usr/bin/env bash
# Installs SpinKube's prerequisites into the cluster of the current kubectl context, at the
# versions pinned in versions.env: cert-manager (the operator's webhooks need it), the
# spin-operator CRDs, the operator chart, and the ingress controller. The RuntimeClass and the
# SpinAppExecutor are part of the app's own manifests (k8s/base). Nodes must run
# containerd-shim-spin already (Kind: local-dev/up.sh installs it first).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=k8s/platform/versions.env
source ./versions.env

kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
kubectl wait --for=condition=Available --timeout=300s -n cert-manager deployment --all

base=https://raw.githubusercontent.com/spinframework/spin-operator/$SPIN_OPERATOR_VERSION/config/crd/bases
kubectl apply -f "$base/core.spinkube.dev_spinapps.yaml" -f "$base/core.spinkube.dev_spinappexecutors.yaml"

helm upgrade --install spin-operator --namespace spin-operator --create-namespace \
  --version "$SPIN_OPERATOR_CHART_VERSION" --wait oci://ghcr.io/spinframework/charts/spin-operator

kubectl apply -f "https://raw.githubusercontent.com/kubernetes/ingress-nginx/$INGRESS_NGINX_VERSION/deploy/static/provider/kind/deploy.yaml"
kubectl wait --for=condition=Available --timeout=300s -n ingress-nginx deployment --all
# Slow clients are cut off by the ingress, before any Spin instance waits on them (seconds).
kubectl -n ingress-nginx patch configmap ingress-nginx-controller --type merge \
  -p '{"data":{"client-header-timeout":"10","client-body-timeout":"10"}}'
