#!/usr/bin/env bash
# sqlite-backup.sh backup [DB] | restore BACKUP [DB]: backups of the embedded SQLite ledger that
# `make run` serves (DB defaults to .spin/sqlite_db.db), through SQLite's online backup API.
#
#   backup   copies DB into $BACKUP_DIR/ledger-<UTC time>.db (default backups/) in one read
#            transaction, so the copy is the ledger as one moment saw it even while the app
#            serves and writes; checks the copy, then keeps the newest $BACKUP_KEEP (14).
#   restore  checks BACKUP (whole, a ledger, and not from a newer release than this one), then
#            replaces DB's contents with it in one write transaction. Stop the app first: its
#            read model may answer from before the restore for 2 s, and a backup from an older
#            release is migrated when the app starts.
#
# Paths may hold any character: they reach SQLite as percent-encoded `file:` URIs.
#
# `make backup` and `make restore BACKUP=…` call it; `make test` runs both against real Spin.
set -euo pipefail
# shellcheck source=local-dev/lib.sh
source "$(dirname "$0")/../local-dev/lib.sh"
command -v python3 >/dev/null || die "python3 is missing (apt-get install python3)"

action=${1:-}
case $action in
  backup) [[ $# -le 2 ]] || die "usage: sqlite-backup.sh backup [DB]" ;;
  restore) [[ $# -ge 2 && $# -le 3 ]] || die "usage: sqlite-backup.sh restore BACKUP [DB]" ;;
  *) die "usage: sqlite-backup.sh backup [DB] | restore BACKUP [DB]" ;;
esac

# The newest schema this release's migrations know (crates/ledger/src/migrations.rs; `make test`
# holds the two equal by restoring backups of both).
export KNOWN_SCHEMA=8
exec python3 - "$@" <<'PYTHON'
import os, pathlib, re, sqlite3, sys, time

def die(reason):
    print(f"sqlite-backup: {reason}", file=sys.stderr)
    sys.exit(1)

def uri(path, mode):
    """PATH as a SQLite URI: `?`, `#` and `%` in a raw `file:` string would end or change it."""
    return pathlib.Path(os.path.abspath(path)).as_uri() + f"?mode={mode}"

def open_existing(path):
    if not os.path.isfile(path):
        die(f"{path}: no such file")
    con = sqlite3.connect(uri(path, "rw"), uri=True)
    con.execute("PRAGMA busy_timeout = 5000")
    return con

def problem(path, restoring=False):
    """Why PATH is no backup (or None): SQLite must find it whole, and it must hold a ledger,
    of a schema this release knows when it is to be restored."""
    try:
        con = sqlite3.connect(uri(path, "ro"), uri=True)
        verdict = con.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        schema = None
        if "schema_migrations" in tables:
            schema = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
        con.close()
    except sqlite3.DatabaseError as error:
        return f"{path} is not a SQLite database ({error})"
    if verdict != "ok":
        problems = [line for line in verdict.splitlines() if not line.startswith("***")]
        return f"{path} is damaged ({problems[0]})"
    if "releases" not in tables:
        return f"{path} holds no ledger (no releases table)"
    known = int(os.environ["KNOWN_SCHEMA"])
    if restoring and schema is not None and schema > known:
        return (f"{path} is at schema {schema}, newer than this release knows ({known}): "
                "restore it with the release that took it; nothing replaced")
    return None

def check(path, restoring=False):
    reason = problem(path, restoring)
    if reason:
        die(reason)

def backup(db=".spin/sqlite_db.db"):
    directory = os.environ.get("BACKUP_DIR") or "backups"
    keep = os.environ.get("BACKUP_KEEP") or "14"
    if not keep.isdigit() or int(keep) < 1:
        die(f"BACKUP_KEEP={keep}: expected a whole number of backups, at least 1")
    source = open_existing(db)
    os.makedirs(directory, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = os.path.join(directory, f"ledger-{stamp}.db")
    partial = target + ".partial"
    for leftover in (partial, partial + "-journal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    copy = sqlite3.connect(uri(partial, "rwc"), uri=True)
    source.backup(copy)  # one step: one read transaction over the whole file
    copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
    copy.close()
    source.close()
    check(partial)
    os.replace(partial, target)
    pattern = re.compile(r"^ledger-\d{8}T\d{6}Z\.db$")
    backups = sorted((f for f in os.listdir(directory) if pattern.match(f)), reverse=True)
    for old in backups[int(keep):]:
        os.remove(os.path.join(directory, old))
    print(f"backup: {target} ({os.path.getsize(target)} bytes), newest {keep} kept")

replaced = False

def restore(backup_file, db=".spin/sqlite_db.db"):
    global replaced
    check(backup_file, restoring=True)
    os.makedirs(os.path.dirname(db) or ".", exist_ok=True)
    target = sqlite3.connect(uri(db, "rwc"), uri=True)
    target.execute("PRAGMA busy_timeout = 5000")
    source = sqlite3.connect(uri(backup_file, "ro"), uri=True)
    source.backup(target)  # one write transaction on DB: all of BACKUP, or nothing
    replaced = True
    source.close()
    target.execute("PRAGMA journal_mode = WAL")  # the ledger's mode (crates/ledger migrations)
    target.close()
    reason = problem(db)
    if reason:
        die(f"{db} now holds {backup_file}, but the check after the restore failed: {reason}")
    print(f"restore: {db} holds {backup_file} again")

action, *arguments = sys.argv[1:]
try:
    {"backup": backup, "restore": restore}[action](*arguments)
except (sqlite3.Error, OSError) as error:
    if replaced:
        die(f"{action}: {arguments[-1] if len(arguments) > 1 else '.spin/sqlite_db.db'} already "
            f"holds the backup, but what followed failed: {error}")
    die(f"{action} failed, nothing replaced: {error}")
PYTHON
