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
import { mcpMessages, sseMessages } from "../helpers/http.js";
import { registryYaml, serverReady } from "../helpers/registry.js";

const MAX_BODY_BYTES = 65_536;
/**
 * A gateway may refuse JSON nested deeper than this as a whole (HTTP 400, -32600): a nesting limit is a
 * legitimate defence. It must not answer anything else for it (an upstream outage, a 5xx, a reset).
 */
const DEPTH_ANYONE_MAY_REFUSE = 64;

/** Deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count). */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") max = Math.max(max, ++depth);
    else if (c === "]" || c === "}") depth--;
  }
  return max;
}
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
  if (!hasResult && !hasError) return "invalid";
  // JSON-RPC 2.0: "Either the result member or error member MUST be included, but both members MUST NOT be
  // included". The gateway accepts such a message when one of the two is malformed; its own property pins
  // that down below, so the other properties do not all stop at it.
  if (hasResult && hasError) return "ambiguous";
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
  /** Nested deeper than DEPTH_ANYONE_MAY_REFUSE: a 400 -32600 refusal of the whole body is acceptable too. */
  deep?: boolean;
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
  const base = { batch, requests, ids, deep: nestingDepth(bytes.toString("utf8")) > DEPTH_ANYONE_MAY_REFUSE };
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
  if (exp.deep && answer.status === 400 && /"code":-32600\b/.test(answer.body)) {
    checkRefusal(answer, exp.ids, -32600);
    return;
  }
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
    weight: 8,
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
  { arbitrary: labelled("ok", undefined), weight: 6 },
  // The gateway's own origin: same scheme (http), host and port as the Host header.
  { arbitrary: labelled("same", "http://$ORIGINHOST:$PORT"), weight: 2 },
  {
    arbitrary: labelled("bad", "null", "http://$ORIGINHOST:6274", "https://$ORIGINHOST:$PORT", "http://evil.example", "http://127.0.0.2:$PORT", "http://localhost.evil.example", "not a url", "", "http://"),
    weight: 3,
  },
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
  // Same origin only when the Host names the port too: a bare "localhost" Host means port 80.
  const sameOrigin = input.host.label !== "ok" ? input.host.label : input.host.value.endsWith(":$PORT") ? "ok" : "bad";
  const originLabel = input.origin.label === "same" ? sameOrigin : input.origin.label;
  const guard = input.host.label === "bad" || originLabel === "bad" ? "bad" : input.host.label === "unknown" || originLabel === "unknown" ? "unknown" : "ok";
  return { headers, session, guard };
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
