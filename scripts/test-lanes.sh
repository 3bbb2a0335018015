#!/usr/bin/env bash
# test-lanes.sh LIST: runs the test binaries `cargo test --no-run --message-format=json` built
# (LIST: that JSON) in two lanes at once, as `cargo test` would run each one (from its package's
# directory), and exits non-zero when any fails, after all have run.
#
# Why two lanes: the pipeline's tests (PIPELINE) spend most of their time waiting (Karmada's
# clocks, rollouts, pods starting), one after another on the suite's control plane, as they
# must; everything else fits beside them, in the other lane, with the longest of the
# pipeline's own (ON_NODES), on that lane's control plane. That lane starts with FIRST, the
# playground, which runs a control plane of its own; then come NEXT and the rest, on a second
# control plane (scripts/with-control-plane.sh again), started once the playground's has
# stopped: so no test shares a control plane with the pipeline, and within each lane the
# binaries run one after another. That lane's control planes take slot 1 (CONTROL_PLANE_SLOT:
# local-dev/control-plane.sh), so that their nodes can run beside the pipeline's, on slot 0.
# Nodes are one set per slot, and on 2 cores one build runs at a time, so whoever starts nodes
# holds its slot's host_harness::OneSetOfNodes, and whoever builds OneBuildAtATime, in either
# lane. testing/repo-checks/tests/test_lanes.rs finds each binary that uses a control plane,
# nodes or a build, and checks.
#
# One suite alone, with the services it needs, as `make test` runs them:
#   scripts/with-postgres.sh scripts/with-registry.sh scripts/with-control-plane.sh \
#     cargo test -p relctl --test pipeline
#
# test-lanes.sh --lane NAME FILE FAILED: runs the binaries FILE lists (PACKAGE_DIR/TARGET DIR
# EXECUTABLE [ARGUMENTS...], a line each) as lane NAME, appending the failed ones' names to
# FAILED.
set -euo pipefail
cd "$(dirname "$0")/.."
self=$PWD/scripts/test-lanes.sh

# PACKAGE_DIR/TARGET of each: the pipeline's lane; the other lane's first binary; then those
# that follow it, in this order: the ones with nodes first, then all the rest. LAST, which
# builds relctl and uses no control plane, runs in the pipeline's lane after the pipeline's
# tests, so that the two lanes end about together; on two cores a build slows whatever runs
# beside it, and by then the other lane runs its short suites, none of them on nodes.
PIPELINE=tools/relctl/pipeline
# The pipeline's longest test (production on real nodes, about nine minutes) runs in the other
# lane, first after the playground, on that lane's control plane and nodes: the pipeline's
# binary again, with this test alone; the pipeline's lane skips it. So neither lane waits for
# the other's longest part (testing/repo-checks/tests/test_lanes.rs checks the name).
ON_NODES=spinkube::production_on_real_nodes_rolls_back_drifts_and_fails_over
FIRST=testing/repo-checks/playground
NEXT=(
  testing/spinkube-nodes/pods testing/spinkube-nodes/readme
  testing/repo-checks/control_plane
)
LAST=tools/relctl/cli

# run_lane LANE: runs the lane's binaries from stdin (NAME DIR EXECUTABLE [ARGUMENTS...] a
# line), its output's lines prefixed with LANE; prints the failed ones' names on fd 3.
run_lane() {
  local lane=$1 name dir exe rest args start status
  while read -r name dir exe rest; do
    read -r -a args <<<"$rest"
    start=$SECONDS
    status=0
    (cd "$dir" && "$exe" "${args[@]}") 2>&1 | sed -u "s/^/[$lane] /" || status=$?
    echo "[$lane] ${name}: $((SECONDS - start)) s$([[ $status -eq 0 ]] || echo ", FAILED")"
    [[ $status -eq 0 ]] || echo "$name" >&3
  done
}

if [[ ${1:-} == --lane ]]; then
  (($# == 4)) || { echo "usage: test-lanes.sh --lane NAME FILE FAILED" >&2; exit 2; }
  run_lane "$2" <"$3" 3>>"$4"
  exit 0
fi

list=${1:?usage: scripts/test-lanes.sh CARGO_JSON (cargo test --no-run --message-format=json)}
[[ -s $list ]] || { echo "test-lanes.sh: $list is empty or missing" >&2; exit 2; }

# PACKAGE_DIR/TARGET, the package's directory and the executable, a line each, for test binaries.
binaries=$(jq -r --arg root "$PWD/" 'select(.reason == "compiler-artifact" and .profile.test)
  | (.manifest_path | rtrimstr("/Cargo.toml")) as $dir
  | "\($dir | ltrimstr($root))/\(.target.name) \($dir) \(.executable)"' "$list")
[[ -n $binaries ]] || { echo "test-lanes.sh: no test binary in $list" >&2; exit 2; }

# The line of binary NAME.
binary() {
  grep "^$1 " <<<"$binaries" || { echo "test-lanes.sh: no test binary $1" >&2; exit 2; }
}

# The tests run the spin-host this build made (host_harness reads SPIN_HOST_BIN), not the
# `host` profile's that `make build` makes: one build of wasmtime for `make test`, not two.
if [[ -z ${SPIN_HOST_BIN:-} ]]; then
  SPIN_HOST_BIN=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "spin-host"
    and (.target.kind | index("bin")) and (.profile.test | not)) | .executable' "$list")
  [[ -x $SPIN_HOST_BIN ]] || { echo "test-lanes.sh: $list names no spin-host binary" >&2; exit 2; }
  export SPIN_HOST_BIN
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
pipeline=$(binary "$PIPELINE")
echo "$pipeline --skip $ON_NODES" >"$scratch/pipeline"
binary "$FIRST" >"$scratch/first"
{
  read -r _ dir exe <<<"$pipeline"
  echo "$PIPELINE::$ON_NODES $dir $exe --exact $ON_NODES"
  for name in "${NEXT[@]}"; do binary "$name"; done
} >"$scratch/rest"
placed=$(printf '%s\n' "$PIPELINE" "$FIRST" "${NEXT[@]}" "$LAST")
while read -r name dir exe; do
  grep -qxF "$name" <<<"$placed" || echo "$name $dir $exe"
done <<<"$binaries" >>"$scratch/rest"
binary "$LAST" >>"$scratch/pipeline"
: >"$scratch/failed"

start=$SECONDS
"$self" --lane pipeline "$scratch/pipeline" "$scratch/failed" &
pipeline_lane=$!
export CONTROL_PLANE_SLOT=1
"$self" --lane others "$scratch/first" "$scratch/failed"
scripts/with-control-plane.sh "$self" --lane others "$scratch/rest" "$scratch/failed" ||
  echo "the other lane's control plane" >>"$scratch/failed"
wait "$pipeline_lane"
echo "test-lanes.sh: $(cat "$scratch"/{pipeline,first,rest} | wc -l) runs of test binaries in $((SECONDS - start)) s"
if [[ -s $scratch/failed ]]; then
  echo "test-lanes.sh: failed: $(paste -sd' ' "$scratch/failed")" >&2
  exit 1
fi
