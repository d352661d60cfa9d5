#!/usr/bin/env bash
# Start a throw-away Kubernetes control plane (etcd + kube-apiserver) on
# 127.0.0.1 and install the Gateway API CRDs into it.
#
#   hack/envtest/start.sh DIR [CRD_FILE_OR_DIR ...]
#
# DIR receives all state (wiped on every start): etcd data, certificates,
# keys, logs, and
#   DIR/kubeconfig  admin kubeconfig (static token, group system:masters)
#   DIR/env         shell-sourceable: KUBECONFIG, ENVTEST_SERVER, ENVTEST_TOKEN, ...
#   DIR/pids        "name pid" per line, read by stop.sh
# Extra arguments are CRD manifests (files or directories) applied after the
# Gateway API ones and waited for, e.g. the operator's own CRDs.
#
# Environment:
#   ENVTEST_CACHE         cache directory (default: <repo>/.cache/envtest)
#   ENVTEST_GATEWAY_API   CRD channel: standard (default) or experimental
#   ENVTEST_TIMEOUT       seconds to wait for readiness (default: 90)
#   ETCD                  etcd binary (default: etcd on PATH)
#   KUBECTL               kubectl binary (default: kubectl on PATH)
# Anything missing (etcd, kube-apiserver, CRDs) is built first with build.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ENVTEST_CACHE:-$ROOT/.cache/envtest}"
CHANNEL="${ENVTEST_GATEWAY_API:-standard}"
TIMEOUT="${ENVTEST_TIMEOUT:-90}"
KUBECTL="${KUBECTL:-kubectl}"

log() { printf '[envtest start] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ $# -ge 1 ] || die "usage: $0 DIR [CRD_FILE_OR_DIR ...]"
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
shift
EXTRA_CRDS=("$@")
case "$CHANNEL" in standard | experimental) ;; *) die "ENVTEST_GATEWAY_API must be standard or experimental" ;; esac
command -v "$KUBECTL" >/dev/null || die "kubectl not found (set KUBECTL)"
command -v openssl >/dev/null || die "openssl not found"

T0=$SECONDS

# Refuse to clobber a running instance.
if [ -f "$DIR/pids" ]; then
  while read -r name pid; do
    if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
      die "$name (pid $pid) from a previous start is still running: run hack/envtest/stop.sh $DIR first"
    fi
  done <"$DIR/pids"
fi

# --------------------------------------------------------------- binaries --
APISERVER="$CACHE/bin/kube-apiserver"
CRDS="$CACHE/crds/gateway-api/$CHANNEL"
ETCD="${ETCD:-$(command -v etcd || true)}"
if [ ! -x "$APISERVER" ] || [ -z "$ETCD" ] || [ ! -d "$CRDS" ]; then
  log "binaries or CRDs missing: running build.sh"
  "$HERE/build.sh"
  ETCD="${ETCD:-$(command -v etcd || true)}"
fi
[ -x "$APISERVER" ] || die "kube-apiserver missing at $APISERVER"
[ -n "$ETCD" ] || die "etcd not found"

