// Property-based fuzzing of /mcp over real HTTP: one gateway process, one fixture upstream, and
// fast-check throwing bytes, JSON, JSON-RPC-shaped messages, batches, headers and methods at it.
// Properties: the process survives and stays healthy, every answer is a well-formed refusal
// (4xx + JSON-RPC error), an empty 202, or a 200 whose JSON or SSE body answers each request
// exactly once under its own id, and a well-formed session still works after every input.
// Where the expected status follows from docs/architecture.md (Errors), it is checked too.
//
// FUZZ_SEED=<n> replays a run; FUZZ_SCALE=<x> multiplies the number of runs.
import { request, type IncomingHttpHeaders } from "node:http";
import { expect } from "chai";
import fc from "fast-check";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import {
  bodyArb,
  DANGEROUS_KEYS,
  framingArb,
  headerValueArb,
  idText,
  jsonText,
  JsonObject,
  messageText,
  obj,
  objectText,
  plausibleBatchText,
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
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { fetchStatus, registryYaml, serverStatus } from "../helpers/registry.js";

const MAX_BODY_BYTES = 65_536;
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED });

// ---- raw HTTP ----

interface Exchange {
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  framing?: Framing;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** A GET event stream, closed by us once its headers arrived. */
  stream: boolean;
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

/** JSON-RPC messages of an SSE body (data lines of each event, comments skipped). */
function sseMessages(text: string): unknown[] {
  const messages: unknown[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""));
    if (data.length > 0) messages.push(JSON.parse(data.join("\n")));
  }
  return messages;
}

// ---- the JSON-RPC 2.0 / MCP model (written from the specs, not from the gateway's code) ----

type Id = string | number;
type Kind = "request" | "notification" | "response" | "invalid" | "ambiguous";

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is Id => typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
/** Ids compared as JSON values: -0 and 0 are the same id, as are a 30-digit integer and its double. */
const idKey = (id: unknown) => `${typeof id}:${JSON.stringify(id)}`;
const has = (v: Record<string, unknown>, key: string) => Object.prototype.hasOwnProperty.call(v, key);

/** What a client message is. "ambiguous" where the specs leave room (extra members, non-object results). */
function kindOf(v: unknown): Kind {
  if (!isPlainObject(v) || v.jsonrpc !== "2.0") return "invalid";
  if (has(v, "method")) {
    if (typeof v.method !== "string") return "invalid";
    if (has(v, "params") && !isPlainObject(v.params)) return "invalid"; // MCP: params is an object
    if (has(v, "result") || has(v, "error")) return "ambiguous";
    if (!has(v, "id")) return "notification";
    return isId(v.id) ? "request" : "invalid"; // MCP: ids are strings or integers, never null
  }
  if (has(v, "params")) return "ambiguous";
  const hasResult = has(v, "result");
  const hasError = has(v, "error");
  if (hasResult === hasError) return "invalid";
  if (hasResult) {
    if (!isId(v.id)) return "invalid";
    return isPlainObject(v.result) ? "response" : "ambiguous";
  }
  if (!isId(v.id) && v.id !== null) return "invalid";
  if (!isPlainObject(v.error) || typeof v.error.code !== "number") return "invalid";
  return Number.isInteger(v.error.code) && typeof v.error.message === "string" ? "response" : "ambiguous";
}

type SessionState = "none" | "missing" | "unknown" | "valid";

interface PostContext {
  session: SessionState;
  /** The session speaks a version with batches (2025-03-26). */
  batches: boolean;
  /** The MCP-Protocol-Version header is unsupported. */
  badVersion?: boolean;
}

interface Expectation {
  /** Exact HTTP status, when the docs fix it. */
  status?: number;
  code?: number;
  batch: boolean;
  /** Requests (top-level elements with a method and a valid id) that need exactly one response each. */
  requests: Array<{ id: Id; method: string }>;
  /** Every valid id in the body: a refusal may carry any of them, or null. */
  ids: Id[];
}

