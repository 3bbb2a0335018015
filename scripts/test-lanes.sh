#!/usr/bin/env bash
# test-lanes.sh LIST: runs the test binaries `cargo test --no-run --message-format=json` built
# (LIST: that JSON) in two lanes at once, as `cargo test` would run each one (from its package's
# directory), and exits non-zero when any fails, after all have run.
#
# Why two lanes: the tests of the suite's control plane spend most of their time waiting
# (Karmada's clocks, rollouts, pods starting), one after another, as they must; the other tests
# share nothing with them and fit in those waits. The shared lane holds every binary named in
# SHARED: those of the control plane, and those that build (on 2 cores, one build at a time).
# The other lane starts with FIRST, the playground (a control plane of its own): the longest
# there, so it overlaps the most waiting. Real nodes are one set per machine, so whoever starts
# them holds host_harness::OneSetOfNodes, in either lane. testing/repo-checks/tests/
# test_lanes.rs finds each binary that uses the control plane, nodes or a build, and checks.
#
# One suite alone, with the services it needs, as `make test` runs them:
#   scripts/with-postgres.sh scripts/with-registry.sh scripts/with-control-plane.sh \
#     cargo test -p relctl --test pipeline
set -euo pipefail
cd "$(dirname "$0")/.."

# The binaries that share the control plane or build, PACKAGE_DIR/TARGET, in the order they run:
# the pipeline first, as its nodes come late in it, and the others' nodes after the playground's.
SHARED=(
  tools/relctl/pipeline tools/relctl/cli testing/spinkube-standin/members
  testing/repo-checks/control_plane testing/repo-checks/local_dev
  testing/spinkube-nodes/pods testing/spinkube-nodes/readme
)
FIRST=testing/repo-checks/playground

list=${1:?usage: scripts/test-lanes.sh CARGO_JSON (cargo test --no-run --message-format=json)}
[[ -s $list ]] || { echo "test-lanes.sh: $list is empty or missing" >&2; exit 2; }

# PACKAGE_DIR/TARGET, the package's directory and the executable, a line each, for test binaries.
binaries=$(jq -r --arg root "$PWD/" 'select(.reason == "compiler-artifact" and .profile.test)
  | (.manifest_path | rtrimstr("/Cargo.toml")) as $dir
  | "\($dir | ltrimstr($root))/\(.target.name) \($dir) \(.executable)"' "$list")
[[ -n $binaries ]] || { echo "test-lanes.sh: no test binary in $list" >&2; exit 2; }

is_shared() {
  local name
  for name in "${SHARED[@]}"; do [[ $1 == "$name" ]] && return 0; done
  return 1
}

# run_lane LANE: runs the lane's binaries from stdin, its output's lines prefixed with LANE;
# prints the failed ones' names on fd 3.
run_lane() {
  local lane=$1 name dir exe start status
  while read -r name dir exe; do
    start=$SECONDS
    status=0
    (cd "$dir" && "$exe") 2>&1 | sed -u "s/^/[$lane] /" || status=$?
    echo "[$lane] ${name}: $((SECONDS - start)) s$([[ $status -eq 0 ]] || echo ", FAILED")"
    [[ $status -eq 0 ]] || echo "$name" >&3
  done
}

shared=() others=()
for name in "${SHARED[@]}"; do
  found=$(grep "^$name " <<<"$binaries") || { echo "test-lanes.sh: no test binary $name" >&2; exit 2; }
  shared+=("$found")
done
while read -r name dir exe; do
  if is_shared "$name"; then
    continue
  elif [[ $name == "$FIRST" ]]; then
    others=("$name $dir $exe" "${others[@]}")
  else
    others+=("$name $dir $exe")
  fi
done <<<"$binaries"
grep -q "^$FIRST " <<<"$binaries" || { echo "test-lanes.sh: no test binary $FIRST" >&2; exit 2; }

failed=$(mktemp)
trap 'rm -f "$failed"' EXIT
start=$SECONDS
printf '%s\n' "${shared[@]}" | run_lane shared 3>>"$failed" &
shared_lane=$!
printf '%s\n' "${others[@]}" | run_lane others 3>>"$failed"
wait "$shared_lane"
echo "test-lanes.sh: ${#shared[@]} + ${#others[@]} test binaries in $((SECONDS - start)) s"
if [[ -s $failed ]]; then
  echo "test-lanes.sh: failed: $(paste -sd' ' "$failed")" >&2
  exit 1
fi
