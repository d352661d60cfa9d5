// Property-based fuzzing of the 2026-07-28 path of /mcp over real HTTP, as test/broker/fuzz.test.ts
// does the session era: one gateway process in front of an SDK v2 upstream of that era only and a
// session-era fixture, and fast-check sending per-request bodies with one or more things broken
// (`_meta` missing, partial or of the wrong types, unknown versions, Mcp-Method/Mcp-Name that do
// not match the body or are encoded, removed methods), bytes and batches with 2026 headers, and
// garbage `requestState` on a multi round-trip retry. Properties: every answer is the one the
// spec (basic/transports/streamable-http.mdx, "Server Validation") and docs/architecture.md ("Two
// protocol eras") give it, with its HTTP status (the oracle below is written from them); the
// process survives; a well-formed request still works after every input; and clients that were
// there all along (a listen stream, a 2025 session) are not disturbed.
//
// FUZZ_SEED=<n> replays a run (the seed is printed); FUZZ_SCALE=<x> multiplies the number of runs.
import { expect } from "chai";
import fc from "fast-check";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { bodyArb, batchText, jsonText, plausibleBatchText, plausibleMessageText, renderBody } from "../helpers/arbitraries.js";
import { checkAnswered, checkRefusal, DEPTH_ANYONE_MAY_REFUSE, isId, nestingDepth, isPlainObject, type Answer, type Id, type JsonRpcReply } from "../helpers/fuzz-oracle.js";
import { startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { JSON_AND_SSE, openRawSession, postMcp } from "../helpers/http.js";
import { MODERN_VERSION, modernPost, openListen, type ListenStream } from "../helpers/per-request.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";
import { startModernUpstream, type ModernUpstream } from "./modern-upstream.js";
import { eventually } from "../helpers/poll.js";

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED, plugins: [fc.interruptAfterTimeLimit(8_000 * Math.max(1, SCALE))] });

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const INFO = "io.modelcontextprotocol/clientInfo";
const LEVEL = "io.modelcontextprotocol/logLevel";
const SESSION_ERA = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/** What the gateway serves per request (docs/architecture.md); anything else is removed or unknown: 404, -32601. */
const SERVED = new Set(["server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "tools/call", "prompts/get", "resources/read", "completion/complete"]);
const NAMED = new Set(["tools/call", "prompts/get", "resources/read"]);
const LOG_LEVELS = new Set(["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]);

// ---- what the fuzzer sends: a per-request request, then what it breaks ----

const ABSENT = Symbol("absent");
type Maybe<T> = T | typeof ABSENT;

interface Input {
  id: Id;
  method: string;
  /** tools/call and prompts/get: params.name; resources/read: params.uri. */
  name: Maybe<unknown>;
  arguments: Maybe<unknown>;
  meta: Maybe<unknown>;
  versionHeader: Maybe<string>;
  methodHeader: Maybe<string>;
  nameHeader: Maybe<string>;
}

const b64 = (text: string) => `=?base64?${Buffer.from(text, "utf8").toString("base64")}?=`;
const maybe = <T>(arb: fc.Arbitrary<T>, absentWeight = 1): fc.Arbitrary<Maybe<T>> => fc.oneof({ arbitrary: fc.constant(ABSENT), weight: absentWeight }, { arbitrary: arb, weight: 4 });
/** Header-safe text (fetch refuses control characters and code points above U+00FF). */
const headerText = fc.string({ unit: fc.constantFrom(..."abzAZ09/_-=?.:+ ".split("")), maxLength: 12 }).map((text) => text.trim());

const methodArb = fc.oneof(
  { arbitrary: fc.constantFrom(...SERVED), weight: 6 },
  { arbitrary: fc.constantFrom("initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "notifications/initialized", "sampling/createMessage"), weight: 2 },
  { arbitrary: headerText.filter((text) => text !== ""), weight: 1 },
);
const nameArb = fc.oneof(
  fc.constantFrom("m_echo", "l_echo", "m_greet", "l_add", "l_greeting", "fixture://legacy/readme", "fixture://legacy/items/7", "nope", "", "名前", "=?base64?bm9wZQ==?=", " padded ", "tab\tname"),
  fc.string({ maxLength: 10 }),
  fc.constantFrom(7, null, true, ["m_echo"], { name: "m_echo" }),
);
const argumentsArb = fc.oneof(fc.constant({ text: "fuzz" }), fc.constant({ a: 1, b: 2 }), fc.constant({ name: "Ada" }), fc.constant({}), fc.constantFrom("text", 3, null, [1]));
const capabilitiesArb = fc.oneof({ arbitrary: fc.constantFrom({}, { elicitation: {} }, { sampling: {}, roots: {} }), weight: 12 }, { arbitrary: fc.constantFrom("all", [], null, 5), weight: 1 });
const versionArb = fc.oneof({ arbitrary: fc.constant(MODERN_VERSION), weight: 8 }, { arbitrary: fc.constantFrom(...SESSION_ERA, "2026-07-29", "2099-01-01", "latest", ""), weight: 2 }, { arbitrary: fc.constantFrom(20260728, null, {}), weight: 1 });
const metaArb: fc.Arbitrary<Maybe<unknown>> = fc.oneof(
  {
    arbitrary: fc
      .record(
        {
          [PV]: versionArb,
          [CAPS]: capabilitiesArb,
          [INFO]: fc.oneof({ arbitrary: fc.constant({ name: "fuzz", version: "1" }), weight: 8 }, { arbitrary: fc.constantFrom({ name: 1 }, "fuzz", {}), weight: 1 }),
          [LEVEL]: fc.oneof({ arbitrary: fc.constantFrom("debug", "error"), weight: 8 }, { arbitrary: fc.constantFrom("loud", 3), weight: 1 }),
          progressToken: fc.constantFrom("p", 1),
        },
        { requiredKeys: [] },
      )
      .chain((meta) => fc.oneof({ arbitrary: fc.constant({ [PV]: MODERN_VERSION, [CAPS]: {}, ...meta }), weight: 4 }, { arbitrary: fc.constant(meta), weight: 1 })),
    weight: 10,
  },
  { arbitrary: fc.constant(ABSENT), weight: 1 },
  { arbitrary: fc.constantFrom("meta", 1, null, [], true), weight: 1 },
);

/** A request derives its headers as a conforming client would, then some are replaced or dropped. */
const inputArb: fc.Arbitrary<Input> = fc
  .record({
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 6 })),
    method: methodArb,
    name: maybe(nameArb, 1),
    arguments: maybe(argumentsArb, 1),
    meta: metaArb,
    versionHeader: fc.oneof({ arbitrary: fc.constant("derived"), weight: 8 }, { arbitrary: fc.constant(ABSENT), weight: 1 }, { arbitrary: fc.constantFrom(MODERN_VERSION, ...SESSION_ERA, "2099-01-01", "x"), weight: 2 }),
    methodHeader: fc.oneof({ arbitrary: fc.constant("derived"), weight: 8 }, { arbitrary: fc.constant(ABSENT), weight: 1 }, { arbitrary: fc.oneof(methodArb, fc.constantFrom("TOOLS/LIST", "Tools/Call")), weight: 2 }),
    nameHeader: fc.oneof(
      { arbitrary: fc.constant("derived"), weight: 6 },
      { arbitrary: fc.constant("encoded"), weight: 3 },
      { arbitrary: fc.constant(ABSENT), weight: 1 },
      { arbitrary: fc.oneof(headerText, nameArb.filter((n): n is string => typeof n === "string").map(b64), fc.constantFrom("=?base64?!!?=", "=?BASE64?bV9lY2hv?=", "=?base64?bV9lY2hv", "=?base64??=")), weight: 2 },
    ),
  })
  .map((raw) => {
    const meta = raw.meta;
    const derivedVersion = isPlainObject(meta) && typeof meta[PV] === "string" ? (meta[PV] as string) : MODERN_VERSION;
    const name = raw.name;
    const plainName = typeof name === "string" ? name : "";
    const headerSafe = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(plainName) && !plainName.startsWith("=?base64?");
    const nameHeader = raw.nameHeader === "derived" ? (headerSafe ? plainName : b64(plainName)) : raw.nameHeader === "encoded" ? b64(plainName) : raw.nameHeader;
    return {
      id: raw.id,
      method: raw.method,
      name,
      arguments: raw.arguments,
      meta,
      versionHeader: raw.versionHeader === "derived" ? derivedVersion : raw.versionHeader,
      methodHeader: raw.methodHeader === "derived" ? raw.method : raw.methodHeader,
      nameHeader: NAMED.has(raw.method) || raw.nameHeader !== "derived" ? nameHeader : ABSENT,
    };
  });

function bodyOf(input: Input): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (input.name !== ABSENT) params[input.method === "resources/read" ? "uri" : "name"] = input.name;
  if (input.arguments !== ABSENT) params.arguments = input.arguments;
  if (input.meta !== ABSENT) params._meta = input.meta;
  return { jsonrpc: "2.0", id: input.id, method: input.method, params };
}

function headersOf(input: Input): Record<string, string> {
  const headers: Record<string, string> = {};
  if (input.versionHeader !== ABSENT) headers["mcp-protocol-version"] = input.versionHeader;
  if (input.methodHeader !== ABSENT) headers["mcp-method"] = input.methodHeader;
  if (input.nameHeader !== ABSENT) headers["mcp-name"] = input.nameHeader;
  return headers;
}

// ---- the oracle, from the 2026-07-28 transport spec and docs/architecture.md ----

interface Expected {
  status: number;
  /** Absent: any JSON-RPC error code (a refusal of the session era, which this request fell into). */
  code?: number;
  why: string;
}

/** The sentinel as the spec defines it: case-sensitive markers around standard base64. */
function decoded(header: string): string {
  const match = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/.exec(header);
  return match ? Buffer.from(match[1] ?? "", "base64").toString("utf8") : header;
}

const isImplementation = (v: unknown) => isPlainObject(v) && typeof v.name === "string" && typeof v.version === "string";

/** Which era the gateway gives a POST without a session id (docs/architecture.md, "Two protocol eras"). */
function perRequest(input: Input): boolean {
  if (isPlainObject(input.meta) && PV in input.meta) return true;
  if (input.method === "initialize") return false;
  if (input.versionHeader === ABSENT) return input.meta !== ABSENT;
  return !SESSION_ERA.includes(input.versionHeader);
}

function expected(input: Input): Expected {
  // Its params never make a valid session-era initialize (no protocolVersion), so no session is created.
  if (!perRequest(input)) return input.method === "initialize" ? { status: 200, code: -32602, why: "session-era initialize" } : { status: 400, why: "session era without a session" };
  if (input.versionHeader === ABSENT) return { status: 400, code: -32020, why: "no MCP-Protocol-Version" };
  const meta = input.meta;
  const metaOk =
    isPlainObject(meta) &&
    typeof meta[PV] === "string" &&
    isPlainObject(meta[CAPS]) &&
    (!(INFO in meta) || isImplementation(meta[INFO])) &&
    (!(LEVEL in meta) || LOG_LEVELS.has(meta[LEVEL] as string));
  if (!metaOk) return { status: 400, code: -32602, why: "_meta invalid" };
  if (input.versionHeader !== meta[PV]) return { status: 400, code: -32020, why: "version header differs from _meta" };
  if (meta[PV] !== MODERN_VERSION) return { status: 400, code: -32022, why: "unsupported version" };
  if (input.methodHeader !== input.method) return { status: 400, code: -32020, why: "Mcp-Method differs" };
  if (NAMED.has(input.method)) {
    const name = typeof input.name === "string" ? input.name : "";
    if (input.nameHeader === ABSENT || decoded(input.nameHeader) !== name) return { status: 400, code: -32020, why: "Mcp-Name differs" };
  }
  if (!SERVED.has(input.method)) return { status: 404, code: -32601, why: "removed or unknown method" };
  // Arguments that are not an object are the gateway's own -32602, before anything goes upstream.
  if (input.method === "tools/call" && input.arguments !== ABSENT && !isPlainObject(input.arguments)) return { status: 200, code: -32602, why: "arguments not an object" };
  // m_greet asks the caller for input (elicitation): a request that did not declare it cannot be asked.
  if (input.method === "tools/call" && input.name === "m_greet" && !isPlainObject((meta[CAPS] as Record<string, unknown>).elicitation)) {
    return { status: 400, code: -32021, why: "missing client capability" };
  }
  return { status: 200, why: "served" };
}

function answerOf(res: { status: number; headers: Headers; text: string }): Answer {
  return { status: res.status, headers: Object.fromEntries(res.headers), body: res.text, stream: false };
}

/** A served request: one response under its id; a result has a resultType; an error is a JSON-RPC error (never an internal one). */
function checkServed(answer: Answer, id: Id): JsonRpcReply {
  const [reply] = checkAnswered(answer, { batch: false, requests: [{ id, method: "" }] });
  if (reply?.result) expect(reply.result.resultType, `resultType of ${answer.body.slice(0, 300)}`).to.be.a("string");
  else expect(reply?.error?.code, `error of a served request: ${answer.body.slice(0, 300)}`).to.not.equal(-32603);
  return reply!;
}

describe("fuzz: the 2026-07-28 path of /mcp under arbitrary input (fast-check)", function () {
  this.timeout(Number(process.env.FUZZ_TIMEOUT ?? 60_000));
  let modern: ModernUpstream;
  let legacy: UpstreamServer;
  let gateway: GatewayProcess;
  /** Clients that are there all along: a listen stream and a 2025 session. */
  let bystander: ListenStream;
  let session: string;
  const tally = new Map<string, number>();
  const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

  before(async () => {
    modern = await startModernUpstream("modern");
    legacy = await startUpstreamServer({ name: "legacy" });
    gateway = await startGateway(
      registryYaml([
        { name: "fuzz/modern", url: modern.url, prefix: "m_" },
        { name: "fuzz/legacy", url: legacy.url, prefix: "l_" },
      ]),
      ["--upstream-timeout-seconds", "10"],
      { LOG_LEVEL: "warn" },
    );
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
    bystander = await openListen(gateway.mcpUrl, { toolsListChanged: true }, "bystander");
    await bystander.next((message) => message.method === "notifications/subscriptions/acknowledged");
    session = (await openRawSession(gateway.mcpUrl, "2025-11-25")).sessionId;
    console.log(`      FUZZ_SEED=${SEED}`);
  });

  after(async () => {
    console.log(`      answers by oracle verdict: ${JSON.stringify(Object.fromEntries(tally))}`);
    bystander?.close();
    await gateway?.stop();
    await modern?.stop();
    await legacy?.stop();
  });

  /** The process is alive and a well-formed 2026 request is served. */
  async function expectGatewayWorks(): Promise<void> {
    expect(gateway.child.exitCode, `gateway exited:\n${gateway.output().slice(-3000)}`).to.equal(null);
    const call = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_echo", arguments: { text: "still here" } }, { id: "check" });
    expect(call.status).to.equal(200);
    expect((call.messages.at(-1) as JsonRpcReply).result?.content).to.deep.equal([{ type: "text", text: "still here" }]);
  }

  it("a per-request request with anything broken gets the spec's error and HTTP status; served ones one answer with resultType", async () => {
    await fc.assert(
      fc.asyncProperty(inputArb, async (input) => {
        const want = expected(input);
        const answer = answerOf(await postMcp(gateway.mcpUrl, bodyOf(input), headersOf(input)));
        count(want.why);
        const context = `${want.why}: ${JSON.stringify(bodyOf(input))} ${JSON.stringify(headersOf(input))} -> ${answer.status} ${answer.body.slice(0, 300)}`;
        expect(answer.status, context).to.equal(want.status);
        if (want.code !== undefined && want.status === 200) expect(checkServed(answer, input.id).error?.code, context).to.equal(want.code);
        else if (want.status === 200) checkServed(answer, input.id);
        else {
          const reply = checkRefusal(answer, [input.id], want.code);
          if (want.code === -32022) expect(reply.error?.data, context).to.deep.include({ supported: [MODERN_VERSION] });
          if (want.code === -32021) expect(reply.error?.data, context).to.have.nested.property("requiredCapabilities.elicitation");
        }
      }),
      runs(800),
    );
    await expectGatewayWorks();
  });

  it("bytes, JSON and batches with 2026-07-28 headers: a JSON-RPC refusal (batches: 400), a 202, or one answer; never a 5xx", async () => {
    const headersArb = fc.record({ "mcp-protocol-version": fc.constantFrom(MODERN_VERSION, "2099-01-01"), "mcp-method": methodArb });
    await fc.assert(
      fc.asyncProperty(bodyArb(plausibleMessageText, fc.oneof(plausibleBatchText, batchText)), headersArb, async (body, headers) => {
        const bytes = renderBody(body);
        const res = await fetch(gateway.mcpUrl, { method: "POST", headers: { "content-type": "application/json", accept: JSON_AND_SSE, ...headers }, body: bytes });
        const answer: Answer = { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text(), stream: false };
        const context = `${bytes.toString("utf8").slice(0, 300)} ${JSON.stringify(headers)} -> ${answer.status} ${answer.body.slice(0, 300)}`;
        expect(answer.status, context).to.be.lessThan(500);
        let parsed: unknown;
        try {
          parsed = JSON.parse(bytes.toString("utf8"));
        } catch {
          parsed = undefined;
        }
        const ids = (Array.isArray(parsed) ? parsed : [parsed]).flatMap((v) => (isPlainObject(v) && isId(v.id) ? [v.id] : []));
        if (Array.isArray(parsed)) {
          count("batch");
          expect(answer.status, `2026-07-28 has no batches: ${context}`).to.equal(400);
        }
        if (answer.status === 202) expect(answer.body, context).to.equal("");
        else if (answer.status >= 400) checkRefusal(answer, ids);
        else {
          const request = isPlainObject(parsed) && isId(parsed.id) && typeof parsed.method === "string" ? parsed.id : undefined;
          expect(request, `a 200 answers a request: ${context}`).to.not.equal(undefined);
          checkServed(answer, request!);
        }
      }),
      runs(200),
    );
    await expectGatewayWorks();
  });

  it("a multi round-trip retry with garbage requestState is -32602 and never reaches the upstream; the real state still works", async () => {
    const capabilities = { elicitation: {} };
    const first = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_greet", arguments: {} }, { capabilities });
    const state = String((first.messages.at(-1) as JsonRpcReply).result?.requestState);
    const answer = { who: { action: "accept", content: { name: "Ada" } } };
    const stateArb = fc.oneof(
      fc.nat({ max: state.length - 1 }).chain((at) => fc.constantFrom(...["A", "B", "_", "-", "."].filter((c) => c !== state[at])).map((c) => state.slice(0, at) + c + state.slice(at + 1))),
      fc.nat({ max: state.length - 1 }).map((keep) => state.slice(0, keep)),
      fc.constantFrom(`${state}x`, `${state}.${state}`, "modern-state", "", " ", state.split(".").reverse().join(".")),
      fc.string({ maxLength: 40 }),
      // Nesting past what anyone must accept is the bodies property's business (test/helpers/fuzz-oracle.ts).
      jsonText.map((node) => node.render()).filter((text) => nestingDepth(text) <= DEPTH_ANYONE_MAY_REFUSE).map((text) => JSON.parse(text) as unknown),
    );
    await fc.assert(
      fc.asyncProperty(stateArb, fc.constantFrom("m_greet", "m_echo"), async (requestState, name) => {
        modern.seen.length = 0;
        const { status, messages, text } = await modernPost(gateway.mcpUrl, "tools/call", { name, arguments: { text: "x" }, inputResponses: answer, requestState }, { capabilities });
        count("requestState");
        const error = (messages.at(-1) as JsonRpcReply | undefined)?.error;
        expect([status, error?.code], `${JSON.stringify(requestState)} -> ${status} ${text.slice(0, 300)}`).to.deep.equal([200, -32602]);
        expect(modern.seen.filter((seen) => seen.body.method === "tools/call"), "the upstream never saw the retry").to.deep.equal([]);
      }),
      runs(150),
    );
    const retry = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_greet", arguments: {}, inputResponses: answer, requestState: state }, { capabilities });
    expect((retry.messages.at(-1) as JsonRpcReply).result?.content).to.deep.equal([{ type: "text", text: "hello Ada" }]);
  });

  it("regression (found by the property above): other spellings of the signature of a real state are refused", async () => {
    const capabilities = { elicitation: {} };
    const first = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_greet", arguments: {} }, { capabilities });
    const state = String((first.messages.at(-1) as JsonRpcReply).result?.requestState);
    const signature = state.slice(state.lastIndexOf(".") + 1);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Same bytes, other text: the unused low bits of the last character, and a character outside the alphabet.
    const lastChar = [...alphabet].map((c) => signature.slice(0, -1) + c).filter((text) => text !== signature && Buffer.from(text, "base64url").equals(Buffer.from(signature, "base64url")));
    const inserted = `${signature.slice(0, 5)}!${signature.slice(5)}`;
    expect(lastChar.length, "the signature has spare bits in its last character").to.be.greaterThan(0);
    for (const respelled of [...lastChar, inserted]) {
      modern.seen.length = 0;
      const requestState = state.slice(0, state.length - signature.length) + respelled;
      const { messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_greet", arguments: {}, inputResponses: { who: { action: "accept", content: { name: "Eve" } } }, requestState }, { capabilities });
      expect((messages.at(-1) as JsonRpcReply).error?.code, respelled).to.equal(-32602);
      expect(modern.seen.filter((seen) => seen.body.method === "tools/call"), "the upstream never saw it").to.deep.equal([]);
    }
  });

  it("nobody else was disturbed: the listen stream saw nothing but its acknowledgement and still gets list changes; the 2025 session still works", async () => {
    expect(bystander.messages.map((message) => (message as { method?: string }).method)).to.deep.equal(["notifications/subscriptions/acknowledged"]);
    legacy.addTool("after_fuzz");
    try {
      await bystander.next((message) => message.method === "notifications/tools/list_changed");
    } finally {
      legacy.removeTool("after_fuzz");
    }
    const call = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "l_echo", arguments: { text: "2025" } } }, { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" });
    expect((call.messages.at(-1) as JsonRpcReply).result?.content).to.deep.equal([{ type: "text", text: "2025" }]);
    await expectGatewayWorks();
  });
});
