#!/usr/bin/env bash
# Stop the control plane started by `hack/envtest/start.sh DIR`: kills exactly
# the pids recorded in DIR/pids (kube-apiserver first, then etcd), SIGTERM,
# then SIGKILL after ENVTEST_STOP_GRACE seconds (default 10). DIR itself is
# kept (logs); start.sh wipes it on the next start. Safe to run twice.
set -euo pipefail

log() { printf '[envtest stop] %s\n' "$*" >&2; }

[ $# -eq 1 ] || { log "usage: $0 DIR"; exit 1; }
DIR="$1"
GRACE="${ENVTEST_STOP_GRACE:-10}"
if [ ! -f "$DIR/pids" ]; then
  log "nothing to stop ($DIR/pids not found)"
  exit 0
fi

# True if pid is alive and still the process we started (guards against pid
# reuse after a reboot or a crash).
ours() { # name pid
  kill -0 "$2" 2>/dev/null || return 1
  [ -r "/proc/$2/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$2/cmdline" | grep -q -- "$1"
}

# Reverse order of start: kube-apiserver before etcd.
tac "$DIR/pids" | while read -r name pid; do
  [ -n "${pid:-}" ] || continue
  if ! ours "$name" "$pid"; then
    log "$name (pid $pid): not running"
    continue
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((GRACE * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid): still running after ${GRACE}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "$name (pid $pid): stopped"
done
rm -f "$DIR/pids"