/** The answer docs/architecture.md (Errors) and the transport spec give a POST with good headers. */
function expectPost(bytes: Buffer, ctx: PostContext): Expectation {
  const none: Expectation = { batch: false, requests: [], ids: [] };
  if (bytes.length > MAX_BODY_BYTES) return { ...none, status: 413 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { ...none, status: 400, code: -32700 };
  }
  const batch = Array.isArray(parsed);
  const values: unknown[] = batch ? (parsed as unknown[]) : [parsed];
  const ids = values.flatMap((v) => (isPlainObject(v) && isId(v.id) ? [v.id] : []));
  const requests = values.flatMap((v) => (isPlainObject(v) && typeof v.method === "string" && isId(v.id) ? [{ id: v.id, method: v.method }] : []));
  const base = { batch, requests, ids };
  if (batch && values.length === 0) return { ...base, status: 400, code: -32600 };
  const kinds = values.map(kindOf);
  if (kinds.includes("invalid")) return { ...base, status: 400, code: -32600 };
  if (kinds.includes("ambiguous")) return base;
  if (requests.some((r) => r.method === "initialize")) return batch ? { ...base, status: 400, code: -32600 } : { ...base, status: 200 };
  if (ctx.session === "none" || ctx.session === "missing") return { ...base, status: 400 };
  if (ctx.session === "unknown") return { ...base, status: 404, code: -32001 };
  if (ctx.badVersion) return { ...base, status: 400 };
  if (batch && !ctx.batches) return { ...base, status: 400, code: -32600 };
  if (requests.length === 0) return { ...base, status: 202 };
  return { ...base, status: 200 };
}

interface JsonRpcReply {
  jsonrpc: string;
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
  method?: string;
}

/** A refusal: HTTP 4xx, Content-Type JSON, one JSON-RPC error response with id null or one of the body's ids. */
function checkRefusal(answer: Answer, ids: Id[] = [], code?: number): JsonRpcReply {
  expect(answer.status, `HTTP status of a refusal (body ${answer.body})`).to.be.within(400, 499);
  expect(String(answer.headers["content-type"]), "refusal content-type").to.match(/^application\/json/);
  let body: JsonRpcReply;
  try {
    body = JSON.parse(answer.body) as JsonRpcReply;
  } catch {
    throw new Error(`refusal ${answer.status} has no JSON body: ${JSON.stringify(answer.body)}`);
  }
  expect(isPlainObject(body), `refusal body is one JSON-RPC object: ${answer.body}`).to.equal(true);
  expect(body.jsonrpc).to.equal("2.0");
  expect(has(body as unknown as Record<string, unknown>, "result"), "refusal has no result").to.equal(false);
  expect(isPlainObject(body.error) && Number.isInteger(body.error.code) && typeof body.error.message === "string", `refusal error object: ${answer.body}`).to.equal(true);
  const allowed = new Set([idKey(null), ...ids.map(idKey)]);
  expect(allowed.has(idKey(body.id)), `refusal id ${JSON.stringify(body.id)} is null or an id the client sent`).to.equal(true);
  if (code !== undefined) expect(body.error?.code, `JSON-RPC error code of the ${answer.status}: ${answer.body}`).to.equal(code);
  return body;
}

function checkResponseShape(message: JsonRpcReply, raw: string): void {
  expect(message.jsonrpc, `jsonrpc of ${raw}`).to.equal("2.0");
  const hasResult = has(message as unknown as Record<string, unknown>, "result");
  const hasError = has(message as unknown as Record<string, unknown>, "error");
  expect(hasResult !== hasError, `exactly one of result/error in ${raw}`).to.equal(true);
  if (hasResult) expect(isPlainObject(message.result), `result is an object in ${raw}`).to.equal(true);
  else expect(isPlainObject(message.error) && Number.isInteger(message.error.code) && typeof message.error.message === "string", `error object in ${raw}`).to.equal(true);
  expect(isId(message.id), `response id of ${raw}`).to.equal(true);
}

/**
 * A 200: a JSON body (one response, or an array for a batch) or an SSE stream of responses and
 * notifications, with exactly one response per request, under the request's id.
 */
