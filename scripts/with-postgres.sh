#!/usr/bin/env bash
# with-postgres.sh COMMAND...: runs COMMAND with a throw-away PostgreSQL server on loopback.
# Installs PostgreSQL from Debian's packages if it is missing, starts it on a free port in a
# temporary directory, waits until it accepts connections, exports LEDGER_TEST_PG_URL, runs
# the command, and stops the server whatever the command's outcome (scripts/with-service.sh).
set -euo pipefail
# shellcheck source=scripts/with-service.sh
source "$(dirname "$0")/with-service.sh"

(pg_bin initdb && pg_bin postgres) >/dev/null 2>&1 || apt_install postgresql
service postgres
port=$(free_ports 1)
# PostgreSQL refuses to run as root; the `postgres` user comes with the package.
as_postgres=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$SERVICE_DIR" postgres
  chown postgres "$SERVICE_DIR"
  as_postgres=(runuser -u postgres --)
fi

"${as_postgres[@]}" "$(pg_bin initdb)" -D "$SERVICE_DIR/db" -U postgres --auth=trust -E UTF8 \
  >"$SERVICE_DIR/initdb.log" 2>&1 || { cat "$SERVICE_DIR/initdb.log" >&2; exit 1; }
serve "${as_postgres[@]}" "$(pg_bin postgres)" -D "$SERVICE_DIR/db" -h 127.0.0.1 -p "$port" \
  -k "$SERVICE_DIR" -c max_connections=200 -c fsync=off -c synchronous_commit=off
ready "$(pg_bin pg_isready)" -q -h 127.0.0.1 -p "$port"

export LEDGER_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
say "with-postgres: PostgreSQL on 127.0.0.1:$port"
"$@"
