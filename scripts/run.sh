#!/usr/bin/env bash
# Serves the app at http://127.0.0.1:${PORT:-3000}: with `spin up` when Spin 3.4 or later is
# installed, otherwise with the local host (tools/spin-host), which `make build` builds.
# Creates .spin/auth_hmac_key on first use so that `token` mints tokens the API accepts.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-3000}

mkdir -p .spin
if [[ ! -s .spin/auth_hmac_key ]]; then
  (umask 077 && cargo run --quiet -p token -- keygen >.spin/auth_hmac_key)
fi
export SPIN_VARIABLE_AUTH_HMAC_KEY=${SPIN_VARIABLE_AUTH_HMAC_KEY:-$(cat .spin/auth_hmac_key)}

spin_version=$(spin --version 2>/dev/null | awk '{print $2}') || true
if [[ -n $spin_version ]] && printf '3.4.0\n%s\n' "$spin_version" | sort -V -C; then
  echo "make run: serving with spin up (Spin $spin_version) at http://127.0.0.1:$port" >&2
  exec spin up --listen "127.0.0.1:$port"
fi
echo "make run: serving with spin-host at http://127.0.0.1:$port (Spin 3.4+ not found)" >&2
exec target/host/spin-host --listen "127.0.0.1:$port" --manifest spin.toml --sqlite-dir .spin
