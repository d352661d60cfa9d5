// The bridge from a session-era (2025) upstream to a 2026-07-28 client: the upstream's requests
// during a call (elicitation, sampling, roots) reach the client as InputRequiredResults, its
// retries answer the upstream, and the call completes. Peers: a real SDK (v1, 2025-only) server
// whose tools ask the client during the call, and the SDK v2 client pinned to 2026-07-28 with
// handlers (it sees one normal result); raw HTTP for every error path.
import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { MODERN_VERSION, modernPost } from "../helpers/per-request.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";
import { startAskingUpstream, type AskingUpstream } from "./asking-upstream.js";

type Result = { resultType?: string; inputRequests?: Record<string, { method: string; params?: Record<string, unknown> }>; requestState?: string; content?: Array<{ text?: string }> };
type Message = { id?: unknown; result?: Result; error?: { code: number; message: string; data?: unknown } };

const ASKS = { elicitation: {}, sampling: {}, roots: {} };
/** How long the gateway holds a call for the client's retry, in seconds (short, for the expiry test). */
const HOLD_SECONDS = 3;

function only(messages: unknown[]): Message {
  return messages.at(-1) as Message;
}

/** A call through the gateway as a 2026-07-28 client that can answer every kind of request. */
async function call(url: string, name: string, extra: Record<string, unknown> = {}, headers: Record<string, string | undefined> = {}): Promise<{ status: number; message: Message }> {
  const { status, messages } = await modernPost(url, "tools/call", { name, arguments: {}, ...extra }, { capabilities: ASKS, id: randomUUID(), headers });
  return { status, message: only(messages) };
}

function asked(message: Message): { keys: string[]; methods: string[]; state: string } {
  expect(message.result?.resultType, JSON.stringify(message)).to.equal("input_required");
  const requests = message.result?.inputRequests ?? {};
  return { keys: Object.keys(requests), methods: Object.values(requests).map((request) => request.method), state: String(message.result?.requestState) };
}

const ACCEPT = { action: "accept", content: { answer: "Ada" } };
const SAMPLED = { role: "assistant", content: { type: "text", text: "hello" }, model: "test-model", stopReason: "endTurn" };

