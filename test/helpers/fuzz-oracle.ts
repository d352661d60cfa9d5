// The oracle of the /mcp fuzzing (test/broker/fuzz.test.ts): a model of JSON-RPC 2.0 and the MCP
// transport written from the specs, not from the gateway's code, that says what the gateway must
// answer an input (expectPost) and checks an answer against it (checkPost, checkRefusal,
// checkAnswered); and the header variants the fuzzer sends, each labelled with what it amounts to.
import type { IncomingHttpHeaders } from "node:http";
import { expect } from "chai";
import fc from "fast-check";
import { headerValueArb } from "./arbitraries.js";
import { sseMessages } from "./http.js";

export const MAX_BODY_BYTES = 65_536;
/**
 * A gateway may refuse JSON nested deeper than this as a whole (HTTP 400, -32600): a nesting limit is a
 * legitimate defence. It must not answer anything else for it (an upstream outage, a 5xx, a reset).
 */
export const DEPTH_ANYONE_MAY_REFUSE = 64;

/** Deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count). */
export function nestingDepth(text: string): number {
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

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** A GET event stream, closed by us once its headers arrived. */
  stream: boolean;
}

// ---- the JSON-RPC 2.0 / MCP model (written from the specs, not from the gateway's code) ----

export type Id = string | number;
type Kind = "request" | "notification" | "response" | "invalid" | "ambiguous";

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const isId = (v: unknown): v is Id => typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
/** Ids compared as JSON values: -0 and 0 are the same id, as are a 30-digit integer and its double. */
export const idKey = (id: unknown) => `${typeof id}:${JSON.stringify(id)}`;
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
export function expectPost(bytes: Buffer, ctx: PostContext): Expectation {
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

export interface JsonRpcReply {
  jsonrpc: string;
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
  method?: string;
}

/** A refusal: HTTP 4xx, Content-Type JSON, one JSON-RPC error response with id null or one of the body's ids. */
export function checkRefusal(answer: Answer, ids: Id[] = [], code?: number): JsonRpcReply {
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
export function checkAnswered(answer: Answer, exp: Pick<Expectation, "batch" | "requests">, accept: AcceptKind = "both"): JsonRpcReply[] {
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
export function checkPost(answer: Answer, exp: Expectation, accept: AcceptKind = "both"): void {
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

export type AcceptKind = "both" | "json" | "sse" | "none" | "unknown";

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

export const headerInputArb: fc.Arbitrary<HeaderInput> = fc.record({
  host: hostArb,
  origin: originArb,
  contentType: contentTypeArb,
  accept: acceptArb,
  version: versionArb,
  session: sessionHeaderArb,
});

/** Headers with $PORT/$SID/$ORIGINHOST filled in, and what they amount to ("unknown" = no exact expectation). */
export function resolveHeaders(input: HeaderInput, port: string, sessionId: string) {
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