function checkAnswered(answer: Answer, exp: Pick<Expectation, "batch" | "requests">, accept: AcceptKind = "both"): JsonRpcReply[] {
  expect(answer.status, `status (body ${answer.body.slice(0, 500)})`).to.equal(200);
  const type = String(answer.headers["content-type"] ?? "");
  let responses: JsonRpcReply[];
  if (type.startsWith("text/event-stream")) {
    expect(accept, "SSE only for clients that accept it").to.not.equal("json");
    const messages = sseMessages(answer.body) as JsonRpcReply[];
    responses = [];
    for (const message of messages) {
      expect(isPlainObject(message), `SSE event is a JSON-RPC object: ${JSON.stringify(message)}`).to.equal(true);
      if (has(message as unknown as Record<string, unknown>, "method")) {
        // Only notifications may travel before the responses (no fixture tool used here asks the client anything).
        expect(message.jsonrpc).to.equal("2.0");
        expect(typeof message.method).to.equal("string");
        expect(has(message as unknown as Record<string, unknown>, "id"), `server-to-client message in the stream is a notification: ${JSON.stringify(message)}`).to.equal(false);
      } else {
        checkResponseShape(message, JSON.stringify(message));
        responses.push(message);
      }
    }
  } else {
    expect(type, "200 content-type").to.match(/^application\/json/);
    expect(accept, "JSON only for clients that accept it").to.not.equal("sse");
    const parsed = JSON.parse(answer.body) as unknown;
    if (exp.batch) {
      expect(Array.isArray(parsed), `a batch is answered with an array: ${answer.body.slice(0, 300)}`).to.equal(true);
      responses = parsed as JsonRpcReply[];
    } else {
      expect(isPlainObject(parsed), `a single request is answered with one object: ${answer.body.slice(0, 300)}`).to.equal(true);
      responses = [parsed as JsonRpcReply];
    }
    for (const response of responses) checkResponseShape(response, JSON.stringify(response));
  }
  const sent = exp.requests.map((r) => idKey(r.id)).sort();
  const got = responses.map((r) => idKey(r.id)).sort();
  expect(got, "one response per request, with the request's id, and no other ids").to.deep.equal(sent);
  return responses;
}

/** Checks any POST answer against the model: exact status where known, the generic shape always. */
function checkPost(answer: Answer, exp: Expectation, accept: AcceptKind = "both"): void {
  if (exp.status !== undefined) expect(answer.status, `HTTP status (body ${answer.body.slice(0, 300)})`).to.equal(exp.status);
  if (answer.status === 202) {
    expect(answer.body, "202 has an empty body").to.equal("");
    if (exp.status === undefined) expect(exp.requests, "202 only when nothing needs a response").to.deep.equal([]);
    return;
  }
  if (answer.status >= 400 && answer.status < 500) {
    checkRefusal(answer, exp.ids, exp.status === answer.status ? exp.code : undefined);
    return;
  }
  const responses = checkAnswered(answer, exp, accept);
  if (!exp.batch && exp.requests[0]?.method === "initialize" && responses[0]?.result) {
    expect(answer.headers["mcp-session-id"], "initialize answer carries a session id").to.be.a("string");
  }
}

// ---- header variants, labelled with what the gateway must make of them ----

type AcceptKind = "both" | "json" | "sse" | "none" | "unknown";

interface Labelled<L extends string> {
  value: string | undefined;
  label: L;
}

const labelled = <L extends string>(label: L, ...values: Array<string | undefined>) => fc.constantFrom(...values).map((value): Labelled<L> => ({ value, label }));

const contentTypeArb = fc.oneof(
  { arbitrary: labelled("ok", "application/json", "application/json; charset=utf-8", "Application/JSON", "application/json ;charset=UTF-8", "application/json;"), weight: 3 },
  { arbitrary: labelled("bad", undefined, "text/plain", "application/jsonx", "application/json-seq", "text/json", "application/x-www-form-urlencoded", "json", "application/json, text/plain"), weight: 2 },
  { arbitrary: headerValueArb.map((value): Labelled<"ok" | "bad" | "unknown"> => ({ value, label: "unknown" })), weight: 1 },
);

const acceptArb = fc.oneof(
  { arbitrary: labelled<AcceptKind>("both", "application/json, text/event-stream", "text/event-stream, application/json", "*/*", undefined, "application/*, text/*", "application/json;q=0.9, text/event-stream;q=0.1"), weight: 3 },
  { arbitrary: labelled<AcceptKind>("json", "application/json", "application/*", "APPLICATION/JSON", "application/json; charset=utf-8"), weight: 2 },
  { arbitrary: labelled<AcceptKind>("sse", "text/event-stream", "text/*", "Text/Event-Stream"), weight: 2 },
  { arbitrary: labelled<AcceptKind>("none", "text/html", "application/xml", "image/png, text/plain"), weight: 1 },
  { arbitrary: headerValueArb.map((value): Labelled<AcceptKind> => ({ value, label: "unknown" })), weight: 1 },
);

