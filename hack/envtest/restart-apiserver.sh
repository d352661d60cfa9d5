#!/usr/bin/env bash
# Restart only the kube-apiserver of a control plane started by
# `hack/envtest/start.sh DIR`, for tests of how clients ride out an API server
# outage. etcd keeps running, so every stored object survives; the new
# kube-apiserver gets the exact command line of the old one (same port, certs
# and tokens), so kubeconfigs and tokens stay valid.
#
#   hack/envtest/restart-apiserver.sh DIR [CMD ARG...]
#
# CMD, if given, runs while the kube-apiserver is down, with DIR/env sourced
# (ENVTEST_ETCD, ...): e.g. `etcdctl del` to make an object vanish without any
# watch event, so that clients can only notice it by listing again.
# The new pid replaces the old one in DIR/pids (stop.sh stops it as usual) and
# its output is appended to DIR/kube-apiserver.log. Returns once /readyz is ok.
#
# Environment:
#   ENVTEST_TIMEOUT      seconds to wait for /readyz (default: 90)
#   ENVTEST_STOP_GRACE   seconds between SIGTERM and SIGKILL (default: 10)
#   KUBECTL              kubectl binary (default: kubectl on PATH)
set -euo pipefail

TIMEOUT="${ENVTEST_TIMEOUT:-90}"
GRACE="${ENVTEST_STOP_GRACE:-10}"
KUBECTL="${KUBECTL:-kubectl}"

log() { printf '[envtest restart] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# True while pid is a running kube-apiserver; a zombie's cmdline is empty.
alive() { grep -qa kube-apiserver "/proc/$1/cmdline" 2>/dev/null; }

[ $# -ge 1 ] || die "usage: $0 DIR [CMD ARG...]"
DIR="$(cd "$1" && pwd)"
shift
[ -f "$DIR/pids" ] || die "$DIR/pids not found: is an envtest running in $DIR?"

T0=$SECONDS
old_pid="$(awk '$1 == "kube-apiserver" { print $2 }' "$DIR/pids")"
{ [ -n "$old_pid" ] && alive "$old_pid"; } || die "kube-apiserver from $DIR/pids is not running"

# The running process's own argv is the command line to restart with, so the
# flags cannot drift from what start.sh used.
mapfile -d '' cmd <"/proc/$old_pid/cmdline"

kill -TERM "$old_pid"
for _ in $(seq $((GRACE * 10))); do
  alive "$old_pid" || break
  sleep 0.1
done
if alive "$old_pid"; then
  log "kube-apiserver (pid $old_pid): still running after ${GRACE}s, sending SIGKILL"
  kill -KILL "$old_pid"
  while alive "$old_pid"; do sleep 0.1; done
fi
log "kube-apiserver (pid $old_pid): stopped after $((SECONDS - T0))s"

# A failing CMD still gets the server restarted: the control plane must not be
# left half down for whatever runs next.
cmd_status=0
if [ $# -gt 0 ]; then
  (
    # shellcheck disable=SC1091
    source "$DIR/env"
    "$@"
  ) || cmd_status=$?
fi

# setsid, as in start.sh: the server outlives this script.
setsid "${cmd[@]}" </dev/null >>"$DIR/kube-apiserver.log" 2>&1 &
new_pid=$!
sed -i "s/^kube-apiserver $old_pid\$/kube-apiserver $new_pid/" "$DIR/pids"

deadline=$((SECONDS + TIMEOUT))
until [ "$("$KUBECTL" --kubeconfig "$DIR/kubeconfig" get --raw /readyz 2>/dev/null)" = ok ]; do
  if ! alive "$new_pid"; then
    tail -n 40 "$DIR/kube-apiserver.log" >&2
    die "kube-apiserver (pid $new_pid) exited"
  fi
  [ $SECONDS -lt $deadline ] || die "kube-apiserver (pid $new_pid) not ready after ${TIMEOUT}s"
  sleep 0.3
done
log "kube-apiserver: pid $new_pid ready again after $((SECONDS - T0))s"
[ "$cmd_status" -eq 0 ] || die "command failed (exit $cmd_status) while kube-apiserver was down: $*"
