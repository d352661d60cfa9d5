// Property-based fuzzing of /mcp over real HTTP: one gateway process, one fixture upstream, and
// fast-check throwing bytes, JSON, JSON-RPC-shaped messages, batches, headers and methods at it.
// Properties: the process survives and stays healthy, every answer is a well-formed refusal
// (4xx + JSON-RPC error), an empty 202, or a 200 whose JSON or SSE body answers each request
// exactly once under its own id, and a well-formed session still works after every input.
// Where the expected status follows from docs/architecture.md (Errors), it is checked too.
//
// FUZZ_SEED=<n> replays a run (the seed is printed); FUZZ_SCALE=<x> multiplies the number of runs
// (and the time budget); FUZZ_BUDGET_MS caps one property, shrinking included (default 5 s);
// FUZZ_TIMEOUT is mocha's per-test timeout; FUZZ_DEBUG=1 logs requests slower than 1 s.
import { request } from "node:http";
import { expect } from "chai";
import fc from "fast-check";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import {
  bodyArb,
  DANGEROUS_KEYS,
  framingArb,
  idText,
  jsonText,
  JsonObject,
  messageText,
  obj,
  paddedPing,
  objectText,
  plausibleBatchText,
  plausibleMessageText,
  batchText,
  raw,
  renderBody,
  str,
  stringText,
  toolArgumentsText,
  toolNameText,
  type Body,
  type Framing,
  type JsonNode,
} from "../helpers/arbitraries.js";
import { startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import {
  checkAnswered,
  checkPost,
  checkRefusal,
  DEPTH_ANYONE_MAY_REFUSE,
  expectPost,
  headerInputArb,
  idKey,
  isId,
  isPlainObject,
  MAX_BODY_BYTES,
  nestingDepth,
  resolveHeaders,
  type AcceptKind,
  type Answer,
  type Id,
  type JsonRpcReply,
} from "../helpers/fuzz-oracle.js";
import { mcpMessages } from "../helpers/http.js";
import { registryYaml, serverReady } from "../helpers/registry.js";

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
/** Time one property may take, shrinking included; past it fast-check reports what it has (a failure stays a failure). */
const PROPERTY_BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 5_000) * Math.max(1, SCALE);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED, plugins: [fc.interruptAfterTimeLimit(PROPERTY_BUDGET_MS)] });

// ---- raw HTTP ----

interface Exchange {
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  framing?: Framing;
}

/** One request on its own connection; Host and every other header exactly as given. */
function exchange(url: URL, ex: Exchange, timeoutMs = 15_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...ex.headers };
    const body = ex.body ?? Buffer.alloc(0);
    const chunked = ex.framing?.chunked === true && body.length > 0;
    if (!chunked && (body.length > 0 || ex.method === "POST")) headers["content-length"] = String(body.length);
    let settled = false;
    const t0 = Date.now();
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (process.env.FUZZ_DEBUG && Date.now() - t0 > 1000) console.log(`slow ${ex.method} ${Date.now() - t0} ms: ${body.toString("utf8").slice(0, 600)}`);
      fn();
    };
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: ex.method, headers, agent: false, setHost: !("host" in headers) }, (res) => {
      const type = String(res.headers["content-type"] ?? "");
      if (ex.method === "GET" && res.statusCode === 200 && type.startsWith("text/event-stream")) {
        settle(() => resolve({ status: 200, headers: res.headers, body: "", stream: true }));
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => settle(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), stream: false })));
      res.on("error", (err) => settle(() => reject(new Error(`response broke off: ${errText(err)}`))));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (err) => settle(() => reject(new Error(`no HTTP answer (${ex.method}, ${body.length} body bytes${chunked ? ", chunked" : ""}): ${errText(err)}`))));
    if (chunked) {
      const cuts = [...new Set((ex.framing?.cuts ?? []).map((cut) => cut % body.length))].sort((a, b) => a - b);
      let start = 0;
      for (const cut of [...cuts, body.length]) {
        if (cut > start) req.write(body.subarray(start, cut));
        start = Math.max(start, cut);
      }
    } else if (body.length > 0) {
      req.write(body);
    }
    req.end();
  });
}

