# shellcheck shell=bash
# Sourced by scripts/with-*.sh, which run a command beside a throw-away server on loopback. The
# one pattern they share: `service NAME` makes the server's directory ($SERVICE_DIR, under /tmp)
# and arranges that, whatever the outcome, the server is stopped by its process group and the
# directory removed; `serve COMMAND...` starts the server (its log: $SERVICE_DIR/logs/NAME.log);
# `ready COMMAND...` waits until COMMAND succeeds, up to 60 s, as a busy machine starts servers
# slowly, and fails with the server's log if it exits first.
# shellcheck source=local-dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local-dev/lib.sh"

service() {
  SERVICE=$1
  SERVICE_DIR=$(mktemp -d "/tmp/automatizacion-$SERVICE.XXXXXX")
  PROCESS_DIR=$SERVICE_DIR
  trap 'stop "$SERVICE"; rm -rf "$SERVICE_DIR"' EXIT
}

serve() { start "$SERVICE" "$@"; }

ready() {
  local log=$SERVICE_DIR/logs/$SERVICE.log
  for _ in $(seq 1 600); do
    "$@" >/dev/null 2>&1 && return 0
    running "$SERVICE" || { cat "$log" >&2; die "$SERVICE exited while starting"; }
    sleep 0.1
  done
  cat "$log" >&2
  die "$SERVICE did not answer within 60 s"
}