describe("bridge: 2026-07-28 client, session-era upstream (InputRequiredResult for the upstream's requests)", function () {
  this.timeout(60_000);
  let upstream: AskingUpstream;
  let doomed: AskingUpstream;
  let gateway: GatewayProcess;
  let replica: GatewayProcess;

  before(async () => {
    upstream = await startAskingUpstream();
    doomed = await startAskingUpstream();
    const keyFile = join(mkdtempSync(join(tmpdir(), "mcp-gw-key-")), "key");
    writeFileSync(keyFile, randomBytes(32));
    const registry = registryYaml([
      { name: "test/asking", url: upstream.url, prefix: "ask_" },
      { name: "test/doomed", url: doomed.url, prefix: "doomed_" },
    ]);
    const args = ["--session-key-file", keyFile, "--input-required-timeout-seconds", String(HOLD_SECONDS)];
    [gateway, replica] = await Promise.all([startGateway(registry, args), startGateway(registry, args)]);
    for (const each of [gateway, replica]) await eventually(async () => (await fetchStatus(each.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
  });

  after(async () => {
    await gateway?.stop();
    await replica?.stop();
    await upstream?.stop();
    await doomed?.stop();
  });

  it("the SDK v2 client pinned to 2026-07-28 answers elicitation, sampling and roots with its handlers and sees one normal result", async () => {
    const client = new Client({ name: "bridge-test", version: "1.0.0" }, { capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} }, versionNegotiation: { mode: { pin: MODERN_VERSION } } });
    const seen: string[] = [];
    client.setRequestHandler("elicitation/create", (request) => {
      seen.push(request.method);
      return { action: "accept", content: { answer: "Grace" } };
    });
    client.setRequestHandler("sampling/createMessage", (request) => {
      seen.push(request.method);
      return { role: "assistant", content: { type: "text", text: "hi Grace" }, model: "test-model", stopReason: "endTurn" };
    });
    client.setRequestHandler("roots/list", (request) => {
      seen.push(request.method);
      return { roots: [{ uri: "file:///work", name: "work" }] };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.mcpUrl)));
    try {
      expect(client.getNegotiatedProtocolVersion()).to.equal(MODERN_VERSION);
      const interview = await client.callTool({ name: "ask_interview", arguments: {} });
      expect(interview.content).to.deep.equal([{ type: "text", text: "Grace / hi Grace" }]);
      const both = await client.callTool({ name: "ask_both", arguments: {} });
      expect(both.content).to.deep.equal([{ type: "text", text: "Grace + hi Grace" }]);
      const roots = await client.callTool({ name: "ask_roots", arguments: {} });
      expect(roots.content).to.deep.equal([{ type: "text", text: "file:///work" }]);
      expect(seen).to.have.members(["elicitation/create", "sampling/createMessage", "elicitation/create", "sampling/createMessage", "roots/list"]);
    } finally {
      await client.close();
    }
  });

  it("raw: one round per upstream request, the retry answers under the upstream's id, the result is complete; the last state cannot be replayed", async () => {
    const first = await call(gateway.mcpUrl, "ask_interview");
    expect(first.status).to.equal(200);
    const round1 = asked(first.message);
    expect(round1.methods).to.deep.equal(["elicitation/create"]);
    expect(round1.state).to.match(/^gwp1\./);
    const second = await call(gateway.mcpUrl, "ask_interview", { inputResponses: { [round1.keys[0] ?? ""]: ACCEPT }, requestState: round1.state });
    const round2 = asked(second.message);
    expect(round2.methods).to.deep.equal(["sampling/createMessage"]);
    // The first round's state was answered: presenting it again is a replay.
    const replayed = await call(gateway.mcpUrl, "ask_interview", { inputResponses: { [round1.keys[0] ?? ""]: ACCEPT }, requestState: round1.state });
    expect(replayed.message.error?.code).to.equal(-32602);
    expect(replayed.message.error?.message).to.contain("already answered");
    const done = await call(gateway.mcpUrl, "ask_interview", { inputResponses: { [round2.keys[0] ?? ""]: SAMPLED }, requestState: round2.state });
    expect(done.message.result?.resultType).to.equal("complete");
    expect(done.message.result?.content).to.deep.equal([{ type: "text", text: "Ada / hello" }]);
    const after = await call(gateway.mcpUrl, "ask_interview", { inputResponses: { [round2.keys[0] ?? ""]: SAMPLED }, requestState: round2.state });
    expect(after.message.error?.code).to.equal(-32602);
    expect(after.message.error?.message).to.contain("no longer held");
  });

  it("raw: requests the upstream sends together come in one InputRequiredResult; a retry missing an answer is asked it again", async () => {
    const both = asked((await call(gateway.mcpUrl, "ask_both")).message);
    expect(both.methods).to.have.members(["elicitation/create", "sampling/createMessage"]);
    const elicitKey = both.keys[both.methods.indexOf("elicitation/create")] ?? "";
    const sampleKey = both.keys[both.methods.indexOf("sampling/createMessage")] ?? "";
    const again = asked((await call(gateway.mcpUrl, "ask_both", { inputResponses: { [elicitKey]: ACCEPT }, requestState: both.state })).message);
    expect(again.keys).to.deep.equal([sampleKey]);
    const done = await call(gateway.mcpUrl, "ask_both", { inputResponses: { [sampleKey]: SAMPLED }, requestState: again.state });
    expect(done.message.result?.content).to.deep.equal([{ type: "text", text: "Ada + hello" }]);
  });

  it("raw: a capability the request did not declare is still -32021 with requiredCapabilities (HTTP 400)", async () => {
    const { status, messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "ask_interview", arguments: {} }, { capabilities: { sampling: {} } });
    expect(status).to.equal(400);
    expect(only(messages).error).to.deep.include({ code: -32021, data: { requiredCapabilities: { elicitation: {} } } });
  });

  it("raw: a URL-mode elicitation to a request that declared form mode only is -32021 naming elicitation.url; the upstream is answered at once", async () => {
    upstream.events.length = 0;
    const { status, messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "ask_visit", arguments: {} }, { capabilities: { elicitation: {} } });
    expect(status).to.equal(400);
    expect(only(messages).error).to.deep.include({ code: -32021, data: { requiredCapabilities: { elicitation: { url: {} } } } });
    expect(upstream.events).to.have.length(1);
    expect(upstream.events[0]).to.match(/^visit answered with an error: .*did not declare this capability/);
    upstream.events.length = 0;
  });

  describe("a retry's state or answers that cannot be used: -32602, the held call unharmed", () => {
    let key: string;
    let state: string;

    before(async () => {
      ({ keys: [key = ""], state } = asked((await call(gateway.mcpUrl, "ask_interview")).message));
    });

    const refusedWith = async (fragment: string, extra: Record<string, unknown>, name = "ask_interview", headers: Record<string, string> = {}) => {
      const { status, message } = await call(gateway.mcpUrl, name, { inputResponses: { [key]: ACCEPT }, requestState: state, ...extra }, headers);
      expect(status).to.equal(200);
      expect(message.error?.code, JSON.stringify(message)).to.equal(-32602);
      expect(message.error?.message).to.contain(fragment);
    };

    it("altered", async () => {
      const [body = "", signature = ""] = state.slice("gwp1.".length).split(".");
      const fields = JSON.parse(Buffer.from(body, "base64url").toString()) as unknown[];
      fields[5] = "another-handle";
      await refusedWith("altered", { requestState: `gwp1.${Buffer.from(JSON.stringify(fields)).toString("base64url")}.${signature}` });
    });

    it("not the gateway's", async () => {
      await refusedWith("not issued by this gateway", { requestState: "gwp1.e30.AAAA" });
    });

    it("another caller's", async () => {
      await refusedWith("another caller", {}, "ask_interview", { authorization: "Bearer someone-else" });
    });

    it("another request's", async () => {
      await refusedWith("another request", {}, "ask_both");
    });

    it("answers that are not objects", async () => {
      await refusedWith("inputResponses must be an object", { inputResponses: ["no"] });
      await refusedWith(`inputResponses.${key} must be an object`, { inputResponses: { [key]: "yes" } });
    });

    it("held by another replica (no Redis): says what the bridge needs", async () => {
      const { message } = await call(replica.mcpUrl, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: state });
      expect(message.error?.code).to.equal(-32602);
      expect(message.error?.message).to.contain("another gateway replica").and.contain("single replica or session affinity");
    });

    it("and after all that the right retry still completes the call", async () => {
      const round2 = asked((await call(gateway.mcpUrl, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: state })).message);
      const done = await call(gateway.mcpUrl, "ask_interview", { inputResponses: { [round2.keys[0] ?? ""]: SAMPLED }, requestState: round2.state });
      expect(done.message.result?.content).to.deep.equal([{ type: "text", text: "Ada / hello" }]);
    });
  });

  it("a client that never retries: after the hold time its upstream request is answered with an error and the call cancelled; a late retry is refused", async () => {
    const { keys, state } = asked((await call(gateway.mcpUrl, "ask_patient")).message);
    await eventually(async () => upstream.events.length >= 2, 10_000, "the upstream heard of the abandoned call");
    // Its request answered first, then the call cancelled.
    expect(upstream.events).to.deep.equal([`request answered with an error: MCP error -32603: the client did not answer within ${HOLD_SECONDS} s`, "call cancelled"]);
    const late = await call(gateway.mcpUrl, "ask_patient", { inputResponses: { [keys[0] ?? ""]: ACCEPT }, requestState: state });
    expect(late.message.error?.code).to.equal(-32602);
    expect(late.message.error?.message).to.match(/has expired|no longer held/);
  });

  it("an upstream that goes away while the call is held: the retry gets the upstream error", async () => {
    const { keys, state } = asked((await call(gateway.mcpUrl, "doomed_interview")).message);
    await doomed.stop();
    const retry = await call(gateway.mcpUrl, "doomed_interview", { inputResponses: { [keys[0] ?? ""]: ACCEPT }, requestState: state });
    expect(retry.message.error?.code, JSON.stringify(retry.message)).to.equal(-32010);
    expect(retry.message.error?.message).to.contain("upstream test/doomed");
  });
});
