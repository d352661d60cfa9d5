// 2025 client, 2026-07-28 upstream: an upstream without sessions asks for input with an
// InputRequiredResult, which a session-era client cannot read; the gateway sends each input request
// to the client as the ordinary server-to-client request (elicitation, sampling, roots) on the
// call's stream, retries with the answers and the upstream's requestState, and the client sees one
// normal result. Real peers: an SDK v2 upstream (`createMcpHandler`) and SDK v1 clients (and one
// SDK v2 client in legacy mode).
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  McpError,
  type ClientCapabilities,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
} from "@modelcontextprotocol/sdk/types.js";
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHTTPClientTransportV2 } from "@modelcontextprotocol/client";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { openRawSession, postMcp, streamingPost } from "../helpers/http.js";
import { sleep } from "../helpers/poll.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";
import { textOf } from "../helpers/mcp-client.js";
import { startModernUpstream, type ModernUpstream } from "./modern-upstream.js";

type Handler<Req, Res> = (request: Req, signal: AbortSignal) => Res | Promise<Res>;

interface Answers {
  elicit?: Handler<ElicitRequest, ElicitResult>;
  sample?: Handler<CreateMessageRequest, CreateMessageResult>;
}

interface BridgedClient {
  client: Client;
  /** The requests it was sent, in order: method and params. */
  asked: Array<{ method: string; params?: Record<string, unknown> }>;
  close(): Promise<void>;
}

const EVERYTHING: ClientCapabilities = { elicitation: {}, sampling: {}, roots: {} };

/** An SDK v1 client declaring `capabilities`, answering what it declared (handlers for the others are not allowed). */
async function connectV1(url: string, capabilities: ClientCapabilities = EVERYTHING, answers: Answers = {}): Promise<BridgedClient> {
  const client = new Client({ name: "session-era", version: "1.0.0" }, { capabilities });
  const asked: BridgedClient["asked"] = [];
  if (capabilities.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, (request, extra) => {
      asked.push(request);
      return answers.elicit ? answers.elicit(request, extra.signal) : { action: "accept", content: { name: "Ada" } };
    });
  }
  if (capabilities.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) => {
      asked.push(request);
      if (answers.sample) return answers.sample(request, extra.signal);
      const prompt = request.params.messages[0]?.content;
      return { role: "assistant", model: "test-model", content: { type: "text", text: `sampled ${prompt && "text" in prompt ? prompt.text : ""}` } };
    });
  }
  if (capabilities.roots) {
    client.setRequestHandler(ListRootsRequestSchema, (request) => {
      asked.push(request);
      return { roots: [{ uri: "file:///workspace", name: "workspace" }, { uri: "file:///home", name: "home" }] };
    });
  }
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return {
    client,
    asked,
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

async function withClient<T>(url: string, capabilities: ClientCapabilities, answers: Answers, use: (client: BridgedClient) => Promise<T>): Promise<T> {
  const connected = await connectV1(url, capabilities, answers);
  try {
    return await use(connected);
  } finally {
    await connected.close();
  }
}

/** The tools/call requests the upstream got, in order, with their params. */
function calls(upstream: ModernUpstream): Array<{ inputResponses?: unknown; requestState?: unknown }> {
  return upstream.seen.filter((seen) => seen.body.method === "tools/call").map((seen) => seen.body.params as { inputResponses?: unknown; requestState?: unknown });
}

async function mcpError(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

/**
 * An upstream of the per-request era whose InputRequiredResults are not MCP (the SDK would never
 * build them): plain node:http answering server/discover, tools/list and tools/call as JSON.
 */
async function startBrokenUpstream(): Promise<{ url: string; calls: () => number; stop: () => Promise<void> }> {
  const broken: Record<string, Record<string, unknown>> = {
    "wrong-kind": { resultType: "input_required", inputRequests: { x: { method: "tools/list" } } },
    empty: { resultType: "input_required" },
  };
  let calls = 0;
  const http = createServer((req, res) => {
    void (async () => {
      let text = "";
      for await (const chunk of req) text += String(chunk);
      const message = (text ? JSON.parse(text) : {}) as { id?: number; method?: string; params?: { name?: string } };
      const answer = (status: number, body: Record<string, unknown>) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, ...body }));
      if (message.method === "server/discover") return answer(200, { result: { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, _meta: { "io.modelcontextprotocol/serverInfo": { name: "broken", version: "1" } } } });
      if (message.method === "tools/list") return answer(200, { result: { resultType: "complete", tools: Object.keys(broken).map((name) => ({ name, inputSchema: { type: "object" } })) } });
      if (message.method === "tools/call") {
        calls++;
        return answer(200, { result: broken[String(message.params?.name)] ?? {} });
      }
      answer(400, { error: { code: -32601, message: "only the 2026-07-28 era is served" } });
    })();
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    calls: () => calls,
    stop: () => new Promise((resolve) => http.close(() => resolve())),
  };
}

