#!/usr/bin/env bash
# Runs the broker-router on a laptop with one sample MCP server of each kind registered in a file
# registry (Streamable HTTP, legacy SSE, stdio run by the broker, OpenAPI), prints what to try,
# and stops everything on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

BROKER_PORT=${BROKER_PORT:-8001}
EVERYTHING_PORT=${EVERYTHING_PORT:-3001}
SAMPLE_PORT=${SAMPLE_PORT:-3002}
SSE_PORT=${SSE_PORT:-3003}
PETSTORE_PORT=${PETSTORE_PORT:-3004}
dir=.cache/broker-only
mkdir -p "$dir"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap cleanup EXIT INT TERM

PORT=$EVERYTHING_PORT node node_modules/@modelcontextprotocol/server-everything/dist/index.js streamableHttp >"$dir/everything.log" 2>&1 &
pids+=($!)
node dist/test/fixtures/upstream-server-main.js --name sample --port "$SAMPLE_PORT" >"$dir/sample.log" 2>&1 &
pids+=($!)
PORT=$SSE_PORT node node_modules/@modelcontextprotocol/server-everything/dist/index.js sse >"$dir/everything-sse.log" 2>&1 &
pids+=($!)
node node_modules/@stoplight/prism-cli/dist/index.js mock hack/local/petstore3.json -p "$PETSTORE_PORT" -h 127.0.0.1 >"$dir/petstore.log" 2>&1 &
pids+=($!)

cat >"$dir/config.yaml" <<YAML
servers:
- name: mcp-test/everything
  url: http://127.0.0.1:$EVERYTHING_PORT/mcp
  hostname: everything.mcp.local
  toolPrefix: everything_
  enabled: true
- name: mcp-test/sample
  url: http://127.0.0.1:$SAMPLE_PORT/mcp
  hostname: sample.mcp.local
  toolPrefix: sample_
  enabled: true
- name: mcp-test/everything-sse
  transport: sse
  url: http://127.0.0.1:$SSE_PORT/sse
  toolPrefix: sse_
- name: mcp-test/memory
  transport: stdio
  command: "$(command -v node)"
  args: ["$PWD/node_modules/@modelcontextprotocol/server-memory/dist/index.js"]
  env: {MEMORY_FILE_PATH: "$PWD/$dir/memory.jsonl"}
  toolPrefix: memory_
- name: mcp-test/petstore
  transport: openapi
  url: http://127.0.0.1:$PETSTORE_PORT
  openapi: {document: "$PWD/hack/local/petstore3.json"}
  credential: Bearer local-demo
  toolPrefix: petstore_
virtualServers:
- name: mcp-test/echo-only
  tools: [everything_echo, sample_echo]
YAML

node dist/cmd/broker-router/main.js --mcp-gateway-config "$dir/config.yaml" \
  --mcp-broker-public-address "127.0.0.1:$BROKER_PORT" \
  --allowed-hosts "localhost,127.0.0.1,mcp.127-0-0-1.sslip.io" >"$dir/broker.log" 2>&1 &
pids+=($!)

servers=5
for _ in $(seq 1 150); do
  ready=$(curl -s "http://127.0.0.1:$BROKER_PORT/status" | grep -o '"healthyServers":[0-9]*' || true)
  [ "$ready" = "\"healthyServers\":$servers" ] && break
  sleep 0.2
done

cat <<TXT
MCP gateway running: http://127.0.0.1:$BROKER_PORT/mcp  (registry: $dir/config.yaml, logs: $dir/*.log)
Servers: $(curl -s "http://127.0.0.1:$BROKER_PORT/status" | grep -o '"healthyServers":[0-9]*') of $servers ready  (details: curl http://127.0.0.1:$BROKER_PORT/status)
One of each kind: everything_ and sample_ (Streamable HTTP), sse_ (legacy SSE), memory_ (stdio,
run by the broker), petstore_ (OpenAPI: Prism mocking the Petstore).

Try it:
  curl -s -D /tmp/mcp_headers -X POST http://127.0.0.1:$BROKER_PORT/mcp -H "Content-Type: application/json" \\
    -d '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test-client", "version": "1.0.0"}}}'
  SESSION_ID=\$(grep -i "mcp-session-id:" /tmp/mcp_headers | cut -d' ' -f2 | tr -d '\r')
  curl -X POST http://127.0.0.1:$BROKER_PORT/mcp -H "Content-Type: application/json" -H "mcp-session-id: \$SESSION_ID" \\
    -d '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}'
  curl -X POST http://127.0.0.1:$BROKER_PORT/mcp -H "Content-Type: application/json" -H "mcp-session-id: \$SESSION_ID" \\
    -d '{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "sample_add", "arguments": {"a": 2, "b": 3}}}'
  curl -X POST http://127.0.0.1:$BROKER_PORT/mcp -H "Content-Type: application/json" -H "mcp-session-id: \$SESSION_ID" \
    -d '{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "petstore_getPetById", "arguments": {"petId": 1}}}'

Or with the MCP Inspector's CLI:
  npx mcp-inspector --cli http://127.0.0.1:$BROKER_PORT/mcp --transport http --method tools/list

Edit $dir/config.yaml and the gateway applies it within a second. Ctrl-C stops everything.
TXT
wait -n "${pids[@]}"
