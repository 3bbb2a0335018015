#!/usr/bin/env bash
# Vendors into wit/deps the WIT packages that the worlds in wit/ need, copied from the
# spin-sdk crate the components depend on (what `wit-deps` would do), then checks that wit/
# resolves. Run it after changing the spin-sdk version or a world's imports.
set -euo pipefail
cd "$(dirname "$0")/.."

sdk_dir=$(cargo metadata --format-version 1 --filter-platform wasm32-wasip2 |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="spin-sdk").rsplit("/",1)[0])')
src="$sdk_dir/wit/deps"

# The packages the worlds import, and those their own files refer to.
packages=(cli@0.2.6 clocks@0.2.6 filesystem@0.2.6 http@0.2.6 io@0.2.6 random@0.2.6 sockets@0.2.6
  http@0.2.0 cli@0.2.0 clocks@0.2.0 filesystem@0.2.0 io@0.2.0 random@0.2.0 sockets@0.2.0
  cli-2023-10-18 clocks-2023-10-18 filesystem-2023-10-18 http-2023-10-18 io-2023-10-18
  random-2023-10-18 sockets-2023-10-18
  spin@2.0.0 spin-postgres@4.0.0 spin-sqlite@3.0.0 keyvalue-2024-10-17)

rm -rf wit/deps
mkdir -p wit/deps
for package in "${packages[@]}"; do
  cp -r "$src/$package" "wit/deps/$package"
done

# A WASI 0.2 component exports the 0.2.0-named incoming handler over the newest 0.2.x types it
# imports (0.2.6 here), and Spin links it that way. Say so in the handler's WIT, as
# Spin 3.6.3's own WIT does (scripts/parts.sh, edit_handler_types), or the world check reports "resource types are not the same".
sed -i 's/^  use types\.{incoming-request, response-outparam};/  use wasi:http\/types@0.2.6.{incoming-request, response-outparam};/' \
  wit/deps/http@0.2.0/handler.wit
grep -q 'use wasi:http/types@0.2.6.{incoming-request' wit/deps/http@0.2.0/handler.wit

wasm-tools component wit wit/ >/dev/null
echo "vendored ${#packages[@]} packages from $src"
