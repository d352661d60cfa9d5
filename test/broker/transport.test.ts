// The Streamable HTTP transport of /mcp, driven with raw HTTP: every refusal has its status
// and a JSON-RPC error body, and every accepted shape of message gets the right answer.
import { expect } from "chai";
import { startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { initializeRequest, openRawSession, postMcp, SESSION_ID_PATTERN } from "../helpers/http.js";

describe("transport: /mcp over HTTP", () => {
  let gateway: GatewayProcess;
  before(async () => {
    gateway = await startGateway("servers: []\n", ["--max-body-bytes", "2048"]);
  });
  after(() => gateway.stop());

  function errorOf(message: unknown): { code: number; message: string } {
    return (message as { error: { code: number; message: string } }).error;
  }

  describe("initialize", () => {
    it("returns a session id header and echoes a supported protocol version", async () => {
      for (const version of ["2025-03-26", "2025-06-18", "2025-11-25"]) {
        const res = await postMcp(gateway.mcpUrl, initializeRequest("init-1", version));
        expect(res.status).to.equal(200);
        expect(res.headers.get("mcp-session-id")).to.match(SESSION_ID_PATTERN);
        const message = res.messages[0] as { id: unknown; result: { protocolVersion: string; serverInfo: { name: string }; capabilities: Record<string, unknown> } };
        expect(message.id).to.equal("init-1");
        expect(message.result.protocolVersion).to.equal(version);
        expect(message.result.serverInfo.name).to.equal("mcp-gateway");
        expect(message.result.capabilities).to.have.property("tools");
      }
    });

    it("answers an unknown protocol version with its latest", async () => {
      const res = await postMcp(gateway.mcpUrl, initializeRequest(7, "1999-01-01"));
      expect((res.messages[0] as { result: { protocolVersion: string } }).result.protocolVersion).to.equal("2025-11-25");
    });

    it("accepts curl's default Accept header (*/*)", async () => {
      const res = await postMcp(gateway.mcpUrl, initializeRequest(), { accept: "*/*" });
      expect(res.status).to.equal(200);
    });

    it("refuses initialize inside a batch", async () => {
      const res = await postMcp(gateway.mcpUrl, [initializeRequest()]);
      expect(res.status).to.equal(400);
      expect(errorOf(res.messages[0]).code).to.equal(-32600);
    });
  });

  describe("refusals", () => {
    it("415 for a body that is not declared JSON", async () => {
      const res = await postMcp(gateway.mcpUrl, initializeRequest(), { "content-type": "text/plain" });
      expect(res.status).to.equal(415);
      expect(errorOf(res.messages[0]).message).to.match(/Content-Type/);
    });

    it("406 when Accept allows neither JSON nor SSE", async () => {
      const res = await postMcp(gateway.mcpUrl, initializeRequest(), { accept: "text/html" });
      expect(res.status).to.equal(406);
    });

    it("400 parse error (-32700) for malformed JSON", async () => {
      const res = await postMcp(gateway.mcpUrl, '{"jsonrpc": "2.0", "id": 1, "method": ');
      expect(res.status).to.equal(400);
      expect(errorOf(res.messages[0]).code).to.equal(-32700);
    });

    it("400 invalid request (-32600) for JSON that is not JSON-RPC, keeping the id", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const res = await postMcp(gateway.mcpUrl, { jsonrpc: "1.0", id: 42, method: "tools/list" }, { "mcp-session-id": sessionId });
      expect(res.status).to.equal(400);
      expect(res.messages[0]).to.deep.include({ id: 42 });
      expect(errorOf(res.messages[0]).code).to.equal(-32600);
      const empty = await postMcp(gateway.mcpUrl, [], { "mcp-session-id": sessionId });
      expect(empty.status).to.equal(400);
    });

    it("400 without a session id, 404 for an unknown one", async () => {
      const missing = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "tools/list" });
      expect(missing.status).to.equal(400);
      expect(errorOf(missing.messages[0]).message).to.match(/Mcp-Session-Id/);
      const unknown = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": "no-such-session" });
      expect(unknown.status).to.equal(404);
      expect(errorOf(unknown.messages[0]).code).to.equal(-32001);
    });

    it("400 for an unsupported MCP-Protocol-Version header", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "ping" }, { "mcp-session-id": sessionId, "mcp-protocol-version": "2023-01-01" });
      expect(res.status).to.equal(400);
      expect(errorOf(res.messages[0]).message).to.match(/MCP-Protocol-Version/);
    });

    it("413 for a body over the limit", async () => {
      const res = await postMcp(gateway.mcpUrl, { ...initializeRequest(), padding: "x".repeat(4096) });
      expect(res.status).to.equal(413);
    });

    it("405 with Allow for other methods", async () => {
      const res = await fetch(gateway.mcpUrl, { method: "PUT" });
      expect(res.status).to.equal(405);
      expect(res.headers.get("allow")).to.equal("GET, POST, DELETE");
    });

    it("403 for a foreign Host or Origin (DNS rebinding)", async () => {
      const { request } = await import("node:http");
      const status = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const body = JSON.stringify(initializeRequest());
          const req = request(gateway.mcpUrl, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on("error", reject);
          req.end(body);
        });
      expect(await status({ host: "evil.example:8000" })).to.equal(403);
      const port = new URL(gateway.mcpUrl).port;
      expect(await status({ host: `localhost:${port}`, origin: "http://evil.example" })).to.equal(403);
      // Another local app (the Inspector's page on :6274) is another origin: it needs --allowed-origins.
      expect(await status({ host: `localhost:${port}`, origin: `http://localhost:6274` })).to.equal(403);
      expect(await status({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).to.equal(200);
    });
  });

  describe("sessions", () => {
    it("answers string and numeric ids, and 202 for notifications", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      for (const id of ["abc", 0, 99, "0"]) {
        const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id, method: "ping" }, { "mcp-session-id": sessionId });
        expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", id, result: {} }]);
      }
      const notification = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sessionId });
      expect(notification.status).to.equal(202);
      expect(notification.text).to.equal("");
    });

    it("answers an unknown method with -32601 and its id", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "m1", method: "no/such/method" }, { "mcp-session-id": sessionId });
      expect(res.status).to.equal(200);
      expect(res.messages[0]).to.deep.include({ id: "m1" });
      expect(errorOf(res.messages[0]).code).to.equal(-32601);
    });

    it("takes batches from 2025-03-26 clients only", async () => {
      const old = await openRawSession(gateway.mcpUrl, "2025-03-26");
      const batch = [
        { jsonrpc: "2.0", id: 1, method: "ping" },
        { jsonrpc: "2.0", method: "notifications/initialized" },
        { jsonrpc: "2.0", id: "two", method: "tools/list" },
      ];
      const res = await postMcp(gateway.mcpUrl, batch, { "mcp-session-id": old.sessionId });
      expect(res.status).to.equal(200);
      expect(res.messages.map((m) => (m as { id: unknown }).id).sort()).to.deep.equal([1, "two"].sort());
      const current = await openRawSession(gateway.mcpUrl, "2025-06-18");
      const refused = await postMcp(gateway.mcpUrl, batch, { "mcp-session-id": current.sessionId });
      expect(refused.status).to.equal(400);
      expect(errorOf(refused.messages[0]).message).to.match(/batch/);
    });

    it("GET opens an event stream; GET without SSE in Accept is 406", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const controller = new AbortController();
      const res = await fetch(gateway.mcpUrl, { headers: { accept: "text/event-stream", "mcp-session-id": sessionId }, signal: controller.signal });
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^text\/event-stream/);
      controller.abort();
      const refused = await fetch(gateway.mcpUrl, { headers: { accept: "application/json", "mcp-session-id": sessionId } });
      expect(refused.status).to.equal(406);
    });

    it("DELETE ends a session; later requests get 404", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const deleted = await fetch(gateway.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sessionId } });
      expect(deleted.status).to.equal(200);
      const after = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "ping" }, { "mcp-session-id": sessionId });
      expect(after.status).to.equal(404);
      const again = await fetch(gateway.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sessionId } });
      expect(again.status).to.equal(404);
    });

    it("gives concurrent clients distinct session ids", async () => {
      const ids = await Promise.all(Array.from({ length: 25 }, () => openRawSession(gateway.mcpUrl).then((s) => s.sessionId)));
      expect(new Set(ids).size).to.equal(25);
    });
  });

  describe("probes", () => {
    it("serves /healthz, /readyz, /status and /metrics", async () => {
      expect((await fetch(`${gateway.baseUrl}/healthz`)).status).to.equal(200);
      expect((await fetch(`${gateway.baseUrl}/readyz`)).status).to.equal(200);
      const status = (await (await fetch(`${gateway.baseUrl}/status`)).json()) as { totalServers: number; servers: unknown[] };
      expect(status.totalServers).to.equal(0);
      const metrics = await (await fetch(`${gateway.baseUrl}/metrics`)).text();
      expect(metrics).to.include('mcp_gateway_requests_total{method="ping",outcome="ok"}');
      expect(metrics).to.include("mcp_gateway_sessions");
      expect((await fetch(`${gateway.baseUrl}/status/no/such`)).status).to.equal(404);
    });
  });
});
