#!/usr/bin/env bash
# The gateway in a kind cluster, for people with Docker: builds the image, creates the cluster,
# installs the Gateway API CRDs, the gateway (manifests/overlays/kind) and the examples.
#   hack/kind.sh            create and install
#   hack/kind.sh delete     remove the cluster
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=${CLUSTER:-mcp-gateway}
GATEWAY_API_VERSION=${GATEWAY_API_VERSION:-v1.3.0}
IMAGE=ghcr.io/mcp-gateway/mcp-gateway:dev

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "hack/kind.sh needs $tool" >&2; exit 1; }
done

if [ "${1:-}" = delete ]; then
  kind delete cluster --name "$CLUSTER"
  exit 0
fi

docker build -t "$IMAGE" .
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER"
kind load docker-image "$IMAGE" --name "$CLUSTER"
kubectl apply --server-side -f "https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API_VERSION/standard-install.yaml"
kubectl apply --server-side -k manifests/overlays/kind
kubectl -n mcp-system rollout status deployment/mcp-gateway-controller deployment/mcp-gateway-broker-router --timeout=180s
kubectl apply -k manifests/examples
cat <<TXT
Installed. Without a Gateway implementation in kind, reach the broker directly:
  kubectl -n mcp-system port-forward service/mcp-gateway-broker-router 8001:8080
Then register servers as in docs/getting-started.md (step 2 onwards), with curl on http://localhost:8001/mcp.
TXT