describe("2025 client, 2026-07-28 upstream: input requests reach the client as requests of its era", function () {
  this.timeout(60_000);
  let modern: ModernUpstream;
  let liar: ModernUpstream;
  let broken: Awaited<ReturnType<typeof startBrokenUpstream>>;
  let gateway: GatewayProcess;

  before(async () => {
    modern = await startModernUpstream("modern");
    // Told the caller declared everything, it asks for input whatever the caller can give: the gateway's own gate must hold.
    liar = await startModernUpstream("liar", { claimCapabilities: { elicitation: { form: {}, url: {} }, sampling: { tools: {} }, roots: {} } });
    broken = await startBrokenUpstream();
    gateway = await startGateway(
      registryYaml([
        { name: "test/modern", url: modern.url, prefix: "m_" },
        { name: "test/liar", url: liar.url, prefix: "x_" },
        { name: "test/broken", url: broken.url, prefix: "b_" },
      ]),
    );
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 3, 20_000, "all servers ready");
  });

  beforeEach(() => {
    modern.seen.length = 0;
    liar.seen.length = 0;
  });

  after(async () => {
    await gateway?.stop();
    await modern?.stop();
    await liar?.stop();
    await broken?.stop();
  });

  describe("the client answers, the upstream completes, the client sees one result", () => {
    it("elicitation: the retry carries the answer under the upstream's key and the upstream's own requestState", async () => {
      await withClient(gateway.mcpUrl, EVERYTHING, {}, async ({ client, asked }) => {
        const result = await client.callTool({ name: "m_greet", arguments: {} });
        expect(result.content).to.deep.equal([{ type: "text", text: "hello Ada" }]);
        expect(result).to.not.have.property("inputRequests");
        expect(asked.map((request) => request.method)).to.deep.equal(["elicitation/create"]);
        expect(asked[0]?.params).to.deep.include({ mode: "form", message: "your name?" });
      });
      const [first, retry, ...more] = calls(modern);
      expect(first).to.not.have.property("inputResponses");
      expect(retry).to.deep.include({ inputResponses: { who: { action: "accept", content: { name: "Ada" } } }, requestState: "modern-state" });
      expect(more).to.deep.equal([]);
    });

    it("sampling: the client's model answers, and the retry has no requestState when the upstream gave none", async () => {
      await withClient(gateway.mcpUrl, EVERYTHING, {}, async ({ client, asked }) => {
        const result = await client.callTool({ name: "m_summarize", arguments: { text: "a long text" } });
        expect(textOf(result)).to.equal("summary: sampled a long text");
        expect(asked.map((request) => request.method)).to.deep.equal(["sampling/createMessage"]);
      });
      const retry = calls(modern)[1];
      expect(retry).to.have.nested.property("inputResponses.summary.model", "test-model");
      expect(retry).to.not.have.property("requestState");
    });

    it("roots: roots/list goes to the client and its roots to the upstream", async () => {
      await withClient(gateway.mcpUrl, EVERYTHING, {}, async ({ client, asked }) => {
        const result = await client.callTool({ name: "m_workspace", arguments: {} });
        expect(textOf(result)).to.equal("roots: file:///workspace, file:///home");
        expect(asked.map((request) => request.method)).to.deep.equal(["roots/list"]);
      });
      expect(calls(modern)).to.have.length(2);
    });

    it("two inputs in one round: both go to the client at once and come back in one retry", async () => {
      let inFlight = 0;
      let most = 0;
      // Each answer waits a little, so two requests of one round are seen in flight together.
      const slowly = async <T>(answer: T): Promise<T> => {
        most = Math.max(most, ++inFlight);
        await sleep(150);
        inFlight--;
        return answer;
      };
      const answers: Answers = {
        elicit: () => slowly({ action: "accept", content: { name: "Grace" } }),
        sample: () => slowly({ role: "assistant", model: "test-model", content: { type: "text", text: "ship it" } }),
      };
      await withClient(gateway.mcpUrl, EVERYTHING, answers, async ({ client, asked }) => {
        const result = await client.callTool({ name: "m_profile", arguments: {} });
        expect(textOf(result)).to.equal("Grace: ship it");
        expect(asked.map((request) => request.method).sort()).to.deep.equal(["elicitation/create", "sampling/createMessage"]);
      });
      expect(most, "requests of one round in flight together").to.equal(2);
      const [, retry, ...more] = calls(modern);
      expect(retry?.inputResponses).to.have.all.keys("who", "motto");
      expect(more).to.deep.equal([]);
    });

    it("several rounds: each round's answer goes in its own retry with that round's state", async () => {
      await withClient(gateway.mcpUrl, EVERYTHING, { elicit: () => ({ action: "accept", content: {} }) }, async ({ client, asked }) => {
        const result = await client.callTool({ name: "m_nag", arguments: { times: 3 } });
        expect(textOf(result)).to.equal("answered 3 rounds");
        expect(asked.map((request) => request.params?.message)).to.deep.equal(["round 1?", "round 2?", "round 3?"]);
      });
      expect(calls(modern).map((call) => call.requestState)).to.deep.equal([undefined, "nag:0", "nag:1", "nag:2"]);
    });

    it("load shedding: a round with only requestState is retried after a pause, with that state and no inputResponses", async () => {
      await withClient(gateway.mcpUrl, EVERYTHING, {}, async ({ client, asked }) => {
        const started = performance.now();
        const result = await client.callTool({ name: "m_shed", arguments: {} });
        expect(textOf(result)).to.equal("served on retry");
        expect(performance.now() - started).to.be.at.least(250);
        expect(asked).to.deep.equal([]);
      });
      const [, retry, ...more] = calls(modern);
      expect(retry).to.include({ requestState: "busy" });
      expect(retry).to.not.have.property("inputResponses");
      expect(more).to.deep.equal([]);
    });

    it("URL-mode elicitation reaches a client that declared it, with the elicitationId its revision requires", async () => {
      await withClient(gateway.mcpUrl, { elicitation: { url: {} } }, { elicit: () => ({ action: "accept" }) }, async ({ client, asked }) => {
        const result = await client.callTool({ name: "m_connect", arguments: {} });
        expect(textOf(result)).to.equal("connected");
        expect(asked[0]?.params).to.include({ mode: "url", url: "https://example.com/connect" });
        expect(asked[0]?.params?.elicitationId).to.be.a("string").and.match(/^[0-9a-f-]{36}$/);
      });
    });

    it("the requests travel on the call's own stream under gateway ids, and the answer to one comes back on that stream", async () => {
      const { sessionId, protocolVersion } = await openRawSession(gateway.mcpUrl, "2025-11-25", {}, { elicitation: {} });
      const headers = { "mcp-session-id": sessionId, "mcp-protocol-version": protocolVersion };
      const call = await streamingPost(gateway.mcpUrl, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "m_greet", arguments: {} } }, headers, new AbortController());
      expect(call.contentType).to.match(/^text\/event-stream/);
      const asked = await call.next((message) => message.method === "elicitation/create");
      expect(asked.id).to.be.a("string").that.matches(/^gw-/);
      const answered = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: asked.id, result: { action: "accept", content: { name: "Lin" } } }, headers);
      expect(answered.status).to.equal(202);
      await call.ended();
      const messages = call.messages();
      expect(messages.map((message) => message.method ?? message.id)).to.deep.equal(["elicitation/create", 7]);
      expect(messages[1]).to.have.nested.property("result.content[0].text", "hello Lin");
    });

    it("an SDK v2 client in legacy mode gets the same", async () => {
      const client = new ClientV2({ name: "v2-legacy", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" }, capabilities: { elicitation: {} } });
      client.setRequestHandler("elicitation/create", () => ({ action: "accept", content: { name: "Ada" } }));
      await client.connect(new StreamableHTTPClientTransportV2(new URL(gateway.mcpUrl)));
      try {
        const result = await client.callTool({ name: "m_greet", arguments: {} });
        expect(result.content).to.deep.equal([{ type: "text", text: "hello Ada" }]);
      } finally {
        await client.close();
      }
      expect(calls(modern)).to.have.length(2);
    });
  });

  describe("what ends a bridged call, and what the upstream then never gets", () => {
    it("an input the client did not declare the capability for: -32021 with requiredCapabilities, nothing asked", async () => {
      const cases: Array<[string, ClientCapabilities, string, Record<string, object>]> = [
        ["no sampling", { elicitation: {} }, "x_summarize", { sampling: {} }],
        ["no roots", { sampling: {} }, "x_workspace", { roots: {} }],
        ["form mode only", { elicitation: {} }, "x_connect", { elicitation: { url: {} } }],
        ["url mode only", { elicitation: { url: {} } }, "x_greet", { elicitation: { form: {} } }],
      ];
      for (const [what, capabilities, name, required] of cases) {
        liar.seen.length = 0;
        await withClient(gateway.mcpUrl, capabilities, {}, async ({ client, asked }) => {
          const error = await mcpError(client.callTool({ name, arguments: { text: "t" } }));
          expect(error.code, what).to.equal(-32021);
          expect(error.message, what).to.match(/upstream test\/liar asked for input '\w+' \(.+\) that needs client capabilities the session did not declare/);
          expect(error.data, what).to.deep.equal({ requiredCapabilities: required });
          expect(asked, what).to.deep.equal([]);
        });
        expect(calls(liar), what).to.have.length(1);
      }
    });

    it("an upstream that checks capabilities itself refuses first; its error reaches the client", async () => {
      await withClient(gateway.mcpUrl, { sampling: {} }, {}, async ({ client, asked }) => {
        const error = await mcpError(client.callTool({ name: "m_greet", arguments: {} }));
        expect(error.code).to.equal(-32021);
        expect(asked).to.deep.equal([]);
      });
    });

    it("the client answers with an error: the call fails with it, no retry goes upstream, the round's other request is withdrawn", async () => {
      let elicitSignal: AbortSignal | undefined;
      const answers: Answers = {
        sample: () => {
          throw new McpError(-1, "User rejected sampling request");
        },
        // Held until the gateway withdraws it.
        elicit: (_request, signal) => {
          elicitSignal = signal;
          return new Promise((resolve) => signal.addEventListener("abort", () => resolve({ action: "cancel" })));
        },
      };
      await withClient(gateway.mcpUrl, EVERYTHING, answers, async ({ client }) => {
        const error = await mcpError(client.callTool({ name: "m_profile", arguments: {} }));
        expect(error.code).to.equal(-32603);
        // The SDK puts "MCP error -1: " in front of the message it sends.
        const sent = "MCP error -1: User rejected sampling request";
        expect(error.message).to.equal(`MCP error -32603: the client answered 'motto' (sampling/createMessage) asked by upstream test/modern with error -1: ${sent}`);
        expect(error.data).to.deep.equal({ inputRequest: "motto", error: { code: -1, message: sent } });
        await eventually(() => elicitSignal?.aborted, 5_000, "the pending elicitation withdrawn");
      });
      expect(calls(modern)).to.have.length(1);
    });

    it("the client cancels the call while answering: no retry goes upstream, and a late answer is dropped", async () => {
      const abort = new AbortController();
      let release: () => void = () => undefined;
      const answers: Answers = {
        elicit: () => {
          abort.abort();
          return new Promise((resolve) => (release = () => resolve({ action: "accept", content: { name: "late" } })));
        },
      };
      await withClient(gateway.mcpUrl, EVERYTHING, answers, async ({ client }) => {
        const outcome = client.callTool({ name: "m_greet", arguments: {} }, undefined, { signal: abort.signal }).then(
          () => "answered",
          () => "cancelled",
        );
        await eventually(() => abort.signal.aborted, 5_000, "the client cancelled");
        expect(await outcome).to.equal("cancelled");
        await sleep(200);
        release();
        await sleep(500);
        // The session still works.
        const echoed = await client.callTool({ name: "m_echo", arguments: { text: "still here" } });
        expect(textOf(echoed)).to.equal("still here");
      });
      expect(calls(modern).filter((call) => call.inputResponses !== undefined)).to.deep.equal([]);
      expect(gateway.output()).to.not.match(/request failed/);
    });

    it("the client goes away while it is asked: no retry goes upstream, an answer posted after that is ignored", async () => {
      const { sessionId, protocolVersion } = await openRawSession(gateway.mcpUrl, "2025-11-25", {}, { elicitation: {} });
      const headers = { "mcp-session-id": sessionId, "mcp-protocol-version": protocolVersion };
      const abort = new AbortController();
      const call = await streamingPost(gateway.mcpUrl, { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "m_greet", arguments: {} } }, headers, abort);
      const asked = await call.next((message) => message.method === "elicitation/create");
      abort.abort();
      await sleep(300);
      const answered = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: asked.id, result: { action: "accept", content: { name: "ghost" } } }, headers);
      expect(answered.status).to.equal(202);
      await sleep(500);
      expect(calls(modern)).to.have.length(1);
      // The id is free again: the call ended.
      const again = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "m_echo", arguments: { text: "again" } } }, headers);
      expect(again.messages.at(-1)).to.have.nested.property("result.content[0].text", "again");
    });

    it("a client that can receive no request (it takes only JSON and has no GET stream open): a clear error, nothing retried", async () => {
      const { sessionId, protocolVersion } = await openRawSession(gateway.mcpUrl, "2025-11-25", {}, { elicitation: {} });
      const headers = { "mcp-session-id": sessionId, "mcp-protocol-version": protocolVersion, accept: "application/json" };
      const { status, messages } = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "m_greet", arguments: {} } }, headers);
      expect(status).to.equal(200);
      expect(messages).to.deep.equal([
        { jsonrpc: "2.0", id: 9, error: { code: -32603, message: "the client has no open stream to receive 'who' (elicitation/create) asked by upstream test/modern" } },
      ]);
      expect(calls(modern)).to.have.length(1);
    });

    it("an InputRequiredResult that is not MCP: -32010 naming what is wrong, nothing asked", async () => {
      const cases: Array<[string, string]> = [
        ["b_wrong-kind", "input request 'x' is not an elicitation/create, sampling/createMessage or roots/list request"],
        ["b_empty", "neither inputRequests nor requestState"],
      ];
      await withClient(gateway.mcpUrl, EVERYTHING, {}, async ({ client, asked }) => {
        for (const [name, reason] of cases) {
          const error = await mcpError(client.callTool({ name, arguments: {} }));
          expect(error.code, name).to.equal(-32010);
          expect(error.message, name).to.equal(`MCP error -32010: upstream test/broken: invalid InputRequiredResult: ${reason}`);
        }
        expect(asked).to.deep.equal([]);
      });
      expect(broken.calls()).to.equal(2);
    });

    it(`an upstream that keeps asking: the call fails after 8 rounds`, async () => {
      await withClient(gateway.mcpUrl, EVERYTHING, { elicit: () => ({ action: "accept", content: {} }) }, async ({ client, asked }) => {
        const error = await mcpError(client.callTool({ name: "m_nag", arguments: { times: 50 } }));
        expect(error.code).to.equal(-32603);
        expect(error.message).to.equal("MCP error -32603: upstream test/modern: tools/call still required input after 8 rounds");
        expect(asked).to.have.length(8);
      });
      expect(calls(modern)).to.have.length(9);
    });
  });

  describe("one request timeout for all rounds", () => {
    let slow: GatewayProcess;

    before(async () => {
      slow = await startGateway(registryYaml([{ name: "test/modern", url: modern.url, prefix: "m_" }]), ["--upstream-timeout-seconds", "1.5"]);
      await eventually(async () => (await fetchStatus(slow.baseUrl)).healthyServers === 1, 20_000, "server ready");
    });

    after(async () => {
      await slow?.stop();
    });

    it("rounds each well within the timeout end the call when together they are not: -32011, the pending request withdrawn, no more retries", async () => {
      const signals: AbortSignal[] = [];
      const answers: Answers = {
        elicit: async (_request, signal) => {
          signals.push(signal);
          await sleep(600);
          return { action: "accept", content: {} };
        },
      };
      await withClient(slow.mcpUrl, EVERYTHING, answers, async ({ client }) => {
        const started = performance.now();
        const error = await mcpError(client.callTool({ name: "m_nag", arguments: { times: 5 } }));
        const took = performance.now() - started;
        expect(error.code).to.equal(-32011);
        expect(error.message).to.equal("MCP error -32011: upstream test/modern: tools/call and the client's input it asked for took longer than the request timeout");
        expect(took).to.be.within(1_400, 2_500);
        expect(signals.at(-1)?.aborted, "the last request withdrawn").to.equal(true);
      });
      const sent = calls(modern).length;
      expect(sent).to.be.within(2, 3);
      await sleep(800);
      expect(calls(modern)).to.have.length(sent);
    });
  });
});
