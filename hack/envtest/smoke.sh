#!/usr/bin/env bash
# Smoke test of a running envtest control plane (started with start.sh DIR):
# Gateway API CRDs served, Gateway/HTTPRoute/ReferenceGrant accepted,
# ServiceAccount tokens issued and RBAC enforced on them.
#
#   hack/envtest/smoke.sh DIR
set -euo pipefail

log() { printf '[envtest smoke] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
DIR="$(cd "$1" && pwd)"
KUBECTL="${KUBECTL:-kubectl}"
k() { "$KUBECTL" --kubeconfig "$DIR/kubeconfig" "$@"; }
NS="envtest-smoke-$$"
OTHER="$NS-backends"

for crd in gatewayclasses gateways httproutes referencegrants grpcroutes; do
  k get crd "$crd.gateway.networking.k8s.io" -o name >/dev/null || die "CRD $crd missing"
done
log "ok: Gateway API CRDs present"

k create namespace "$NS" >/dev/null
k create namespace "$OTHER" >/dev/null
trap 'k delete namespace "$NS" "$OTHER" --wait=false >/dev/null 2>&1 || true' EXIT

k apply -f - >/dev/null <<EOF
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: $NS
spec:
  controllerName: example.com/envtest-smoke
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: $NS
spec:
  gatewayClassName: $NS
  listeners:
  - name: http
    protocol: HTTP
    port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route
  namespace: $NS
spec:
  parentRefs:
  - name: gw
  rules:
  - matches:
    - path: {type: PathPrefix, value: /mcp}
    backendRefs:
    - name: backend
      namespace: $OTHER
      port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: backend
  namespace: $OTHER
spec:
  ports:
  - port: 8080
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: allow-routes
  namespace: $OTHER
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: $NS
  to:
  - group: ""
    kind: Service
EOF
k get -n "$NS" gateway/gw httproute/route -o name >/dev/null
k get -n "$OTHER" referencegrant/allow-routes -o name >/dev/null
log "ok: GatewayClass, Gateway, HTTPRoute, ReferenceGrant created"

# CRD validation is live (CEL / OpenAPI): an HTTPRoute path must start with /.
if k apply -f - >/dev/null 2>&1 <<EOF; then die "invalid HTTPRoute was accepted"; fi
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: $NS}
spec:
  rules:
  - matches:
    - path: {type: PathPrefix, value: "no-leading-slash"}
EOF
log "ok: invalid HTTPRoute rejected by CRD validation"

k create serviceaccount x -n "$NS" >/dev/null
TOKEN="$(k create token x -n "$NS")"
[ -n "$TOKEN" ] || die "kubectl create token returned nothing"
server="$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')"
as_sa() { "$KUBECTL" --kubeconfig /dev/null --server "$server" --certificate-authority "$DIR/pki/ca.crt" --token "$TOKEN" "$@"; }

who="$(as_sa auth whoami -o jsonpath='{.status.userInfo.username}')"
[ "$who" = "system:serviceaccount:$NS:x" ] || die "token authenticated as '$who'"
log "ok: ServiceAccount token authenticates as $who"

if out="$(as_sa get gateways -n "$NS" 2>&1)"; then die "RBAC not enforced: $out"; fi
echo "$out" | grep -q Forbidden || die "expected Forbidden (403), got: $out"
log "ok: 403 Forbidden without RBAC grant: $out"

k create role gw-reader -n "$NS" --verb get,list --resource gateways.gateway.networking.k8s.io >/dev/null
k create rolebinding gw-reader -n "$NS" --role gw-reader --serviceaccount "$NS:x" >/dev/null
for _ in $(seq 50); do as_sa get gateways -n "$NS" -o name >/dev/null 2>&1 && break; sleep 0.1; done
as_sa get gateways -n "$NS" -o name >/dev/null || die "still forbidden after RoleBinding"
log "ok: allowed after RoleBinding"

k delete gatewayclass "$NS" >/dev/null
log "PASS"
