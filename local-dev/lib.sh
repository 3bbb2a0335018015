# shellcheck shell=bash
# Sourced by every script that starts something (local-dev/*.sh, scripts/with-*.sh): messages,
# free ports, Debian packages, and background processes. Each background process runs in a
# process group of its own, so that stopping it stops its children too, with its PID in
# $PROCESS_DIR/pids/NAME and its output in $PROCESS_DIR/logs/NAME.log.

started=$SECONDS
# say MESSAGE: progress on stderr, with the seconds since the script began.
say() { printf '[%3ds] %s\n' $((SECONDS - started)) "$*" >&2; }
# die REASON: one line on stderr, named after the script, and exit 1.
die() {
  local script=${0##*/}
  echo "${script%.sh}: $*" >&2
  exit 1
}

# free_ports N: N loopback ports free now, held together while they are chosen so that they
# differ.
free_ports() {
  python3 - "${1:-1}" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

# render FILE NAME...: FILE (a manifest or configuration under local-dev/manifests) with each
# $NAME replaced by that variable's value, and no other `$` touched.
render() {
  local file=$1 names="" name values=()
  shift
  for name in "$@"; do
    names+="\${$name} "
    values+=("$name=${!name}")
  done
  env "${values[@]}" envsubst "$names" <"$file"
}

# apt_install PACKAGE [SERVICE]: installs PACKAGE from Debian's packages; SERVICE, which the
# package starts on its default port, is stopped and disabled, as ours choose their own.
apt_install() {
  say "installing $1 from Debian's packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  [[ -z ${2:-} ]] || systemctl disable --now "$2" >/dev/null 2>&1 || true
}

# pg_bin NAME: PostgreSQL's program NAME (Debian keeps them off PATH).
pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do [[ -x $dir/$1 ]] && { echo "$dir/$1"; return; }; done
  command -v "$1" 2>/dev/null || die "PostgreSQL's $1 is missing (apt-get install postgresql)"
}

running() { [[ -f $PROCESS_DIR/pids/$1 ]] && kill -0 "$(cat "$PROCESS_DIR/pids/$1")" 2>/dev/null; }

# start NAME COMMAND...: runs COMMAND in the background unless NAME already runs.
start() {
  local name=$1
  shift
  running "$name" && return
  mkdir -p "$PROCESS_DIR/pids" "$PROCESS_DIR/logs"
  setsid "$@" >"$PROCESS_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$PROCESS_DIR/pids/$name"
}

# stop NAME...: SIGTERM to each one's process group, up to 5 s for all to exit, then SIGKILL.
stop() {
  local name pid pids=()
  for name in "$@"; do
    [[ -f $PROCESS_DIR/pids/$name ]] || continue
    pid=$(cat "$PROCESS_DIR/pids/$name")
    kill -- "-$pid" 2>/dev/null && pids+=("$pid")
  done
  for _ in $(seq 1 50); do
    any_alive "${pids[@]}" || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
any_alive() {
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}

# process_lines: one line per process started here, running or stopped (with its log); fails
# when one has stopped.
process_lines() {
  local pid_file name state=0
  for pid_file in "$PROCESS_DIR"/pids/*; do
    [[ -f $pid_file ]] || continue
    name=$(basename "$pid_file")
    if running "$name"; then
      printf '%-34s running (pid %s)\n' "$name" "$(cat "$pid_file")"
    else
      printf '%-34s STOPPED (log: %s)\n' "$name" "$PROCESS_DIR/logs/$name.log"
      state=1
    fi
  done
  return $state
}

# until_ok WHAT SECONDS COMMAND...: polls COMMAND every half second until it succeeds; dies
# naming WHAT after SECONDS.
until_ok() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what: not ready after $limit s (logs in $PROCESS_DIR/logs)"
    sleep 0.5
  done
}
