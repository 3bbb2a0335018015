#!/usr/bin/env bash
# Checks each built component: under the size budget, within its declared world in wit/ (its
# capabilities), and linkable by the Spin 3.6 inside SpinKube's shim (its WIT, which
# scripts/parts.sh puts in target/parts/spin-wit).
# Then proves the world check can fail, by checking against a world with one import removed.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_BYTES=$((2 * 1024 * 1024))
SPIN_WIT=target/parts/spin-wit
[[ -d $SPIN_WIT ]] || { echo "check-components: $SPIN_WIT is missing; run make tools" >&2; exit 1; }
components=(backend frontend)  # the app's components; fixtures are not checked

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# wasm-component-ld gives every WASI 0.2 import the newest 0.2.x that any part of the component
# names (a newer Rust's std names a newer one than spin-sdk), and Spin's wasmtime links an
# import of 0.2.x to the 0.2.y it provides when every item the component uses is there
# (semver-compatible matching). The checks do the same: the WIT is read with the component's
# 0.2.x wherever it says 0.2.6, so an item that 0.2.6 lacks still fails.
wasi_version() {
  wasm-tools component wit "$1" | grep -oE 'import wasi:io/[a-z-]+@0\.2\.[0-9]+' | head -1 | sed 's/.*@//'
}
as_version() {  # DIR VERSION OUT: a copy of DIR naming WASI 0.2.6 as VERSION
  rm -rf "$3" && cp -r "$1" "$3"
  [[ -z $2 || $2 == 0.2.6 ]] && return
  grep -rlE '@0\.2\.6([^0-9]|$)' "$3" | xargs -r sed -i -E "s/@0\.2\.6([^0-9]|$)/@$2\1/g"
}

for name in "${components[@]}"; do
  wasm=target/wasm32-wasip2/release/$name.wasm
  [[ -f $wasm ]] || { echo "check-components: $wasm is missing; run make build" >&2; exit 1; }
  bytes=$(stat -c %s "$wasm")
  ((bytes < MAX_BYTES)) || { echo "check-components: $name.wasm is $bytes bytes, over $MAX_BYTES" >&2; exit 1; }
  version=$(wasi_version "$wasm")
  as_version wit "$version" "$scratch/wit-$name"
  as_version "$SPIN_WIT" "$version" "$scratch/spin-wit-$name"
  wasm-tools component targets "$scratch/wit-$name" "$wasm" --world "$name"
  wasm-tools component targets "$scratch/spin-wit-$name" "$wasm" --world http-component
  echo "check-components: $name.wasm $bytes bytes (WASI ${version:-none}); fits world $name and Spin 3.6's http-component"
done

# The console reads nothing but variables and the backend's API: its world names no storage.
if grep -Eq 'import (spin|fermyon):[a-z-]+/(sqlite|postgres|mysql|key-value|redis|llm)' wit/frontend.wit; then
  echo "check-components: wit/frontend.wit imports storage; the console must not" >&2
  exit 1
fi

# Each world check must be able to fail: drop one import the component uses and expect refusal.
refuses_without() {
  local name=$1 import=$2 version
  version=$(wasi_version "target/wasm32-wasip2/release/$name.wasm")
  [[ -n $version ]] && import=${import/%@0.2.6/@$version}
  rm -rf "$scratch/wit" && cp -r "$scratch/wit-$name" "$scratch/wit"
  sed -i "\|import $import;|d" "$scratch/wit/$name.wit"
  if wasm-tools component targets "$scratch/wit" "target/wasm32-wasip2/release/$name.wasm" --world "$name" 2>/dev/null; then
    echo "check-components: a world without $import still accepted $name.wasm" >&2
    exit 1
  fi
  echo "check-components: a $name world without $import is refused, as it must be"
}
refuses_without backend spin:postgres/postgres@4.0.0
refuses_without backend fermyon:spin/key-value@2.0.0
refuses_without frontend wasi:http/outgoing-handler@0.2.6
