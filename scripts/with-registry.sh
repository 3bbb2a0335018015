#!/usr/bin/env bash
# with-registry.sh COMMAND...: runs COMMAND with a throw-away OCI registry on loopback (Debian's
# `docker-registry`, installed when missing), for the pipeline tests' `spin registry push`.
# Exports TEST_REGISTRY (host:port, plain HTTP) and stops the registry afterwards
# (scripts/with-service.sh).
set -euo pipefail
# shellcheck source=scripts/with-service.sh
source "$(dirname "$0")/with-service.sh"

command -v docker-registry >/dev/null || apt_install docker-registry docker-registry
service registry
port=$(free_ports 1)
PORT=$port DATA=$SERVICE_DIR/data render "$(dirname "$0")/../local-dev/manifests/registry.yml" \
  PORT DATA >"$SERVICE_DIR/config.yml"
serve docker-registry serve "$SERVICE_DIR/config.yml"
ready curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/"

export TEST_REGISTRY="127.0.0.1:$port"
say "with-registry: OCI registry on $TEST_REGISTRY"
"$@"