const versionArb = fc.oneof(
  { arbitrary: labelled("ok", undefined, "2025-06-18"), weight: 3 },
  { arbitrary: labelled("other", "2025-03-26", "2025-11-25", "2024-11-05"), weight: 1 },
  { arbitrary: labelled("bad", "2023-01-01", "2025-06-19", "", "2025-06-18, 2025-03-26", "latest", "2025-6-18"), weight: 2 },
  { arbitrary: headerValueArb.map((value): Labelled<"ok" | "other" | "bad" | "unknown"> => ({ value, label: "unknown" })), weight: 1 },
);

/** $SID is the run's live session id; the label is worked out when sent (header values lose surrounding blanks). */
const sessionHeaderArb = fc.oneof(
  { arbitrary: fc.constantFrom("$SID", "$SID", " $SID\t"), weight: 4 },
  { arbitrary: fc.constantFrom(undefined, "", "$SIDx", "x$SID", "no-such-session", "$SID, $SID", "$SID$SID"), weight: 3 },
  { arbitrary: headerValueArb, weight: 1 },
);

interface HostVariant {
  value: string;
  label: "ok" | "bad" | "unknown";
  /** Hostname an Origin must have to count as the same host. */
  originHost?: string;
}

const hostArb: fc.Arbitrary<HostVariant> = fc.oneof(
  {
    arbitrary: fc.constantFrom<HostVariant>(
      { value: "127.0.0.1:$PORT", label: "ok", originHost: "127.0.0.1" },
      { value: "localhost:$PORT", label: "ok", originHost: "localhost" },
      { value: "localhost", label: "ok", originHost: "localhost" },
      { value: "LOCALHOST:$PORT", label: "ok", originHost: "LocalHost" },
      { value: "[::1]:$PORT", label: "ok", originHost: "[::1]" },
      { value: "127.0.0.1", label: "ok", originHost: "127.0.0.1" },
    ),
    weight: 4,
  },
  {
    arbitrary: fc.constantFrom<HostVariant>(
      { value: "evil.example", label: "bad" },
      { value: "evil.example:$PORT", label: "bad" },
      { value: "127.0.0.2:$PORT", label: "bad" },
      { value: "localhost.evil.example", label: "bad" },
      { value: "", label: "bad" },
      { value: "[::1", label: "bad" },
      { value: "0.0.0.0:$PORT", label: "bad" },
    ),
    weight: 2,
  },
  { arbitrary: headerValueArb.map((value): HostVariant => ({ value, label: "unknown" })), weight: 1 },
);

const originArb = fc.oneof(
  { arbitrary: labelled("ok", undefined, undefined, "null"), weight: 3 },
  { arbitrary: labelled("same", "http://$ORIGINHOST:6274", "https://$ORIGINHOST", "http://$ORIGINHOST:$PORT"), weight: 2 },
  { arbitrary: labelled("bad", "http://evil.example", "http://127.0.0.2:$PORT", "http://localhost.evil.example", "not a url", "", "http://"), weight: 2 },
  { arbitrary: headerValueArb.map((value): Labelled<"ok" | "same" | "bad" | "unknown"> => ({ value, label: "unknown" })), weight: 1 },
);

const trimOws = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, "");

interface HeaderInput {
  host: HostVariant;
  origin: Labelled<"ok" | "same" | "bad" | "unknown">;
  contentType: Labelled<"ok" | "bad" | "unknown">;
  accept: Labelled<AcceptKind>;
  version: Labelled<"ok" | "other" | "bad" | "unknown">;
  session: string | undefined;
}

const headerInputArb: fc.Arbitrary<HeaderInput> = fc.record({
  host: hostArb,
  origin: originArb,
  contentType: contentTypeArb,
  accept: acceptArb,
  version: versionArb,
  session: sessionHeaderArb,
});

