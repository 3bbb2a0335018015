#!/usr/bin/env bash
# with-control-plane.sh COMMAND...: runs COMMAND with a throw-away Karmada control plane
# (local-dev/control-plane.sh) on loopback, started once for the whole suite. Exports
# CONTROL_PLANE_DIR, which the tests read, and stops every process whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

CONTROL_PLANE_DIR=$(mktemp -d /tmp/automatizacion-control-plane.XXXXXX)
export CONTROL_PLANE_DIR
stop() { local-dev/control-plane.sh down >/dev/null 2>&1 || true; }
trap stop EXIT

local-dev/control-plane.sh up
"$@"
