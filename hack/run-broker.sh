#!/usr/bin/env bash
# Runs the broker-router on a laptop with two sample MCP servers registered in a file registry,
# prints what to try, and stops everything on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

BROKER_PORT=${BROKER_PORT:-8001}
EVERYTHING_PORT=${EVERYTHING_PORT:-3001}
SAMPLE_PORT=${SAMPLE_PORT:-3002}
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
virtualServers:
- name: mcp-test/echo-only
  tools: [everything_echo, sample_echo]
YAML

node dist/cmd/broker-router/main.js --mcp-gateway-config "$dir/config.yaml" \
  --mcp-broker-public-address "127.0.0.1:$BROKER_PORT" \
  --allowed-hosts "localhost,127.0.0.1,mcp.127-0-0-1.sslip.io" >"$dir/broker.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  ready=$(curl -s "http://127.0.0.1:$BROKER_PORT/status" | grep -o '"healthyServers":[0-9]*' || true)
  [ "$ready" = '"healthyServers":2' ] && break
  sleep 0.2
done

cat <<TXT
MCP gateway running: http://127.0.0.1:$BROKER_PORT/mcp  (registry: $dir/config.yaml, logs: $dir/*.log)
Servers: $(curl -s "http://127.0.0.1:$BROKER_PORT/status" | grep -o '"healthyServers":[0-9]*') of 2 ready  (details: curl http://127.0.0.1:$BROKER_PORT/status)

Try it:
  curl -s -D /tmp/mcp_headers -X POST http://127.0.0.1:$BROKER_PORT/mcp -H "Content-Type: application/json" \\
    -d '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test-client", "version": "1.0.0"}}}'
  SESSION_ID=\$(grep -i "mcp-session-id:" /tmp/mcp_headers | cut -d' ' -f2 | tr -d '\r')
  curl -X POST http://127.0.0.1:$BROKER_PORT/mcp -H "Content-Type: application/json" -H "mcp-session-id: \$SESSION_ID" \\
    -d '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}'
  curl -X POST http://127.0.0.1:$BROKER_PORT/mcp -H "Content-Type: application/json" -H "mcp-session-id: \$SESSION_ID" \\
    -d '{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "sample_add", "arguments": {"a": 2, "b": 3}}}'

Or with the MCP Inspector's CLI:
  npx mcp-inspector --cli http://127.0.0.1:$BROKER_PORT/mcp --transport http --method tools/list

Edit $dir/config.yaml and the gateway applies it within a second. Ctrl-C stops everything.
TXT
wait -n "${pids[@]}"
