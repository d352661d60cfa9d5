// Both bridges between the eras on two broker replicas sharing Redis, the call on one replica and
// what answers it on the other: a 2026-07-28 client's retry of a call a session-era upstream holds
// open (the retry hops to the replica holding the call, which checks it as its own), and a 2025
// client's answer to an input request of an upstream without sessions (it reaches the replica
// running the call). Real processes, a real redis-server, the SDK v2 client pinned to 2026-07-28
// through a round-robin proxy, raw HTTP for the rest; the events channel watched to show what hops.
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { Redis } from "ioredis";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { openRawSession, postMcp, streamingPost } from "../helpers/http.js";
import { MODERN_VERSION, modernMeta, modernPost } from "../helpers/per-request.js";
import { sleep } from "../helpers/poll.js";
import { startRedis, type RedisProcess } from "../helpers/redis.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";
import { roundRobin } from "../helpers/round-robin.js";
import { startAskingUpstream, type AskingUpstream } from "./asking-upstream.js";
import { startModernUpstream, type ModernUpstream } from "./modern-upstream.js";

type Result = { resultType?: string; inputRequests?: Record<string, { method: string }>; requestState?: string; content?: Array<{ text?: string }> };
type Message = { method?: string; params?: Record<string, unknown>; result?: Result; error?: { code: number; message: string } };

const ASKS = { elicitation: {}, sampling: {} };
const ACCEPT = { action: "accept", content: { answer: "Ada" } };
const SAMPLED = { role: "assistant", content: { type: "text", text: "hello" }, model: "test-model", stopReason: "endTurn" };

/** A 2026-07-28 tools/call (a retry when `extra` has the state and answers): every message of the answer. */
async function call(gateway: GatewayProcess, name: string, extra: Record<string, unknown> = {}, options: { headers?: Record<string, string>; meta?: Record<string, unknown> } = {}): Promise<Message[]> {
  const { messages } = await modernPost(gateway.mcpUrl, "tools/call", { name, arguments: {}, ...extra }, { capabilities: ASKS, id: randomUUID(), ...options });
  return messages as Message[];
}

/** The InputRequiredResult's only input request key and its state. */
function asked(messages: Message[]): { key: string; state: string } {
  const result = messages.at(-1)?.result;
  expect(result?.resultType, JSON.stringify(messages)).to.equal("input_required");
  return { key: Object.keys(result?.inputRequests ?? {})[0] ?? "", state: String(result?.requestState) };
}

/** The replica a held call's state names (its signed fields, read without the key). */
function replicaOf(state: string): string {
  const [body = ""] = state.slice("gwp1.".length).split(".");
  return (JSON.parse(Buffer.from(body, "base64url").toString()) as unknown[])[4] as string;
}

async function kill(gateway: GatewayProcess): Promise<void> {
  const exited = once(gateway.child, "exit");
  gateway.child.kill("SIGKILL");
  await exited;
}