/** Headers with $PORT/$SID/$ORIGINHOST filled in, and what they amount to ("unknown" = no exact expectation). */
function resolveHeaders(input: HeaderInput, port: string, sessionId: string) {
  const fill = (value: string) => value.replaceAll("$PORT", port).replaceAll("$SID", sessionId).replaceAll("$ORIGINHOST", input.host.originHost ?? "localhost");
  const headers: Record<string, string> = { host: fill(input.host.value) };
  if (input.origin.value !== undefined) headers.origin = fill(input.origin.value);
  if (input.contentType.value !== undefined) headers["content-type"] = input.contentType.value;
  if (input.accept.value !== undefined) headers.accept = input.accept.value;
  if (input.version.value !== undefined) headers["mcp-protocol-version"] = input.version.value;
  if (input.session !== undefined) headers["mcp-session-id"] = fill(input.session);
  const sessionValue = input.session === undefined ? undefined : trimOws(fill(input.session));
  const session: SessionState = sessionValue === undefined || sessionValue === "" ? "missing" : sessionValue === sessionId ? "valid" : "unknown";
  const originLabel = input.origin.label === "same" ? (input.host.label === "ok" ? "ok" : input.host.label) : input.origin.label;
  const guard = input.host.label === "bad" || originLabel === "bad" ? "bad" : input.host.label === "unknown" || originLabel === "unknown" ? "unknown" : "ok";
  return { headers, session, guard };
}

// ---- the suite ----

