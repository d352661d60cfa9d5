// A broker process killed (SIGKILL) in the middle of a call, next to a second broker serving the same registry
// file, with sessions in memory (the default): the caller learns at once that the connection is gone, the
// other broker's sessions never notice, and a broker started again serves new sessions.
import { expect } from "chai";
import { GATEWAY_INFO } from "../../internal/mcp/protocol.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { clientSessions, discoverySessions, GatewaySessions, HEALTHY_PREFIX, HEALTHY_SERVER, startBystanders, textResult, toolCall } from "../helpers/fault-harness.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { JSON_AND_SSE } from "../helpers/http.js";
import { registryYaml, serverReady } from "../helpers/registry.js";

/** The longest a client may wait to learn that its broker died. */
const PROMPT_MS = 1_000;

describe("broker killed mid-call", function () {
  this.timeout(30_000);
  let upstream: UpstreamServer;
  let killed: GatewayProcess;
  let survivor: GatewayProcess;
  let restarted: GatewayProcess | undefined;

  /** A broker serving the same registry file as the first one. */
  async function startBroker(): Promise<GatewayProcess> {
    // The flag given last wins over startGateway's own (empty) file.
    const gateway = await startGateway("", ["--mcp-gateway-config", killed.configPath]);
    await serverReady(gateway.baseUrl, HEALTHY_SERVER);
    return gateway;
  }

  before(async () => {
    upstream = await startUpstreamServer({ name: "ok" });
    killed = await startGateway(registryYaml([{ name: HEALTHY_SERVER, url: upstream.url, prefix: HEALTHY_PREFIX }]));
    await serverReady(killed.baseUrl, HEALTHY_SERVER);
    survivor = await startBroker();
  });

  after(async () => {
    await Promise.all([killed?.stop(), survivor?.stop(), restarted?.stop()]);
    await upstream?.stop();
  });

  it("a call in flight fails at once with a transport error; the other broker's sessions are unaffected", async () => {
    const onSurvivor = new GatewaySessions(survivor.mcpUrl);
    const bystanders = await startBystanders(onSurvivor);
    const onKilled = new GatewaySessions(killed.mcpUrl);
    const sessionId = await onKilled.open();
    const slowCall = (id: string, accept: string, meta?: Record<string, unknown>) =>
      fetch(killed.mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept, "mcp-session-id": sessionId },
        body: JSON.stringify(toolCall(id, `${HEALTHY_PREFIX}slow`, { steps: 100, delayMs: 100 }, meta)),
      });
    // One caller streams (SSE: the answer's headers are out, its end is not), one waits for a JSON answer (no headers yet).
    const streaming = await slowCall("sse", JSON_AND_SSE, { progressToken: "p" });
    expect(streaming.headers.get("content-type")).to.match(/^text\/event-stream/);
    const reader = streaming.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).to.include('"progressToken":"p"');
    const waiting = slowCall("json", "application/json").then(
      (res) => `HTTP ${res.status}`,
      (err: Error) => `failed: ${err.message}`,
    );
    const sdkClient = await onKilled.connect();
    const sdkErrors: string[] = [];
    sdkClient.client.onerror = (err) => sdkErrors.push(err.message);
    void sdkClient.client.callTool({ name: `${HEALTHY_PREFIX}slow`, arguments: { steps: 100, delayMs: 100 } }).catch(() => undefined);
    // Upstream sessions: the 3 bystanders', the raw callers' session's, the SDK client's (once its call arrived).
    await eventually(() => clientSessions(upstream) === 5, 2_000, "five upstream sessions");

    const killedAt = performance.now();
    killed.child.kill("SIGKILL");
    const streamEnd = await (async () => {
      for (;;) if ((await reader.read()).done) return "ended cleanly";
    })().catch((err: Error) => `failed: ${err.message}`);
    expect([streamEnd, await waiting]).to.deep.equal(["failed: terminated", "failed: fetch failed"]);
    // The SDK client hears of it through onerror; its callTool waits for the SDK's own request timeout.
    while (!sdkErrors.some((message) => message.startsWith("SSE stream disconnected")) && performance.now() - killedAt < PROMPT_MS) await new Promise((r) => setTimeout(r, 10));
    expect(performance.now() - killedAt).to.be.lessThan(PROMPT_MS);
    expect(sdkErrors.filter((message) => message.startsWith("SSE stream disconnected"))).to.not.deep.equal([]);
    // New requests to the dead broker are refused; its sessions lived in its memory, so the survivor does not know them.
    const refused = await fetch(killed.mcpUrl, { method: "POST" }).then(
      () => "answered",
      (err: Error) => (err.cause as { code?: string } | undefined)?.code,
    );
    expect(refused).to.equal("ECONNREFUSED");
    const elsewhere = await onSurvivor.post(sessionId, toolCall("moved", `${HEALTHY_PREFIX}echo`, { text: "moved?" }));
    expect([elsewhere.status, elsewhere.messages]).to.deep.equal([404, [{ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }]]);

    await bystanders.expectUnaffected();
    await onSurvivor.endAll();
    // A killed process cannot end its upstream sessions (the raw caller's, the SDK client's and its discovery's):
    // they stay until the upstream expires them. Everything of the survivor's sessions is gone.
    expect(clientSessions(upstream)).to.equal(2);
    expect(discoverySessions(upstream)).to.equal(2);
  });

  it("a broker started again serves new sessions, and ends them", async () => {
    restarted = await startBroker();
    const sessions = new GatewaySessions(restarted.mcpUrl);
    const sessionId = await sessions.open();
    expect((await sessions.post(sessionId, toolCall("back", `${HEALTHY_PREFIX}echo`, { text: "back" }))).messages).to.deep.equal([textResult("back", "back")]);
    expect(clientSessions(upstream)).to.equal(3);
    await sessions.endAll();
    expect(clientSessions(upstream)).to.equal(2);
    await Promise.all([restarted.stop(), survivor.stop()]);
    // Only what the killed broker left behind remains.
    expect(upstream.sessionClients().sort()).to.deep.equal([GATEWAY_INFO.name, "gateway-test", "raw-test"].sort());
  });
});
