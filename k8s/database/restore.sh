#!/usr/bin/env bash
# restore.sh DUMP: puts a backup made by the automatizacion-db-backup CronJob (backup.yaml) back
# into the ledger's PostgreSQL, the one libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD and
# PGDATABASE name, as the CronJob names it (k8s/README.md, "Backups").
#
# One transaction drops everything the ledger owns (whatever migrations created since the dump
# was taken), recreates the dump's objects and rows, and hands them to the role the app
# connects as: afterwards the database holds exactly the dump, or, if anything fails, exactly
# what it held before. The app then migrates it forward when it starts. A dump newer than this
# release (a schema version its migrations do not know) is refused, and nothing changes.
#
# LEDGER_OWNER names the role the app connects as (default: the database's owner); the
# restored tables become its, so the app can read, write and migrate them whoever restores.
set -euo pipefail
die() { echo "restore: $*" >&2; exit 1; }

# The newest schema this release's migrations know (crates/ledger/src/migrations.rs; `make test`
# holds the two equal by restoring dumps of both).
KNOWN_SCHEMA=8
# What the ledger's migrations create in `public`; dropped before the dump's copy is recreated.
LEDGER_TABLES=(observations audit_events approvals deployments releases schema_migrations)
LEDGER_FUNCTIONS=("audit_events_append_only()")

[[ $# -eq 1 ]] || die "usage: restore.sh DUMP, with PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE naming the ledger's database"
dump=$1
[[ -f $dump ]] || die "$dump: no such file"
[[ -n ${PGDATABASE:-} ]] || die "PGDATABASE is not set: name the ledger's database (with PGHOST, PGUSER, PGPASSWORD)"
for tool in pg_restore psql; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install postgresql-client)"
done

contents=$(pg_restore --list "$dump" 2>/dev/null) || die "$dump is not a pg_dump archive in custom format"
grep -q ' TABLE DATA public releases ' <<<"$contents" || die "$dump holds no ledger (no releases table)"

# The dump's schema version: the highest in its schema_migrations (COPY rows: version first).
schema=$(pg_restore --data-only --table=schema_migrations --file=- "$dump" 2>/dev/null |
  awk -F '\t' '/^COPY /{rows=1; next} /^\\\.$/{rows=0} rows && $1 ~ /^[0-9]+$/ && $1 > max {max = $1} END {print max + 0}')
((schema >= 1)) || die "$dump records no schema version (no schema_migrations rows)"
((schema <= KNOWN_SCHEMA)) ||
  die "$dump is at schema $schema, newer than this release knows ($KNOWN_SCHEMA): restore it with the release that took it; nothing changed"

# PGDATABASE may be a whole connection string (libpq expands it given as --dbname), password
# included: never echo it.
sql() { psql -X -q --dbname="$PGDATABASE" "$@"; }
database=$(sql -A -t -c 'SELECT current_database()' 2>&1) ||
  die "cannot reach the database, nothing changed: $(head -n1 <<<"$database")"
owner=${LEDGER_OWNER:-$(sql -A -t -c \
  'SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()')}
[[ $owner =~ ^[A-Za-z_][A-Za-z0-9_$-]*$ ]] || die "LEDGER_OWNER=$owner is not a role name"

restore_script() {
  echo "SET client_min_messages = warning;"
  local name
  for name in "${LEDGER_TABLES[@]}"; do echo "DROP TABLE IF EXISTS public.$name CASCADE;"; done
  for name in "${LEDGER_FUNCTIONS[@]}"; do echo "DROP FUNCTION IF EXISTS public.$name CASCADE;"; done
  # (Called as `restore_script || die`, where `set -e` does not reach: each failure returns.)
  pg_restore --no-owner --no-privileges --file=- "$dump" || return 1
  awk -v owner="$owner" '$4 == "TABLE" && $5 == "public" {
    printf "ALTER TABLE public.%s OWNER TO \"%s\";\n", $6, owner }' <<<"$contents"
  for name in "${LEDGER_FUNCTIONS[@]}"; do
    grep -q " FUNCTION public ${name%%(*}(" <<<"$contents" &&
      echo "ALTER FUNCTION public.$name OWNER TO \"$owner\";"
  done
  return 0
}

# The whole script first: psql must never commit half of a dump that pg_restore broke off.
umask 077
script=$(mktemp)
trap 'rm -f "$script"' EXIT
restore_script >"$script" || die "nothing changed, pg_restore could not read all of $dump"
if ! failure=$(sql -v ON_ERROR_STOP=1 --single-transaction --file="$script" 2>&1 >/dev/null); then
  die "nothing changed, the restore failed: $(grep -m1 -i error <<<"$failure" || head -n1 <<<"$failure")"
fi
echo "restore: database $database holds $dump again (schema $schema, owned by $owner); the app migrates it forward when it starts"
