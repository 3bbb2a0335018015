#!/usr/bin/env bash
# with-control-plane.sh COMMAND...: runs COMMAND with a throw-away Karmada control plane
# (local-dev/control-plane.sh) on loopback, started once for every test COMMAND runs (`make
# test` runs each of its two lanes on one: scripts/test-lanes.sh). No pods run there, so the
# SpinKube status stand-in (testing/spinkube-standin: nothing runs) then reports
# every member SpinApp ready, as the operator would once its pods are up; without it,
# Karmada's failover evicts production after the policy's 120 s toleration. Exports
# CONTROL_PLANE_DIR, which the tests read, and stops every process whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

CONTROL_PLANE_DIR=$(mktemp -d /tmp/automatizacion-control-plane.XXXXXX)
export CONTROL_PLANE_DIR
trap 'local-dev/control-plane.sh down >/dev/null 2>&1 || true' EXIT

local-dev/control-plane.sh up
cargo run -q -p spinkube-standin -- ready-without-running \
  --kubeconfigs "$CONTROL_PLANE_DIR/kubeconfig" --members staging,prod-east,prod-west
"$@"
