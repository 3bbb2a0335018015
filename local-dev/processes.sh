# shellcheck shell=bash
# Sourced by control-plane.sh and playground.sh: each background process runs in a process
# group of its own, so that stopping it stops its children too, with its PID in
# $PROCESS_DIR/pids/NAME and its output in $PROCESS_DIR/logs/NAME.log.

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
