#!/usr/bin/env bash
# down.sh: removes exactly what local-dev/up.sh created: its four Kind clusters, its registry
# container and its state directory. Other Kind clusters and containers are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=local-dev/clusters.env
source local-dev/clusters.env
STATE=${LOCAL_CLUSTERS_DIR:-$PWD/target/local-clusters}

engine=
if command -v docker >/dev/null; then engine=docker
elif command -v podman >/dev/null; then engine=podman; export KIND_EXPERIMENTAL_PROVIDER=podman
fi
[[ -n $engine ]] || { echo "down.sh: neither docker nor podman is installed: nothing of up.sh can exist" >&2; exit 1; }

if command -v kind >/dev/null; then
  running=$(kind get clusters 2>/dev/null || true)
  for cluster in "$KARMADA_HOST" $MEMBERS; do
    if grep -qx "$cluster" <<<"$running"; then
      echo "down.sh: deleting Kind cluster $cluster"
      kind delete cluster --name "$cluster"
    fi
  done
fi
if "$engine" container inspect "$REGISTRY_NAME" >/dev/null 2>&1; then
  echo "down.sh: removing the registry container $REGISTRY_NAME (and the images pushed to it)"
  "$engine" rm -f -v "$REGISTRY_NAME" >/dev/null
fi
rm -rf "$STATE"
echo "down.sh: done"