describe("fuzz: /mcp under arbitrary input (fast-check)", function () {
  this.timeout(Number(process.env.FUZZ_TIMEOUT ?? 60_000));
  let upstream: UpstreamServer;
  let gateway: GatewayProcess;
  let url: URL;
  let port: string;
  let catalog: Set<string>;
  const started = Date.now();

  const goodHeaders = (extra: Record<string, string | undefined> = {}, accept = "application/json, text/event-stream") => {
    const headers: Record<string, string> = { "content-type": "application/json", accept };
    for (const [key, value] of Object.entries(extra)) if (value !== undefined) headers[key] = value;
    return headers;
  };

  const post = (message: unknown, extra: Record<string, string | undefined> = {}) =>
    exchange(url, { method: "POST", headers: goodHeaders(extra), body: Buffer.from(JSON.stringify(message)) });

  async function openSession(protocolVersion = "2025-06-18"): Promise<{ id: string; version: string }> {
    const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } });
    const id = init.headers["mcp-session-id"];
    if (init.status !== 200 || typeof id !== "string") throw new Error(`initialize failed: ${init.status} ${init.body}`);
    const version = (sseOrJson(init)[0] as JsonRpcReply).result?.protocolVersion as string;
    const initialized = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": id, "mcp-protocol-version": version });
    if (initialized.status !== 202) throw new Error(`notifications/initialized: ${initialized.status} ${initialized.body}`);
    return { id, version };
  }

  const closeSession = (id: string) => exchange(url, { method: "DELETE", headers: { "mcp-session-id": id } }).catch(() => undefined);

  function sseOrJson(answer: Answer): unknown[] {
    if (String(answer.headers["content-type"]).startsWith("text/event-stream")) return sseMessages(answer.body);
    const parsed = JSON.parse(answer.body) as unknown;
    return Array.isArray(parsed) ? parsed : [parsed];
  }

  /** The process is alive, /healthz answers, and a fresh well-formed session initializes, lists tools and calls f_echo. */
  let runCount = 0;
  async function expectGatewayWorks(): Promise<void> {
    if (process.env.FUZZ_DEBUG && ++runCount % 25 === 0) console.log(`run ${runCount} at ${Date.now() - started} ms`);
    expect(gateway.child.exitCode, `gateway exited:\n${gateway.output().slice(-3000)}`).to.equal(null);
    const healthz = await exchange(new URL("/healthz", url), { method: "GET", headers: {} }, 5_000);
    expect(healthz.status, "/healthz").to.equal(200);
    const session = await openSession();
    try {
      const headers = { "mcp-session-id": session.id, "mcp-protocol-version": session.version };
      const list = sseOrJson(await post({ jsonrpc: "2.0", id: "list", method: "tools/list" }, headers))[0] as JsonRpcReply;
      expect((list.result?.tools as Array<{ name: string }>).map((tool) => tool.name)).to.include("f_echo");
      const call = sseOrJson(await post({ jsonrpc: "2.0", id: "echo", method: "tools/call", params: { name: "f_echo", arguments: { text: "still here" } } }, headers))[0] as JsonRpcReply;
      expect(call, "f_echo in a fresh session").to.deep.equal({ jsonrpc: "2.0", id: "echo", result: { content: [{ type: "text", text: "still here" }] } });
    } finally {
      await closeSession(session.id);
    }
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
    await eventually(async () => serverStatus(await fetchStatus(gateway.baseUrl), "fuzz/fixture")?.ready, 10_000, "fixture upstream ready");
    const session = await openSession();
    const list = sseOrJson(await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": session.id }))[0] as JsonRpcReply;
    catalog = new Set((list.result?.tools as Array<{ name: string }>).map((tool) => tool.name));
    await closeSession(session.id);
    console.log(`      fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}), scale ${SCALE}`);
  });

  after(async () => {
    console.log(`      fuzz suite took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await gateway?.stop();
    await upstream?.stop();
  });

  // ---- 1. bodies ----

  const acceptVariant = fc.constantFrom<[AcceptKind, string]>(
    ["both", "application/json, text/event-stream"],
    ["json", "application/json"],
    ["sse", "text/event-stream"],
    ["both", "*/*"],
  );

  it("POST without a session: any body gets a JSON-RPC refusal or an initialize result", async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb(MAX_BODY_BYTES, messageText, batchText), framingArb, acceptVariant, async (body, framing, [kind, accept]) => {
        const bytes = renderBody(body);
        const answer = await exchange(url, { method: "POST", headers: goodHeaders({}, accept), body: bytes, framing });
        checkPost(answer, expectPost(bytes, { session: "none", batches: false }), kind);
        const created = answer.headers["mcp-session-id"];
        if (typeof created === "string") await closeSession(created);
        await expectGatewayWorks();
      }),
      runs(150),
    );
  });

  it("POST in a 2025-06-18 session: messages, junk and batches are answered per JSON-RPC", async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb(MAX_BODY_BYTES, messageText, batchText), framingArb, acceptVariant, async (body, framing, [kind, accept]) => {
        const session = await openSession("2025-06-18");
        try {
          const bytes = renderBody(body);
          const answer = await exchange(url, { method: "POST", headers: goodHeaders({ "mcp-session-id": session.id, "mcp-protocol-version": session.version }, accept), body: bytes, framing });
          checkPost(answer, expectPost(bytes, { session: "valid", batches: false }), kind);
          const created = answer.headers["mcp-session-id"];
          if (typeof created === "string") await closeSession(created);
        } finally {
          await closeSession(session.id);
        }
        await expectGatewayWorks();
      }),
      runs(150),
    );
  });

  it("POST in a 2025-03-26 session: batches get exactly one response per request", async () => {
    const batchBody: fc.Arbitrary<Body> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("json" as const), node: plausibleBatchText as fc.Arbitrary<JsonNode>, prefix: fc.constant(""), suffix: fc.constant("") }), weight: 6 },
      { arbitrary: bodyArb(MAX_BODY_BYTES, messageText, batchText), weight: 3 },
    );
    await fc.assert(
      fc.asyncProperty(batchBody, framingArb, acceptVariant, fc.boolean(), async (body, framing, [kind, accept], sendVersion) => {
        const session = await openSession("2025-03-26");
        try {
          const bytes = renderBody(body);
          const headers = goodHeaders({ "mcp-session-id": session.id, "mcp-protocol-version": sendVersion ? session.version : undefined }, accept);
          const answer = await exchange(url, { method: "POST", headers, body: bytes, framing });
          checkPost(answer, expectPost(bytes, { session: "valid", batches: true }), kind);
          const created = answer.headers["mcp-session-id"];
          if (typeof created === "string") await closeSession(created);
        } finally {
          await closeSession(session.id);
        }
        await expectGatewayWorks();
      }),
      runs(150),
    );
  });

  // ---- 2. headers ----

  it("POST with arbitrary Host, Origin, Content-Type, Accept, MCP-Protocol-Version and Mcp-Session-Id", async () => {
    const bodies = fc.constantFrom("initialize", "ping", "tools/list", "notification");
    await fc.assert(
      fc.asyncProperty(headerInputArb, bodies, async (input, which) => {
        const session = await openSession("2025-06-18");
        try {
          const { headers, session: state, guard } = resolveHeaders(input, port, session.id);
          const message =
            which === "initialize"
              ? { jsonrpc: "2.0", id: "h-init", method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } }
              : which === "notification"
                ? { jsonrpc: "2.0", method: "notifications/initialized" }
                : { jsonrpc: "2.0", id: `h-${which}`, method: which };
          const bytes = Buffer.from(JSON.stringify(message));
          const answer = await exchange(url, { method: "POST", headers, body: bytes });
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
          const created = answer.headers["mcp-session-id"];
          if (typeof created === "string") await closeSession(created);
        } finally {
          await closeSession(session.id);
        }
        await expectGatewayWorks();
      }),
      runs(200),
    );
  });

  // ---- 3. other HTTP methods ----

  it("GET, DELETE, PUT and PATCH with arbitrary headers", async () => {
    const methods = fc.constantFrom("GET", "DELETE", "PUT", "PATCH");
    const optionalBody = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(methods, headerInputArb, optionalBody, async (method, input, body) => {
        const session = await openSession("2025-06-18");
        const check = async () => {
          const { headers, session: state, guard } = resolveHeaders(input, port, session.id);
          const answer = await exchange(url, { method, headers, body: body ? Buffer.from(body) : undefined });
          const versionKnown = input.version.label === "ok" || input.version.label === "bad";
          if (guard === "bad") {
            checkRefusal(answer);
            return expect(answer.status, "foreign Host or Origin").to.equal(403);
          }
          if (answer.status >= 400) checkRefusal(answer);
          if (guard === "unknown") {
            if (answer.status < 400) expect(answer.status).to.equal(200);
            return;
          }
          if (method === "PUT" || method === "PATCH") {
            expect(answer.status).to.equal(405);
            expect(answer.headers.allow).to.equal("GET, POST, DELETE");
            return;
          }
          if (method === "GET" && (input.accept.label === "json" || input.accept.label === "none")) {
            expect(answer.status, "GET without text/event-stream in Accept").to.equal(406);
            return;
          }
          if (method === "GET" && input.accept.label === "unknown") return;
          if (state === "missing") expect(answer.status, "no session id").to.equal(400);
          else if (state === "unknown") expect(answer.status, "unknown session id").to.equal(404);
          else if (input.version.label === "bad") expect(answer.status, "unsupported MCP-Protocol-Version").to.equal(400);
          else if (versionKnown || answer.status < 400) {
            expect(answer.status, `${method} of a live session`).to.equal(200);
            if (method === "GET") expect(answer.stream, "GET opens an event stream").to.equal(true);
            else {
              expect(answer.body, "DELETE answers with an empty body").to.equal("");
              const after = await post({ jsonrpc: "2.0", id: 1, method: "ping" }, { "mcp-session-id": session.id });
              expect(after.status, "a deleted session is gone").to.equal(404);
            }
          }
        };
        try {
          await check();
        } finally {
          await closeSession(session.id);
        }
        await expectGatewayWorks();
      }),
      runs(150),
    );
  });

  // ---- 4. tools/call ----

  const validIdText = idText.filter((node) => isId(JSON.parse(node.render())));

  it("tools/call with arbitrary name and arguments is answered under its id, never with a gateway or upstream failure", async () => {
    const callArb = fc.record({
      id: validIdText,
      name: fc.option(toolNameText, { nil: undefined, freq: 10 }),
      arguments: fc.option(toolArgumentsText, { nil: undefined, freq: 6 }),
      extra: fc.array(fc.tuple(fc.constantFrom("_meta", "task", ...DANGEROUS_KEYS), jsonText), { maxLength: 1 }),
    });
    await fc.assert(
      fc.asyncProperty(callArb, acceptVariant, async (call, [kind, accept]) => {
        const session = await openSession("2025-06-18");
        const check = async () => {
          const params = new JsonObject([...obj({ name: call.name, arguments: call.arguments }).members, ...call.extra]);
          const text = `{"jsonrpc":"2.0","id":${call.id.render()},"method":"tools/call","params":${params.render()}}`;
          const bytes = Buffer.from(text);
          const answer = await exchange(url, { method: "POST", headers: goodHeaders({ "mcp-session-id": session.id, "mcp-protocol-version": session.version }, accept), body: bytes });
          if (bytes.length > MAX_BODY_BYTES) {
            checkRefusal(answer);
            expect(answer.status).to.equal(413);
            return;
          }
          const id = JSON.parse(call.id.render()) as Id;
          const [response] = checkAnswered(answer, { batch: false, requests: [{ id, method: "tools/call" }] }, kind);
          const parsed = JSON.parse(text) as { params: { name?: unknown; arguments?: unknown } };
          const name = parsed.params.name;
          const args = parsed.params.arguments;
          if (response?.error) {
            // The upstream is healthy and the gateway is fine: input problems are -32602 (or the upstream's own verdict), not an outage.
            expect([-32010, -32011, -32603, -32000, -32001], `error for a bad call must not blame the upstream or the gateway: ${JSON.stringify(response.error)}`).to.not.include(
              response.error.code,
            );
          }
          if (typeof name !== "string" || name === "") {
            expect(response?.error?.code, "tools/call without a usable name").to.equal(-32602);
          } else if (!catalog.has(name)) {
            expect(response?.error, "unknown tool").to.deep.equal({ code: -32602, message: `Unknown tool: ${name}` });
          } else if (name === "f_echo" && isPlainObject(args) && typeof args.text === "string" && response?.result) {
            expect(response.result.content, "f_echo returns its text unchanged").to.deep.equal([{ type: "text", text: args.text }]);
          } else if (name === "f_add" && isPlainObject(args) && typeof args.a === "number" && typeof args.b === "number" && Number.isFinite(args.a + args.b) && response?.result) {
            expect((response.result.structuredContent as { sum: number }).sum === args.a + args.b, "f_add sums").to.equal(true);
          }
        };
        try {
          await check();
        } finally {
          await closeSession(session.id);
        }
        await expectGatewayWorks();
      }),
      runs(200),
    );
  });

  // ---- 5. initialize ----

  it("initialize with arbitrary params: a refusal with its id, or a session that works", async () => {
    const dangerousObject = fc.array(fc.tuple(fc.constantFrom(...DANGEROUS_KEYS), jsonText), { minLength: 1, maxLength: 2 }).map((members) => new JsonObject(members) as JsonNode);
    const infoValue = fc.oneof(stringText, jsonText, dangerousObject);
    const initArb = fc.record({
      id: validIdText,
      protocolVersion: fc.option(fc.oneof(fc.constantFrom("2025-06-18", "2025-03-26", "2025-11-25", "2024-11-05", "1999-01-01").map(str), jsonText), { nil: undefined }),
      capabilities: fc.option(
        fc.oneof(
          fc.constant<JsonNode>(raw("{}")),
          fc.record({ sampling: jsonText, elicitation: jsonText, roots: jsonText, experimental: jsonText }, { requiredKeys: [] }).map((m) => obj(m)),
          objectText,
          jsonText,
        ),
        { nil: undefined },
      ),
      clientInfo: fc.option(fc.oneof(fc.record({ name: infoValue, version: infoValue }, { requiredKeys: [] }).map((m) => obj(m) as JsonNode), jsonText), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(initArb, acceptVariant, async (init, [kind, accept]) => {
        await checkInitialize(init, kind, accept);
        await expectGatewayWorks();
      }),
      runs(150),
    );
    async function checkInitialize(init: { id: JsonNode; protocolVersion?: JsonNode; capabilities?: JsonNode; clientInfo?: JsonNode }, kind: AcceptKind, accept: string) {
        const params = obj({ protocolVersion: init.protocolVersion, capabilities: init.capabilities, clientInfo: init.clientInfo });
        const text = `{"jsonrpc":"2.0","id":${init.id.render()},"method":"initialize","params":${params.render()}}`;
        const bytes = Buffer.from(text);
        const answer = await exchange(url, { method: "POST", headers: goodHeaders({}, accept), body: bytes });
        const id = JSON.parse(init.id.render()) as Id;
        if (bytes.length > MAX_BODY_BYTES) {
          checkRefusal(answer);
          return;
        }
        if (answer.status !== 200) {
          const refusal = checkRefusal(answer, [id]);
          expect(idKey(refusal.id), "a refused initialize carries its request id").to.equal(idKey(id));
          return;
        }
        const [response] = checkAnswered(answer, { batch: false, requests: [{ id, method: "initialize" }] }, kind);
        const sessionId = answer.headers["mcp-session-id"];
        if (!response?.result) return;
        expect(sessionId, "initialize result comes with a session").to.be.a("string");
        try {
          // The gateway accepted this session, so it has to be usable.
          const version = response.result.protocolVersion as string;
          const call = await post({ jsonrpc: "2.0", id: "after-init", method: "tools/call", params: { name: "f_echo", arguments: { text: "usable" } } }, {
            "mcp-session-id": sessionId as string,
            "mcp-protocol-version": version,
          });
          expect(sseOrJson(call)[0], "f_echo in the session this initialize opened").to.deep.equal({ jsonrpc: "2.0", id: "after-init", result: { content: [{ type: "text", text: "usable" }] } });
        } finally {
          await closeSession(sessionId as string);
        }
    }
  });

  it("logged no uncaught exception or unhandled rejection", () => {
    expect(gateway.output()).to.not.match(/uncaught exception|unhandled rejection/);
    expect(gateway.child.exitCode).to.equal(null);
  });
});
