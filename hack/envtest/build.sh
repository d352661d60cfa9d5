#!/usr/bin/env bash
# Build (or re-use) everything the envtest harness needs:
#   - etcd            from Debian's etcd-server package (apt), if not on PATH
#   - kube-apiserver  compiled from k8s.io/kubernetes (version pinned in go.mod)
#                     into .cache/envtest/bin/
#   - Gateway API CRD manifests copied from the Go module cache into
#     .cache/envtest/crds/gateway-api/{standard,experimental}/
# Idempotent: whatever is already present and up to date is skipped, so a
# second run takes about a second. See hack/envtest/README.md.
#
# Environment:
#   ENVTEST_CACHE  cache directory (default: <repo>/.cache/envtest)
#   ENVTEST_NICE   nice level for the Go build (default: 19)
#   ETCD           etcd binary to use instead of the one on PATH
#   ENVTEST_REBUILD=1  rebuild kube-apiserver and re-copy the CRDs
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ENVTEST_CACHE:-$ROOT/.cache/envtest}"
NICE="${ENVTEST_NICE:-19}"

log() { printf '[envtest build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Versions come from go.mod, so there is a single place to bump them.
modver() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$HERE/go.mod"; }
K8S_VERSION="$(modver k8s.io/kubernetes)"
GWAPI_VERSION="$(modver sigs.k8s.io/gateway-api)"
[ -n "$K8S_VERSION" ] || die "cannot read k8s.io/kubernetes version from $HERE/go.mod"
[ -n "$GWAPI_VERSION" ] || die "cannot read sigs.k8s.io/gateway-api version from $HERE/go.mod"

mkdir -p "$CACHE/bin" "$CACHE/crds"

# ---------------------------------------------------------------- etcd ------
ensure_etcd() {
  local etcd="${ETCD:-}"
  if [ -z "$etcd" ]; then etcd="$(command -v etcd || true)"; fi
  # etcdctl too: tests change objects behind the API server's back while it is down (restart-apiserver.sh).
  if [ -n "$etcd" ] && [ -x "$etcd" ] && command -v etcdctl >/dev/null; then
    log "etcd: present ($etcd, $("$etcd" --version 2>/dev/null | head -n1))"
    return
  fi
  command -v apt-get >/dev/null || die "etcd or etcdctl not found and apt-get unavailable: install etcd >= 3.4 with etcdctl, or set ETCD=/path/to/etcd"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "etcd not found; run as root or install etcd-server yourself"
    sudo="sudo"
  fi
  log "etcd: installing etcd-server etcd-client with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y --no-install-recommends etcd-server etcd-client >/dev/null; then
    log "etcd: apt-get install failed, running apt-get update and retrying"
    $sudo apt-get update >/dev/null
    $sudo apt-get install -y --no-install-recommends etcd-server etcd-client >/dev/null
  fi
  command -v etcd >/dev/null && command -v etcdctl >/dev/null || die "etcd or etcdctl still not on PATH after apt-get install"
  log "etcd: installed ($(etcd --version | head -n1))"
}

# ------------------------------------------------------ kube-apiserver ------
# Go settings: the default GOMODCACHE/GOCACHE (`go env GOMODCACHE GOCACHE`)
# are used, so the module download and compile caches are shared with every
# other Go build on the machine.
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

# The stamp ties the binary to go.mod/go.sum, the link flags and the Go toolchain.
build_stamp() {
  { cat "$HERE/go.mod" "$HERE/go.sum"; ldflags; go env GOVERSION; } | sha256sum | cut -d' ' -f1
}

# -s -w strips symbols/DWARF. The -X flags stamp the version the way
# upstream's hack/lib/version.sh does; without them the binary reports
# v0.0.0-master (GET /version, `kube-apiserver --version`).
ldflags() {
  local major minor pkg flags="-s -w"
  major="$(echo "$K8S_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
  minor="$(echo "$K8S_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}

build_apiserver() {
  command -v go >/dev/null || die "go not found on PATH (Go >= 1.24 needed)"
  local bin="$CACHE/bin/kube-apiserver" stamp="$CACHE/bin/kube-apiserver.stamp" want
  want="$(build_stamp)"
  if [ "${ENVTEST_REBUILD:-0}" != 1 ] && [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "kube-apiserver: up to date ($bin, $K8S_VERSION)"
    return
  fi
  log "kube-apiserver: building $K8S_VERSION with $(go env GOVERSION) (nice $NICE; 7-10 min on 2 cores with a cold GOCACHE)"
  log "kube-apiserver: GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"
  local start=$SECONDS
  (
    cd "$HERE"
    log "kube-apiserver: downloading modules"
    go mod download k8s.io/kubernetes sigs.k8s.io/gateway-api
    log "kube-apiserver: compiling (go build -trimpath -ldflags='-s -w -X ...version=$K8S_VERSION')"
    # A progress line every minute: a cold build prints nothing for minutes.
    (while sleep 60; do log "kube-apiserver: still compiling ($((SECONDS - start))s)"; done) &
    ticker=$!
    trap 'kill "$ticker" 2>/dev/null || true' EXIT
    nice -n "$NICE" go build -trimpath -ldflags="$(ldflags)" -o "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  )
  mv -f "$bin.tmp" "$bin"
  build_stamp >"$stamp" # after the build: -mod=mod may have completed go.sum
  log "kube-apiserver: built in $((SECONDS - start))s -> $bin ($("$bin" --version))"
}

# ------------------------------------------------------- Gateway API CRDs ---
copy_crds() {
  local dest="$CACHE/crds/gateway-api" stamp="$CACHE/crds/gateway-api/VERSION"
  if [ "${ENVTEST_REBUILD:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$GWAPI_VERSION" ]; then
    log "gateway-api CRDs: up to date ($dest, $GWAPI_VERSION)"
    return
  fi
  command -v go >/dev/null || die "go not found on PATH"
  local src
  src="$(cd "$HERE" && go mod download -json "sigs.k8s.io/gateway-api@$GWAPI_VERSION" |
    awk -F'"' '$2 == "Dir" { print $4 }')"
  [ -d "$src/config/crd/standard" ] || die "gateway-api $GWAPI_VERSION: no config/crd/standard in module cache ($src)"
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp/standard" "$dest.tmp/experimental"
  cp "$src"/config/crd/standard/gateway.networking*.yaml "$dest.tmp/standard/"
  cp "$src"/config/crd/experimental/gateway.networking*.yaml "$dest.tmp/experimental/"
  chmod -R u+w "$dest.tmp" # module cache files are read-only
  printf '%s\n' "$GWAPI_VERSION" >"$dest.tmp/VERSION"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  log "gateway-api CRDs: copied $GWAPI_VERSION ($(find "$dest/standard" -name "*.yaml" | wc -l) standard, $(find "$dest/experimental" -name "*.yaml" | wc -l) experimental) -> $dest"
}

t0=$SECONDS
ensure_etcd
build_apiserver
copy_crds
log "done in $((SECONDS - t0))s: kube-apiserver $K8S_VERSION, gateway-api $GWAPI_VERSION, cache $CACHE"