function errText(err: Error & { code?: string }): string {
  return err.code ? `${err.code} ${err.message}` : err.message;
}

// ---- the suite ----

describe("fuzz: /mcp under arbitrary input (fast-check)", function () {
  this.timeout(Number(process.env.FUZZ_TIMEOUT ?? 30_000));
  let upstream: UpstreamServer;
  let gateway: GatewayProcess;
  let url: URL;
  let port: string;
  let catalog: Set<string>;
  const started = Date.now();
  let runCount = 0;
  const statuses = new Map<number, number>();
  /** Counts the runs of a property and the HTTP statuses its inputs got, for the summary line. */
  const counted = <Ts extends unknown[]>(property: fc.IAsyncPropertyWithHooks<Ts>) =>
    property.beforeEach(async (previous) => {
      runCount++;
      await previous();
    });
  const tally = (answer: Answer) => {
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    return answer;
  };

  const goodHeaders = (extra: Record<string, string | undefined> = {}, accept = "application/json, text/event-stream") => {
    const headers: Record<string, string> = { "content-type": "application/json", accept };
    for (const [key, value] of Object.entries(extra)) if (value !== undefined) headers[key] = value;
    return headers;
  };

  const post = (message: unknown, extra: Record<string, string | undefined> = {}) =>
    exchange(url, { method: "POST", headers: goodHeaders(extra), body: Buffer.from(JSON.stringify(message)) });

  const sseOrJson = (answer: Answer): unknown[] => mcpMessages(String(answer.headers["content-type"] ?? ""), answer.body);

  async function openSession(protocolVersion = "2025-06-18"): Promise<{ id: string; version: string; headers: Record<string, string> }> {
    const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } });
    const id = init.headers["mcp-session-id"];
    if (init.status !== 200 || typeof id !== "string") throw new Error(`initialize failed: ${init.status} ${init.body}`);
    const version = (sseOrJson(init)[0] as JsonRpcReply).result?.protocolVersion as string;
    const headers = { "mcp-session-id": id, "mcp-protocol-version": version };
    const initialized = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, headers);
    if (initialized.status !== 202) throw new Error(`notifications/initialized: ${initialized.status} ${initialized.body}`);
    return { id, version, headers };
  }

  const closeSession = (id: unknown) =>
    typeof id === "string" ? exchange(url, { method: "DELETE", headers: { "mcp-session-id": id } }).then(() => undefined, () => undefined) : Promise.resolve();

  /** Runs body in a fresh session that is deleted afterwards, whatever happens. */
  async function inSession(protocolVersion: string, body: (session: { id: string; version: string; headers: Record<string, string> }) => Promise<unknown>): Promise<void> {
    const session = await openSession(protocolVersion);
    try {
      await body(session);
    } finally {
      await closeSession(session.id);
    }
  }

  /** The process is alive, /healthz answers, and a fresh well-formed session initializes, lists tools and calls f_echo. */
  async function expectGatewayWorks(): Promise<void> {
    expect(gateway.child.exitCode, `gateway exited:\n${gateway.output().slice(-3000)}`).to.equal(null);
    const healthz = await exchange(new URL("/healthz", url), { method: "GET", headers: {} }, 5_000);
    expect(healthz.status, "/healthz").to.equal(200);
    await inSession("2025-06-18", async (session) => {
      const list = sseOrJson(await post({ jsonrpc: "2.0", id: "list", method: "tools/list" }, session.headers))[0] as JsonRpcReply;
      expect((list.result?.tools as Array<{ name: string }>).map((tool) => tool.name), "tools/list in a fresh session").to.include("f_echo");
      const call = JSON.stringify(sseOrJson(await post({ jsonrpc: "2.0", id: "echo", method: "tools/call", params: { name: "f_echo", arguments: { text: "still here" } } }, session.headers))[0]);
      expect(call, `f_echo in a fresh session answered ${call}`).to.equal(JSON.stringify({ jsonrpc: "2.0", id: "echo", result: { content: [{ type: "text", text: "still here" }] } }));
    });
  }

  before(async () => {
    upstream = await startUpstreamServer({ name: "fx" });
    gateway = await startGateway(
      registryYaml([{ name: "fuzz/fixture", url: upstream.url, prefix: "f_" }]),
      ["--max-body-bytes", String(MAX_BODY_BYTES), "--upstream-timeout-seconds", "10"],
      { LOG_LEVEL: "warn" },
    );
    url = new URL(gateway.mcpUrl);
    port = url.port;
    await serverReady(gateway.baseUrl, "fuzz/fixture");
    await inSession("2025-06-18", async (session) => {
      const list = sseOrJson(await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, session.headers))[0] as JsonRpcReply;
      catalog = new Set((list.result?.tools as Array<{ name: string }>).map((tool) => tool.name));
    });
    console.log(`      fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}), scale ${SCALE}`);
  });

  afterEach(function () {
    const seen = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(" ");
    console.log(`      ${this.currentTest?.state === "passed" ? "ok" : "FAILED"}: ${runCount} runs (shrinking included), statuses ${seen || "-"}; ${((Date.now() - started) / 1000).toFixed(1)} s so far`);
    runCount = 0;
    statuses.clear();
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
  });

  const acceptVariant = fc.constantFrom<[AcceptKind, string]>(
    ["both", "application/json, text/event-stream"],
    ["json", "application/json"],
    ["sse", "text/event-stream"],
    ["both", "*/*"],
  );

  // ---- 1. bodies ----

  it("POST body size and framing: up to --max-body-bytes answered, past it 413, with Content-Length or chunked", async () => {
    const sizeArb = fc.oneof(fc.integer({ min: MAX_BODY_BYTES - 8, max: MAX_BODY_BYTES + 8 }), fc.integer({ min: 60, max: 3 * MAX_BODY_BYTES }));
    await fc.assert(
      counted(fc.asyncProperty(sizeArb, framingArb, async (size, framing) => {
        await inSession("2025-06-18", async (session) => {
          const bytes = paddedPing(size);
          const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders(session.headers), body: bytes, framing }));
          if (bytes.length > MAX_BODY_BYTES) checkRefusal(answer, ["padded"]);
          else checkAnswered(answer, { batch: false, requests: [{ id: "padded", method: "ping" }] });
          expect(answer.status).to.equal(bytes.length > MAX_BODY_BYTES ? 413 : 200);
        });
        await expectGatewayWorks();
      })),
      runs(100),
    );
  });

  /** Oversized bodies go with Content-Length here: chunked ones are the size property's business (see above). */
  const framingFor = (bytes: Buffer, framing: Framing): Framing => (bytes.length > MAX_BODY_BYTES ? { chunked: false, cuts: [] } : framing);

  it("POST without a session: any body gets a JSON-RPC refusal or an initialize result", async () => {
    await fc.assert(
      counted(fc.asyncProperty(bodyArb(messageText, batchText), framingArb, acceptVariant, async (body, framing, [kind, accept]) => {
        const bytes = renderBody(body);
        const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders({}, accept), body: bytes, framing: framingFor(bytes, framing) }));
        await closeSession(answer.headers["mcp-session-id"]);
        checkPost(answer, expectPost(bytes, { session: "none", batches: false }), kind);
        await expectGatewayWorks();
      })),
      runs(300),
    );
  });

  it("POST in a 2025-06-18 session: messages, junk and batches are answered per JSON-RPC", async () => {
    const messages = fc.oneof(messageText as fc.Arbitrary<JsonNode>, plausibleMessageText);
    await fc.assert(
      counted(fc.asyncProperty(bodyArb(messages, batchText), framingArb, acceptVariant, async (body, framing, [kind, accept]) => {
        await inSession("2025-06-18", async (session) => {
          const bytes = renderBody(body);
          const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders(session.headers, accept), body: bytes, framing: framingFor(bytes, framing) }));
          await closeSession(answer.headers["mcp-session-id"]);
          checkPost(answer, expectPost(bytes, { session: "valid", batches: false }), kind);
        });
        await expectGatewayWorks();
      })),
      runs(300),
    );
  });

  it("POST in a 2025-03-26 session: batches get exactly one response per request", async () => {
    const batchBody: fc.Arbitrary<Body> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("json" as const), node: plausibleBatchText as fc.Arbitrary<JsonNode>, prefix: fc.constant(""), suffix: fc.constant("") }), weight: 6 },
      { arbitrary: bodyArb(messageText, batchText), weight: 3 },
    );
    await fc.assert(
      counted(fc.asyncProperty(batchBody, framingArb, acceptVariant, fc.boolean(), async (body, framing, [kind, accept], sendVersion) => {
        await inSession("2025-03-26", async (session) => {
          const bytes = renderBody(body);
          // 2025-03-26 clients do not know the MCP-Protocol-Version header; some send it anyway.
          const headers = goodHeaders({ "mcp-session-id": session.id, "mcp-protocol-version": sendVersion ? session.version : undefined }, accept);
          const answer = tally(await exchange(url, { method: "POST", headers, body: bytes, framing: framingFor(bytes, framing) }));
          await closeSession(answer.headers["mcp-session-id"]);
          checkPost(answer, expectPost(bytes, { session: "valid", batches: true }), kind);
        });
        await expectGatewayWorks();
      })),
      runs(300),
    );
  });

  it("a message with both result and error is refused as not JSON-RPC (-32600)", async () => {
    const both = fc.record({ id: fc.oneof(idText, fc.constant(raw("null"))), result: jsonText, error: jsonText });
    await fc.assert(
      counted(fc.asyncProperty(both, async (message) => {
        await inSession("2025-06-18", async (session) => {
          const bytes = Buffer.from(obj({ jsonrpc: str("2.0"), id: message.id, result: message.result, error: message.error }).render());
          const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders(session.headers), body: bytes }));
          if (bytes.length > MAX_BODY_BYTES) return;
          expect(answer.status, `answer to ${bytes.toString().slice(0, 200)}: ${answer.body}`).to.equal(400);
          checkRefusal(answer, expectPost(bytes, { session: "valid", batches: false }).ids, -32600);
        });
        await expectGatewayWorks();
      })),
      runs(50),
    );
  });

  // ---- 2. headers ----

  it("POST with arbitrary Host, Origin, Content-Type, Accept, MCP-Protocol-Version and Mcp-Session-Id", async () => {
    const bodies = fc.constantFrom("initialize", "ping", "tools/list", "notification");
    await fc.assert(
      counted(fc.asyncProperty(headerInputArb, bodies, async (input, which) => {
        await inSession("2025-06-18", async (session) => {
          const { headers, session: state, guard } = resolveHeaders(input, port, session.id);
          const message =
            which === "initialize"
              ? { jsonrpc: "2.0", id: "h-init", method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } }
              : which === "notification"
                ? { jsonrpc: "2.0", method: "notifications/initialized" }
                : { jsonrpc: "2.0", id: `h-${which}`, method: which };
          const bytes = Buffer.from(JSON.stringify(message));
          const answer = tally(await exchange(url, { method: "POST", headers, body: bytes }));
          await closeSession(answer.headers["mcp-session-id"]);
          const exp = expectPost(bytes, { session: state, batches: false, badVersion: input.version.label === "bad" });
          const known = guard !== "unknown" && input.contentType.label !== "unknown" && input.accept.label !== "unknown";
          if (guard === "bad") {
            checkRefusal(answer, exp.ids);
            expect(answer.status, "foreign Host or Origin").to.equal(403);
          } else if (known && input.contentType.label === "bad") {
            checkRefusal(answer, exp.ids);
            expect(answer.status, "Content-Type").to.equal(415);
          } else if (known && input.accept.label === "none") {
            checkRefusal(answer, exp.ids);
            expect(answer.status, "Accept").to.equal(406);
          } else if (known && (input.version.label === "other" || input.version.label === "unknown") && which !== "initialize" && state === "valid") {
            // A supported version that is not the session's, or an arbitrary value: 200/202 or 400 are both defensible.
            if (answer.status >= 400) checkRefusal(answer, exp.ids);
            else checkPost(answer, { ...exp, status: undefined }, input.accept.label);
          } else if (known) {
            checkPost(answer, exp, input.accept.label);
          } else if (answer.status >= 400) {
            checkRefusal(answer, exp.ids);
          } else {
            checkPost(answer, { ...exp, status: undefined }, input.accept.label);
          }
        });
        await expectGatewayWorks();
      })),
      runs(300),
    );
  });

  // ---- 3. other HTTP methods ----

  it("GET, DELETE, PUT and PATCH with arbitrary headers", async () => {
    const methods = fc.constantFrom("GET", "DELETE", "PUT", "PATCH");
    const optionalBody = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined });
    await fc.assert(
      counted(fc.asyncProperty(methods, headerInputArb, optionalBody, async (method, input, body) => {
        await inSession("2025-06-18", async (session) => {
          const { headers, session: state, guard } = resolveHeaders(input, port, session.id);
          const answer = tally(await exchange(url, { method, headers, body: body ? Buffer.from(body) : undefined }));
          if (answer.status >= 400) checkRefusal(answer);
          else expect(answer.status, `${method} answered ${answer.status}: ${answer.body}`).to.equal(200);
          if (guard === "bad") return expect(answer.status, "foreign Host or Origin").to.equal(403);
          if (guard === "unknown") return;
          if (method === "PUT" || method === "PATCH") {
            expect(answer.status).to.equal(405);
            return expect(answer.headers.allow).to.equal("GET, POST, DELETE");
          }
          if (method === "GET" && (input.accept.label === "json" || input.accept.label === "none")) return expect(answer.status, "GET without text/event-stream in Accept").to.equal(406);
          if (method === "GET" && input.accept.label === "unknown") return;
          if (state === "missing") return expect(answer.status, "no session id").to.equal(400);
          if (state === "unknown") return expect(answer.status, "unknown session id").to.equal(404);
          if (input.version.label === "bad") return expect(answer.status, "unsupported MCP-Protocol-Version").to.equal(400);
          if (answer.status >= 400 && input.version.label !== "ok") return; // another supported version, or an arbitrary value
          expect(answer.status, `${method} of a live session`).to.equal(200);
          if (method === "GET") return expect(answer.stream, "GET opens an event stream").to.equal(true);
          expect(answer.body, "DELETE answers with an empty body").to.equal("");
          const after = await post({ jsonrpc: "2.0", id: 1, method: "ping" }, { "mcp-session-id": session.id });
          expect(after.status, "a deleted session is gone").to.equal(404);
        });
        await expectGatewayWorks();
      })),
      runs(200),
    );
  });

  // ---- 4. tools/call ----

  const validIdText = idText.filter((node) => isId(JSON.parse(node.render())));

  it("tools/call with arbitrary name and arguments is answered under its id, never with a gateway or upstream failure", async () => {
    const callArb = fc.record({
      id: validIdText,
      name: fc.option(toolNameText, { nil: undefined, freq: 10 }),
      arguments: fc.option(toolArgumentsText, { nil: undefined, freq: 6 }),
      // params._meta of the wrong type has its own property below.
      extra: fc.array(fc.tuple(fc.constantFrom("task", "cursor", ...DANGEROUS_KEYS), jsonText), { maxLength: 1 }),
    });
    await fc.assert(
      counted(fc.asyncProperty(callArb, acceptVariant, async (call, [kind, accept]) => {
        await inSession("2025-06-18", async (session) => {
          const params = new JsonObject([...obj({ name: call.name, arguments: call.arguments }).members, ...call.extra]);
          const text = `{"jsonrpc":"2.0","id":${call.id.render()},"method":"tools/call","params":${params.render()}}`;
          const bytes = Buffer.from(text);
          const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders(session.headers, accept), body: bytes }));
          if (bytes.length > MAX_BODY_BYTES) return checkRefusal(answer);
          const id = JSON.parse(call.id.render()) as Id;
          if (answer.status === 400 && nestingDepth(text) > DEPTH_ANYONE_MAY_REFUSE) {
            // Refused for its nesting: fine, as a JSON-RPC error for this very request.
            return expect(idKey(checkRefusal(answer, [id], -32600).id), "a request refused for its nesting keeps its id").to.equal(idKey(id));
          }
          const [response] = checkAnswered(answer, { batch: false, requests: [{ id, method: "tools/call" }] }, kind);
          const parsed = JSON.parse(text) as { params: Record<string, unknown> };
          const name = parsed.params.name;
          const args = parsed.params.arguments;
          const error = response?.error;
          if (error) {
            // The upstream is healthy and nothing here is the gateway's fault: whatever is wrong is the input's fault,
            // so the answer is -32602 or the upstream's own verdict, never "upstream unavailable/timed out" or a gateway error.
            const blamesUpstream = error.code === -32010 || error.code === -32011;
            const gatewayFailure = error.code === -32603 && /^internal error/i.test(error.message);
            expect(blamesUpstream || gatewayFailure || error.code === -32000 || error.code === -32001, `error for a call the client got wrong: ${JSON.stringify(error)}`).to.equal(false);
          }
          if (typeof name !== "string" || name === "") expect(error?.code, `tools/call without a usable name: ${JSON.stringify(response)}`).to.equal(-32602);
          else if (!catalog.has(name)) expect(JSON.stringify(error), "unknown tool").to.equal(JSON.stringify({ code: -32602, message: `Unknown tool: ${name}` }));
          else if (name === "f_echo" && isPlainObject(args) && typeof args.text === "string" && response?.result) {
            expect(response.result.content, "f_echo returns its text unchanged").to.deep.equal([{ type: "text", text: args.text }]);
          } else if (name === "f_add" && isPlainObject(args) && typeof args.a === "number" && typeof args.b === "number" && Number.isFinite(args.a + args.b) && response?.result) {
            expect((response.result.structuredContent as { sum: number }).sum === args.a + args.b, "f_add sums").to.equal(true);
          }
        });
        await expectGatewayWorks();
      })),
      runs(300),
    );
  });

  it("tools/call with params._meta of any value is answered as the client's mistake or a result, never as an upstream outage", async () => {
    const metaArb = fc.oneof(
      jsonText,
      fc.record({ progressToken: jsonText }).map((m) => obj(m) as JsonNode),
      objectText,
    );
    await fc.assert(
      counted(fc.asyncProperty(validIdText, metaArb, async (idNode, meta) => {
        await inSession("2025-06-18", async (session) => {
          const bytes = Buffer.from(`{"jsonrpc":"2.0","id":${idNode.render()},"method":"tools/call","params":{"name":"f_echo","arguments":{"text":"hi"},"_meta":${meta.render()}}}`);
          const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders(session.headers), body: bytes }));
          if (bytes.length > MAX_BODY_BYTES) return checkRefusal(answer);
          const id = JSON.parse(idNode.render()) as Id;
          if (answer.status === 400 && nestingDepth(bytes.toString("utf8")) > DEPTH_ANYONE_MAY_REFUSE) {
            return expect(idKey(checkRefusal(answer, [id], -32600).id), "a request refused for its nesting keeps its id").to.equal(idKey(id));
          }
          const [response] = checkAnswered(answer, { batch: false, requests: [{ id, method: "tools/call" }] });
          const error = response?.error;
          if (error) expect([-32010, -32011, -32000, -32001], `answer to _meta ${meta.show()}: ${JSON.stringify(error)}`).to.not.include(error.code);
        });
        await expectGatewayWorks();
      })),
      runs(50),
    );
  });

  // ---- 5. initialize ----

  const dangerousObject = fc.array(fc.tuple(fc.constantFrom(...DANGEROUS_KEYS), jsonText), { minLength: 1, maxLength: 2 }).map((members) => new JsonObject(members) as JsonNode);
  const versionText = fc.oneof(fc.constantFrom("2025-06-18", "2025-03-26", "2025-11-25", "2024-11-05", "1999-01-01").map(str), jsonText);

  function initializeText(id: JsonNode, params: Record<string, JsonNode | undefined>): Buffer {
    return Buffer.from(`{"jsonrpc":"2.0","id":${id.render()},"method":"initialize","params":${obj(params).render()}}`);
  }

  it("initialize with arbitrary params is answered with a result or a 4xx refusal carrying its id, never a 5xx", async () => {
    const infoValue = fc.oneof(stringText, jsonText, dangerousObject);
    const initArb = fc.record({
      id: validIdText,
      protocolVersion: fc.option(versionText, { nil: undefined }),
      capabilities: fc.option(fc.oneof(objectText, jsonText), { nil: undefined }),
      clientInfo: fc.option(fc.oneof(fc.record({ name: infoValue, version: infoValue }, { requiredKeys: [] }).map((m) => obj(m) as JsonNode), jsonText, dangerousObject), { nil: undefined }),
    });
    await fc.assert(
      counted(fc.asyncProperty(initArb, acceptVariant, async ({ id: idNode, ...params }, [kind, accept]) => {
        const bytes = initializeText(idNode, params);
        const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders({}, accept), body: bytes }));
        await closeSession(answer.headers["mcp-session-id"]);
        if (bytes.length > MAX_BODY_BYTES) return void checkRefusal(answer);
        const id = JSON.parse(idNode.render()) as Id;
        if (answer.status === 200) {
          const [response] = checkAnswered(answer, { batch: false, requests: [{ id, method: "initialize" }] }, kind);
          if (response?.result) expect(answer.headers["mcp-session-id"], "initialize result comes with a session").to.be.a("string");
        } else {
          const refusal = checkRefusal(answer, [id]);
          expect(idKey(refusal.id), "a refused initialize carries its request id").to.equal(idKey(id));
        }
        await expectGatewayWorks();
      })),
      runs(200),
    );
  });

  it("a session the gateway accepted at initialize can call tools, whatever capabilities the client declared", async () => {
    const capabilityArb = fc.oneof(
      fc.record({ sampling: jsonText, elicitation: jsonText, roots: jsonText, experimental: jsonText }, { requiredKeys: [] }).map((m) => obj(m) as JsonNode),
      objectText,
      jsonText,
    );
    const initArb = fc.record({ id: validIdText, protocolVersion: fc.option(versionText, { nil: undefined }), capabilities: fc.option(capabilityArb, { nil: undefined }) });
    let accepted = 0;
    await fc.assert(
      counted(fc.asyncProperty(initArb, async ({ id, protocolVersion, capabilities }) => {
        const bytes = initializeText(id, { protocolVersion, capabilities, clientInfo: obj({ name: str("fuzz"), version: str("1") }) });
        const answer = tally(await exchange(url, { method: "POST", headers: goodHeaders(), body: bytes }));
        const sessionId = answer.headers["mcp-session-id"];
        try {
          if (answer.status !== 200 || typeof sessionId !== "string") return;
          accepted++;
          const version = ((sseOrJson(answer)[0] as JsonRpcReply).result?.protocolVersion as string) ?? "";
          const headers = { "mcp-session-id": sessionId, "mcp-protocol-version": version };
          await post({ jsonrpc: "2.0", method: "notifications/initialized" }, headers);
          const call = await post({ jsonrpc: "2.0", id: "after-init", method: "tools/call", params: { name: "f_echo", arguments: { text: "usable" } } }, headers);
          const got = JSON.stringify(sseOrJson(call)[0]);
          expect(got, `f_echo in the session this initialize opened answered ${got}`).to.equal(
            JSON.stringify({ jsonrpc: "2.0", id: "after-init", result: { content: [{ type: "text", text: "usable" }] } }),
          );
        } finally {
          await closeSession(sessionId);
        }
        await expectGatewayWorks();
      })),
      runs(100),
    );
    // Otherwise the property held only because every initialize was refused.
    expect(accepted, "initializes the gateway accepted").to.be.greaterThan(0);
  });

  it("logged no uncaught exception or unhandled rejection, and is still running", () => {
    expect(gateway.output()).to.not.match(/uncaught exception|unhandled rejection/);
    expect(gateway.child.exitCode).to.equal(null);
  });
});