describe("both bridges on two replicas with Redis: the call on one, its answers on the other", function () {
  this.timeout(90_000);
  let redis: RedisProcess;
  let asking: AskingUpstream;
  let modern: ModernUpstream;
  let registry: string;
  let args: string[];
  let a: GatewayProcess;
  let b: GatewayProcess;
  /** Everything published on the events channel, as the replicas see it. */
  let watcher: Redis;
  const events: Array<{ type: string; replica?: string; outcome?: { kind: string } }> = [];
  const hops = () => events.filter((event) => event.type === "retry");

  const replica = async () => {
    const gateway = await startGateway(registry, args);
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
    return gateway;
  };

  before(async () => {
    redis = await startRedis();
    asking = await startAskingUpstream();
    modern = await startModernUpstream("modern");
    const keyFile = join(mkdtempSync(join(tmpdir(), "mcp-gw-key-")), "key");
    writeFileSync(keyFile, randomBytes(32));
    registry = registryYaml([
      { name: "test/asking", url: asking.url, prefix: "ask_" },
      { name: "test/modern", url: modern.url, prefix: "m_" },
    ]);
    args = ["--session-key-file", keyFile, "--redis-url", redis.url];
    [a, b] = await Promise.all([replica(), replica()]);
    watcher = redis.client.duplicate();
    watcher.on("message", (_channel: string, text: string) => events.push(JSON.parse(text) as (typeof events)[number]));
    await watcher.subscribe("mcp-gw:events");
  });

  beforeEach(() => {
    events.length = 0;
  });

  after(async () => {
    watcher?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await asking?.stop();
    await modern?.stop();
    await redis?.stop();
  });

  describe("2026-07-28 client, session-era upstream: a retry on the other replica reaches the held call", () => {
    it("the SDK v2 client pinned to 2026-07-28, every POST on the other replica: one normal result", async () => {
      const proxy = await roundRobin([a, b]);
      const client = new Client({ name: "hop-test", version: "1.0.0" }, { capabilities: { elicitation: { form: {} }, sampling: {} }, versionNegotiation: { mode: { pin: MODERN_VERSION } } });
      client.setRequestHandler("elicitation/create", () => ({ action: "accept", content: { answer: "Grace" } }));
      client.setRequestHandler("sampling/createMessage", () => ({ role: "assistant", content: { type: "text", text: "hi Grace" }, model: "test-model", stopReason: "endTurn" }));
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url)));
        proxy.routed.length = 0;
        const result = await client.callTool({ name: "ask_interview", arguments: {} });
        expect(result.content).to.deep.equal([{ type: "text", text: "Grace / hi Grace" }]);
      } finally {
        await client.close();
        await proxy.stop();
      }
      const legs = proxy.routed.filter((routed) => routed.method === "tools/call").map((leg) => leg.replica);
      expect(legs).to.have.length(3);
      expect(legs[1], "each leg on the other replica").to.not.equal(legs[0]);
      expect(legs[2], "each leg on the other replica").to.equal(legs[0]);
      // The call is held on the first leg's replica: the second leg hopped there, the third was its own.
      expect(hops()).to.have.length(1);
    });

    it("raw: each retry on the other replica; the holder checks round and replay, the next state still names it", async () => {
      const round1 = asked(await call(a, "ask_interview"));
      const holder = replicaOf(round1.state);
      const round2 = asked(await call(b, "ask_interview", { inputResponses: { [round1.key]: ACCEPT }, requestState: round1.state }));
      expect(replicaOf(round2.state)).to.equal(holder);
      // The first round's state again, on the other replica: the holder says it was answered.
      const replayed = (await call(b, "ask_interview", { inputResponses: { [round1.key]: ACCEPT }, requestState: round1.state })).at(-1);
      expect(replayed?.error?.code).to.equal(-32602);
      expect(replayed?.error?.message).to.contain("already answered");
      const done = (await call(b, "ask_interview", { inputResponses: { [round2.key]: SAMPLED }, requestState: round2.state })).at(-1);
      expect(done?.result?.resultType).to.equal("complete");
      expect(done?.result?.content).to.deep.equal([{ type: "text", text: "Ada / hello" }]);
      expect(hops().map((hop) => hop.replica)).to.deep.equal([holder, holder, holder]);
      const after = (await call(b, "ask_interview", { inputResponses: { [round2.key]: SAMPLED }, requestState: round2.state })).at(-1);
      expect(after?.error?.message).to.contain("no longer held");
    });

    it("progress of the call during a forwarded retry is relayed to the client, before the result", async () => {
      const meta = { progressToken: "p-1" };
      const first = asked(await call(a, "ask_progressive", {}, { meta }));
      const messages = await call(b, "ask_progressive", { inputResponses: { [first.key]: ACCEPT }, requestState: first.state }, { meta });
      expect(messages.map((message) => message.method ?? message.result?.resultType)).to.deep.equal(["notifications/progress", "complete"]);
      expect(messages[0]?.params).to.deep.include({ progressToken: "p-1", progress: 1, message: "almost" });
      expect(messages[1]?.result?.content).to.deep.equal([{ type: "text", text: "done for Ada" }]);
    });

    it("a tampered state and another caller's state are refused by the replica they reach, before any hop", async () => {
      const { key, state } = asked(await call(a, "ask_interview"));
      const [body = "", signature = ""] = state.slice("gwp1.".length).split(".");
      const fields = JSON.parse(Buffer.from(body, "base64url").toString()) as unknown[];
      fields[5] = "another-handle";
      const tampered = (await call(b, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: `gwp1.${Buffer.from(JSON.stringify(fields)).toString("base64url")}.${signature}` })).at(-1);
      expect(tampered?.error?.code).to.equal(-32602);
      expect(tampered?.error?.message).to.contain("altered");
      const foreign = (await call(b, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: state }, { headers: { authorization: "Bearer someone-else" } })).at(-1);
      expect(foreign?.error?.code).to.equal(-32602);
      expect(foreign?.error?.message).to.contain("another caller");
      await sleep(200);
      expect(hops(), "nothing published").to.deep.equal([]);
      // The held call is unharmed: its own caller's retry, on the other replica, goes on.
      expect(asked(await call(b, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: state })).key).to.be.a("string");
    });

    it("the holding replica killed before the retry: a clear error within the Redis timeout, not a hang", async () => {
      const doomed = await replica();
      const { key, state } = asked(await call(doomed, "ask_interview"));
      await kill(doomed);
      const started = performance.now();
      const refused = (await call(b, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: state })).at(-1);
      expect(performance.now() - started).to.be.below(5_000);
      expect(refused?.error?.code).to.equal(-32602);
      expect(refused?.error?.message).to.contain("held by another gateway replica, which did not answer within 2 s");
    });

    /** A call held on a replica of its own, and its retry on `b`, taken by the holder and waiting there; then the holder goes (`end`). */
    const holderGoesDuringRetry = async (end: (holder: GatewayProcess) => Promise<unknown>): Promise<{ took: number; refused?: Message }> => {
      const holder = await replica();
      const { key, state } = asked(await call(holder, "ask_slow"));
      const retry = call(b, "ask_slow", { inputResponses: { [key]: { action: "accept", content: {} } }, requestState: state });
      await eventually(() => events.some((event) => event.type === "retried" && event.outcome?.kind === "accepted"), 5_000, "the holder took the retry");
      const started = performance.now();
      await end(holder);
      const refused = (await retry).at(-1);
      return { took: performance.now() - started, refused };
    };

    it("the holding replica killed while the retry waits there: a clear error within two Redis timeouts", async () => {
      const { took, refused } = await holderGoesDuringRetry(kill);
      expect(took).to.be.below(6_000);
      expect(refused?.error?.code).to.equal(-32602);
      expect(refused?.error?.message).to.contain("did not answer");
    });

    it("the holding replica shut down while the retry waits there: told at once", async () => {
      const { took, refused } = await holderGoesDuringRetry((holder) => holder.stop());
      expect(took).to.be.below(5_000);
      expect(refused?.error?.code).to.equal(-32603);
      expect(refused?.error?.message).to.contain("shutting down");
    });

    it("a holder that keeps the retry longer than the waiting replica's upstream timeout: -32011 there, and the call is cancelled", async () => {
      const impatient = await startGateway(registry, [...args, "--upstream-timeout-seconds", "2"]);
      try {
        await eventually(async () => (await fetchStatus(impatient.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
        asking.events.length = 0;
        const { key, state } = asked(await call(a, "ask_slow"));
        const started = performance.now();
        const refused = (await call(impatient, "ask_slow", { inputResponses: { [key]: { action: "accept", content: {} } }, requestState: state })).at(-1);
        expect(performance.now() - started).to.be.within(1_800, 4_000);
        expect(refused?.error).to.deep.equal({ code: -32011, message: "the gateway replica holding the call did not answer within 2 s" });
        await eventually(() => asking.events.includes("slow call cancelled"), 5_000, "the holder cancelled the call");
      } finally {
        await impatient.stop();
      }
    });

    it("the client of a forwarded retry goes away: the holder cancels the call, as for a local retry", async () => {
      asking.events.length = 0;
      const { key, state } = asked(await call(a, "ask_slow"));
      const abort = new AbortController();
      const retry = streamingPost(
        b.mcpUrl,
        { jsonrpc: "2.0", id: "gone", method: "tools/call", params: { name: "ask_slow", arguments: {}, inputResponses: { [key]: { action: "accept", content: {} } }, requestState: state, _meta: modernMeta(ASKS) } },
        { "mcp-protocol-version": MODERN_VERSION, "mcp-method": "tools/call", "mcp-name": "ask_slow" },
        abort,
      ).catch(() => undefined);
      await eventually(() => events.some((event) => event.type === "retried" && event.outcome?.kind === "accepted"), 5_000, "the holder took the retry");
      abort.abort();
      await retry;
      await eventually(() => asking.events.includes("slow call cancelled"), 5_000, "the upstream heard the call was cancelled");
      expect(events.map((event) => event.type)).to.include("retry-gone");
    });
  });

  describe("2025 client, 2026-07-28 upstream: the client's answer on the other replica reaches the call", () => {
    const sessionOn = async (gateway: GatewayProcess) => {
      const { sessionId, protocolVersion } = await openRawSession(gateway.mcpUrl, "2025-11-25", {}, { elicitation: {} });
      return { "mcp-session-id": sessionId, "mcp-protocol-version": protocolVersion };
    };

    it("the call runs on one replica, the answer is posted to the other: the client sees one result", async () => {
      const headers = await sessionOn(a);
      modern.seen.length = 0;
      const running = await streamingPost(a.mcpUrl, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "m_greet", arguments: {} } }, headers, new AbortController());
      const question = await running.next((message) => message.method === "elicitation/create");
      const answered = await postMcp(b.mcpUrl, { jsonrpc: "2.0", id: question.id, result: { action: "accept", content: { name: "Lin" } } }, headers);
      expect(answered.status).to.equal(202);
      await running.ended();
      expect(running.messages().at(-1)).to.have.nested.property("result.content[0].text", "hello Lin");
      expect(events.filter((event) => event.type === "answer")).to.have.length(1);
      const retried = modern.seen.filter((seen) => seen.body.method === "tools/call").at(-1)?.body.params as { inputResponses?: unknown };
      expect(retried.inputResponses).to.deep.equal({ who: { action: "accept", content: { name: "Lin" } } });
    });

    it("another session's answer under the same id does not reach the call; its own session's does", async () => {
      const headers = await sessionOn(a);
      const intruder = await sessionOn(b);
      const running = await streamingPost(a.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "m_greet", arguments: {} } }, headers, new AbortController());
      const question = await running.next((message) => message.method === "elicitation/create");
      expect((await postMcp(b.mcpUrl, { jsonrpc: "2.0", id: question.id, result: { action: "accept", content: { name: "Mallory" } } }, intruder)).status).to.equal(202);
      expect((await postMcp(a.mcpUrl, { jsonrpc: "2.0", id: question.id, result: { action: "accept", content: { name: "Mallory" } } }, intruder)).status).to.equal(202);
      await sleep(300);
      expect(running.messages().map((message) => message.method ?? message.id)).to.deep.equal(["elicitation/create"]);
      await postMcp(b.mcpUrl, { jsonrpc: "2.0", id: question.id, result: { action: "accept", content: { name: "Lin" } } }, headers);
      await running.ended();
      expect(running.messages().at(-1)).to.have.nested.property("result.content[0].text", "hello Lin");
    });
  });

  describe("Redis down", () => {
    after(async () => {
      await redis.start();
    });

    it("a retry for another replica: a clear error at once, the held call left for a retry once Redis is back", async () => {
      const { key, state } = asked(await call(a, "ask_interview"));
      await redis.kill();
      const started = performance.now();
      const refused = (await call(b, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: state })).at(-1);
      expect(performance.now() - started).to.be.below(3_000);
      expect(refused?.error?.code).to.equal(-32603);
      expect(refused?.error?.message).to.contain("cannot be reached (shared store");
      // The replica holding the call needs no Redis.
      expect(asked(await call(a, "ask_interview", { inputResponses: { [key]: ACCEPT }, requestState: state })).key).to.be.a("string");
    });
  });
});
