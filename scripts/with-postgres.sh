#!/usr/bin/env bash
# with-postgres.sh COMMAND...: runs COMMAND with a throw-away PostgreSQL server on loopback.
# Installs PostgreSQL from Debian's packages if it is missing, starts it on a free port in a
# temporary directory, waits until it accepts connections, exports LEDGER_TEST_PG_URL, runs
# the command, and stops the server by its PID whatever the command's outcome.
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/$1" ]] && { echo "$dir/$1"; return 0; }
  done
  command -v "$1" 2>/dev/null || return 1
}

if ! find_bin initdb >/dev/null || ! find_bin postgres >/dev/null; then
  echo "with-postgres: installing PostgreSQL from Debian's packages" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
initdb=$(find_bin initdb)
postgres=$(find_bin postgres)
pg_isready=$(find_bin pg_isready)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d /tmp/automatizacion-pg.XXXXXX)
# PostgreSQL refuses to run as root; the `postgres` user comes with the package.
run_as_postgres=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$data" postgres
  chown postgres "$data"
  run_as_postgres=(runuser -u postgres --)
fi

"${run_as_postgres[@]}" "$initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 >"$data/initdb.log" 2>&1 ||
  { cat "$data/initdb.log" >&2; exit 1; }
"${run_as_postgres[@]}" "$postgres" -D "$data/db" -h 127.0.0.1 -p "$port" -k "$data" \
  -c max_connections=200 -c fsync=off -c synchronous_commit=off >"$data/server.log" 2>&1 &
pid=$!
stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}
trap stop EXIT

for _ in $(seq 1 600); do  # up to 60 s: a busy machine starts it slowly
  "$pg_isready" -q -h 127.0.0.1 -p "$port" && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
  sleep 0.1
done
"$pg_isready" -q -h 127.0.0.1 -p "$port" || { echo "with-postgres: server did not start" >&2; exit 1; }

export LEDGER_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port (pid $pid)" >&2
"$@"