# ------------------------------------------------------------ fresh state --
rm -rf "$DIR/etcd" "$DIR/pki" "$DIR/kubeconfig" "$DIR/env" "$DIR/pids" "$DIR"/*.log
mkdir -p "$DIR/etcd" "$DIR/pki"
chmod 700 "$DIR/etcd" "$DIR/pki"
: >"$DIR/pids"

# Three distinct free loopback ports. Binding port 0 asks the kernel; the
# ports are released before etcd/kube-apiserver bind them, which is racy only
# against another process grabbing the very same ephemeral port.
free_ports() {
  if command -v python3 >/dev/null; then
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  else
    local ports=() p
    while [ "${#ports[@]}" -lt "$1" ]; do
      p=$((20000 + RANDOM % 30000))
      case " ${ports[*]} " in *" $p "*) continue ;; esac
      ss -Htln "sport = :$p" | grep -q . || ports+=("$p")
    done
    echo "${ports[*]}"
  fi
}
read -r ETCD_PORT ETCD_PEER_PORT API_PORT <<<"$(free_ports 3)"

# ------------------------------------------------------------ credentials --
PKI="$DIR/pki"
{
  # CA, and a serving certificate signed by it for 127.0.0.1/localhost and
  # the in-cluster names.
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=envtest-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
  openssl req -newkey rsa:2048 -nodes -sha256 \
    -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr" -subj "/CN=kube-apiserver"
  cat >"$PKI/apiserver.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
  openssl x509 -req -sha256 -days 3650 -in "$PKI/apiserver.csr" \
    -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -extfile "$PKI/apiserver.ext" -out "$PKI/apiserver.crt"
  # Service-account token signing key pair (TokenRequest / kubectl create token).
  openssl genrsa -out "$PKI/sa.key" 2048
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
} >"$DIR/openssl.log" 2>&1 || { cat "$DIR/openssl.log" >&2; die "openssl failed"; }

ADMIN_TOKEN="$(openssl rand -hex 32)"
# token,user,uid,"group1,group2"
printf '%s,envtest-admin,envtest-admin,"system:masters"\n' "$ADMIN_TOKEN" >"$PKI/tokens.csv"
chmod 600 "$PKI"/*.key "$PKI/tokens.csv"

SERVER="https://127.0.0.1:$API_PORT"
cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: envtest-admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: envtest
  context:
    cluster: envtest
    user: envtest-admin
    namespace: default
current-context: envtest
EOF
chmod 600 "$DIR/kubeconfig"

# ------------------------------------------------------------------ start --
# setsid: the servers leave the caller's process group, so they outlive this
# script and are stopped only by stop.sh (pids in DIR/pids).
start_bg() { # name logfile cmd...
  local name="$1" logf="$2"
  shift 2
  setsid "$@" </dev/null >"$logf" 2>&1 &
  local pid=$!
  echo "$name $pid" >>"$DIR/pids"
  log "$name: pid $pid, log $logf"
}

fail() { # name logfile message
  log "ERROR: $3; last lines of $2:"
  tail -n 40 "$2" >&2 || true
  "$HERE/stop.sh" "$DIR" >/dev/null 2>&1 || true
  exit 1
}

alive() { kill -0 "$(awk -v n="$1" '$1 == n { print $2 }' "$DIR/pids")" 2>/dev/null; }

start_bg etcd "$DIR/etcd.log" "$ETCD" \
  --name envtest \
  --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "envtest=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state new

deadline=$((SECONDS + TIMEOUT))
until curl -fsS "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; do
  alive etcd || fail etcd "$DIR/etcd.log" "etcd exited"
  [ $SECONDS -lt $deadline ] || fail etcd "$DIR/etcd.log" "etcd not healthy after ${TIMEOUT}s"
  sleep 0.2
done
log "etcd: healthy on 127.0.0.1:$ETCD_PORT"

# Admission: the defaults minus the plugins that rely on controllers from
# kube-controller-manager, which does not run here:
#   ServiceAccount                (pods would wait for a "default" SA/token controller)
#   StorageObjectInUseProtection  (PVC/PV finalizers removed by a controller)
start_bg kube-apiserver "$DIR/kube-apiserver.log" "$APISERVER" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 \
  --advertise-address 127.0.0.1 \
  --secure-port "$API_PORT" \
  --cert-dir "$PKI" \
  --tls-cert-file "$PKI/apiserver.crt" \
  --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --token-auth-file "$PKI/tokens.csv" \
  --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" \
  --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --endpoint-reconciler-type none \
  --disable-admission-plugins ServiceAccount,StorageObjectInUseProtection \
  --allow-privileged=true \
  --profiling=false \
  --v 1

k() { "$KUBECTL" --kubeconfig "$DIR/kubeconfig" "$@"; }

until [ "$(k get --raw /readyz 2>/dev/null)" = ok ]; do
  alive kube-apiserver || fail kube-apiserver "$DIR/kube-apiserver.log" "kube-apiserver exited"
  [ $SECONDS -lt $deadline ] || fail kube-apiserver "$DIR/kube-apiserver.log" "kube-apiserver not ready after ${TIMEOUT}s"
  sleep 0.3
done
log "kube-apiserver: ready at $SERVER ($((SECONDS - T0))s)"

# ------------------------------------------------------------------- CRDs --
apply_crds() { # path...
  local out
  # Server-side apply: the experimental HTTPRoute CRD is too large for the
  # last-applied-configuration annotation of client-side apply.
  out="$(k apply --server-side --force-conflicts -f "$@" -o name)" || return 1
  [ -n "$out" ] || return 0
  # shellcheck disable=SC2086
  k wait --for condition=Established --timeout "$((deadline - SECONDS > 5 ? deadline - SECONDS : 5))s" $out >/dev/null || return 1
  echo "$out"
}
crds="$(apply_crds "$CRDS")" || fail kube-apiserver "$DIR/kube-apiserver.log" "applying Gateway API CRDs failed"
log "gateway-api $(cat "$CACHE/crds/gateway-api/VERSION") ($CHANNEL): established $(echo "$crds" | sed 's|.*/||; s|\.gateway\.networking.*||' | tr '\n' ' ')"
for extra in ${EXTRA_CRDS[@]+"${EXTRA_CRDS[@]}"}; do
  crds="$(apply_crds "$extra")" || fail kube-apiserver "$DIR/kube-apiserver.log" "applying $extra failed"
  log "$extra: established $(echo "$crds" | sed 's|.*/||' | tr '\n' ' ')"
done

cat >"$DIR/env" <<EOF
export KUBECONFIG='$DIR/kubeconfig'
export ENVTEST_SERVER='$SERVER'
export ENVTEST_TOKEN='$ADMIN_TOKEN'
export ENVTEST_CA_FILE='$PKI/ca.crt'
export ENVTEST_ETCD='http://127.0.0.1:$ETCD_PORT'
EOF
log "up in $((SECONDS - T0))s: export KUBECONFIG=$DIR/kubeconfig  (or: source $DIR/env)"
