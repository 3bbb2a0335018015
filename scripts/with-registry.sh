#!/usr/bin/env bash
# with-registry.sh COMMAND...: runs COMMAND with a throw-away OCI registry on loopback (Debian's
# `docker-registry`, installed when missing), for the pipeline tests' `spin registry push`.
# Exports TEST_REGISTRY (host:port, plain HTTP) and stops the registry by its PID afterwards.
set -euo pipefail

if ! command -v docker-registry >/dev/null; then
  echo "with-registry: installing docker-registry from Debian's packages" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
  # The package starts a system registry on port 5000; ours picks its own.
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/automatizacion-registry.XXXXXX)
cat >"$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CONFIG
docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
pid=$!
stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT

for _ in $(seq 1 600); do  # up to 60 s: a busy machine starts it slowly
  curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/registry.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" || { echo "with-registry: the registry did not start" >&2; exit 1; }

export TEST_REGISTRY="127.0.0.1:$port"
echo "with-registry: OCI registry on $TEST_REGISTRY (pid $pid)" >&2
"$@"
