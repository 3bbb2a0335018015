#!/usr/bin/env bash
# restore.sh DUMP: puts a backup made by the automatizacion-db-backup CronJob (backup.yaml) back
# into the ledger's PostgreSQL, the one libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD and
# PGDATABASE name, as the CronJob names it. One transaction: the database then holds exactly
# what the dump holds, or, if anything fails, exactly what it held before. k8s/README.md
# ("Backups") says how to reach the database and the backups volume from a workstation.
set -euo pipefail
die() { echo "restore: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: restore.sh DUMP, with PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE naming the ledger's database"
dump=$1
[[ -f $dump ]] || die "$dump: no such file"
[[ -n ${PGDATABASE:-} ]] || die "PGDATABASE is not set: name the ledger's database (with PGHOST, PGUSER, PGPASSWORD)"
command -v pg_restore >/dev/null || die "pg_restore is missing (apt-get install postgresql-client)"

contents=$(pg_restore --list "$dump" 2>/dev/null) || die "$dump is not a pg_dump archive in custom format"
grep -q ' TABLE DATA public releases ' <<<"$contents" || die "$dump holds no ledger (no releases table)"

if ! failure=$(pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction \
  --exit-on-error --dbname="$PGDATABASE" "$dump" 2>&1); then
  die "nothing changed, pg_restore failed: $(grep -m1 -i error <<<"$failure" || head -n1 <<<"$failure")"
fi
echo "restore: $PGDATABASE holds $dump again"
