#!/usr/bin/env bash
# status.sh: one line per local Kind cluster (local-dev/up.sh): whether it runs, its readiness
# in Karmada, its SpinApps with ready/desired replicas, and where its console answers.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=local-dev/clusters.env
source local-dev/clusters.env
STATE=${LOCAL_CLUSTERS_DIR:-$PWD/target/local-clusters}
KARMADA_KUBECONFIG=$STATE/karmada/karmada-apiserver.config

command -v kind >/dev/null || { echo "status.sh: kind is not installed; nothing to show" >&2; exit 1; }
running=$(kind get clusters 2>/dev/null || true)

# The host port that kind/<cluster>.yaml maps to the node's HTTPS port (the Ingress redirects
# HTTP there).
https_port() {
  awk '/containerPort: 443$/ {found = 1; next} found && /hostPort:/ {print $2; exit}' "local-dev/kind/$1.yaml"
}

printf '%-13s %-8s %-9s %-44s %s\n' CLUSTER KIND KARMADA "SPINAPPS (ready/desired)" CONSOLE
for cluster in "$KARMADA_HOST" $MEMBERS; do
  kind_state=absent
  grep -qx "$cluster" <<<"$running" && kind_state=running
  karmada=- apps=- console=-
  if [[ $cluster != "$KARMADA_HOST" && $kind_state == running ]]; then
    karmada=$(kubectl --kubeconfig "$KARMADA_KUBECONFIG" get clusters.cluster.karmada.io "$cluster" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    [[ $karmada == True ]] && karmada=Ready || karmada=${karmada:-not-joined}
    member_config=$STATE/kubeconfig/$cluster
    apps=$(kubectl --kubeconfig "$member_config" get spinapps --all-namespaces --no-headers \
      -o custom-columns=NAME:.metadata.name,READY:.status.readyReplicas,DESIRED:.spec.replicas 2>/dev/null |
      awk '{sub(/^automatizacion-/, "", $1); r = ($2 == "<none>") ? 0 : $2; printf "%s%s %s/%s", sep, $1, r, $3; sep = ", "}')
    host=$(kubectl --kubeconfig "$member_config" get ingress --all-namespaces \
      -o jsonpath='{.items[0].spec.rules[0].host}' 2>/dev/null || true)
    [[ -n $host ]] && console="https://$host:$(https_port "$cluster")/ (127.0.0.1)"
  elif [[ $kind_state == running ]]; then
    karmada="control plane: https://127.0.0.1:$KARMADA_APISERVER_PORT"
  fi
  printf '%-13s %-8s %-9s %-44s %s\n' "$cluster" "$kind_state" "$karmada" "${apps:--}" "$console"
done
echo
echo "Karmada: kubectl --kubeconfig $KARMADA_KUBECONFIG get clusters"
echo "A console answers once its host name resolves to 127.0.0.1 (an /etc/hosts line), e.g."
echo "  curl -k --resolve staging.automatizacion.example.com:$(https_port staging):127.0.0.1 https://staging.automatizacion.example.com:$(https_port staging)/"
echo "(-k: Kind's certificates come from a self-signed issuer)"
