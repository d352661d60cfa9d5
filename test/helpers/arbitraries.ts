// fast-check generators for fuzzing /mcp: JSON texts (including what JSON.stringify cannot
// produce: 1e400, -0, 30-digit integers, lone surrogates, 10,000-deep nesting, duplicate and
// prototype-named keys), JSON-RPC-shaped messages and batches, raw bodies, and header values.
// Values are small syntax trees rendered to text only when sent, so counterexamples print
// compactly (a deep nest shows as deep(array×4700), not as 9,400 brackets) and shrink well.
import fc from "fast-check";

// ---- JSON syntax trees ----

export abstract class JsonNode {
  /** The JSON text sent on the wire. */
  abstract render(): string;
  /** How fast-check prints the node in a counterexample. */
  abstract show(): string;
  [fc.toStringMethod](): string {
    return this.show();
  }
}

function abbreviate(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 40)}…(${text.length} chars)`;
}

/** A literal token exactly as written: a number, a string with its quotes, true, false or null. */
export class JsonRaw extends JsonNode {
  constructor(readonly text: string) {
    super();
  }
  render(): string {
    return this.text;
  }
  show(): string {
    return abbreviate(this.text);
  }
}

export class JsonArray extends JsonNode {
  constructor(readonly items: JsonNode[]) {
    super();
  }
  render(): string {
    return `[${this.items.map((item) => item.render()).join(",")}]`;
  }
  show(): string {
    return `[${this.items.map((item) => item.show()).join(",")}]`;
  }
}

/** An object as a list of members, so "__proto__" is an ordinary key and a key may repeat. */
export class JsonObject extends JsonNode {
  constructor(readonly members: Array<[string, JsonNode]>) {
    super();
  }
  render(): string {
    return `{${this.members.map(([key, value]) => `${JSON.stringify(key)}:${value.render()}`).join(",")}}`;
  }
  show(): string {
    return `{${this.members.map(([key, value]) => `${JSON.stringify(key)}:${value.show()}`).join(",")}}`;
  }
  get(key: string): JsonNode | undefined {
    let found: JsonNode | undefined;
    for (const [name, value] of this.members) if (name === key) found = value; // JSON.parse: the last one wins
    return found;
  }
}

/** depth nested arrays ([[[leaf]]]) or objects ({"a":{"a":leaf}}) around a leaf. */
export class JsonDeep extends JsonNode {
  constructor(
    readonly kind: "array" | "object",
    readonly depth: number,
    readonly leaf: JsonNode,
  ) {
    super();
  }
  render(): string {
    const leaf = this.leaf.render();
    return this.kind === "array" ? "[".repeat(this.depth) + leaf + "]".repeat(this.depth) : '{"a":'.repeat(this.depth) + leaf + "}".repeat(this.depth);
  }
  show(): string {
    return `deep(${this.kind}×${this.depth}, ${this.leaf.show()})`;
  }
}

export const raw = (text: string) => new JsonRaw(text);
export const str = (value: string) => new JsonRaw(JSON.stringify(value));
export const obj = (members: Record<string, JsonNode | undefined>) =>
  new JsonObject(Object.entries(members).filter((entry): entry is [string, JsonNode] => entry[1] !== undefined));

// ---- scalars ----

/** Property names that are also Object.prototype members: String(), spread and maps trip on them. */
export const DANGEROUS_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "toJSON", "hasOwnProperty", "then", "length"];

export const numberText: fc.Arbitrary<JsonNode> = fc
  .oneof(
    fc.integer().map(String),
    fc.integer({ min: -1, max: 3 }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
    fc.constantFrom("-0", "0.0", "1.5", "-1", "1E+2", "1e400", "-1e400", "1e-400", "9007199254740993", "123456789012345678901234567890", "5e-324"),
  )
  .map(raw);

const escapedStrings = ['"\\ud800"', '"\\udc00x"', '"\\u0000"', '"a\\"b"', '"\\/"', '"\\uFEFF"', '"\\u2028"'];

export const stringText: fc.Arbitrary<JsonNode> = fc.oneof(
  fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom("", "2.0", " ", ...DANGEROUS_KEYS)).map(str),
  fc.constantFrom(...escapedStrings).map(raw),
);

export const scalarText: fc.Arbitrary<JsonNode> = fc.oneof(numberText, stringText, fc.constantFrom("true", "false", "null").map(raw));

export const keyArb: fc.Arbitrary<string> = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...DANGEROUS_KEYS));

/** Nesting far past what a recursive JSON.stringify survives (about 4,500 levels in Node 24). */
export const deepText: fc.Arbitrary<JsonNode> = fc
  .tuple(fc.constantFrom<"array" | "object">("array", "object"), fc.integer({ min: 1, max: 10_000 }), scalarText)
  .map(([kind, depth, leaf]) => new JsonDeep(kind, depth, leaf));

/** Any JSON value: scalars, small containers with dangerous keys, sometimes a deep nest. */
export const jsonText: fc.Arbitrary<JsonNode> = fc.letrec<{ value: JsonNode }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { arbitrary: scalarText, weight: 4 },
    { arbitrary: fc.array(tie("value"), { maxLength: 4 }).map((items) => new JsonArray(items)), weight: 2 },
    { arbitrary: fc.array(fc.tuple(keyArb, tie("value")), { maxLength: 4 }).map((members) => new JsonObject(members)), weight: 2 },
    { arbitrary: deepText, weight: 1 },
  ),
})).value;

export const objectText: fc.Arbitrary<JsonNode> = fc.array(fc.tuple(keyArb, jsonText), { maxLength: 4 }).map((members) => new JsonObject(members));

// ---- MCP vocabulary ----

export const KNOWN_METHODS = [
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "completion/complete",
  "logging/setLevel",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
  "notifications/roots/list_changed",
  "no/such/method",
];

/**
 * Fixture tools that answer on their own. f_slow, f_sample, f_elicit and f_roots are left out on
 * purpose: they wait (for a timer, or for the client to answer a server-to-client request), which
 * is correct behaviour but would only spend the fuzz budget waiting for the upstream timeout.
 */
export const SAFE_TOOLS = ["f_echo", "f_add", "f_whoami", "f_fail", "f_log"];

/** tools/call names: fixture tools, near misses, random strings and values that are not strings. */
export const toolNameText: fc.Arbitrary<JsonNode> = fc.oneof(
  { arbitrary: fc.constantFrom(...SAFE_TOOLS).map(str), weight: 4 },
  { arbitrary: fc.constantFrom("f_", "echo", "F_ECHO", "f_echo ", "f_nope", "f_slowly", "").map(str), weight: 2 },
  { arbitrary: stringText, weight: 1 },
  { arbitrary: jsonText, weight: 1 },
);

/** tools/call arguments: what the fixture tools expect, near misses, and anything at all. */
export const toolArgumentsText: fc.Arbitrary<JsonNode> = fc.oneof(
  fc.record({ text: stringText }).map((members) => obj(members)),
  fc.record({ a: numberText, b: numberText }).map((members) => obj(members)),
  fc.record({ level: fc.constantFrom("debug", "info", "error", "bogus").map(str), message: stringText }).map((members) => obj(members)),
  fc.record({ text: jsonText, extra: jsonText }, { requiredKeys: [] }).map((members) => obj(members)),
  objectText,
  jsonText,
);

export const toolsCallParams: fc.Arbitrary<JsonNode> = fc
  .record(
    { name: toolNameText, arguments: toolArgumentsText, _meta: fc.oneof(objectText, fc.constant<JsonNode>(obj({ progressToken: raw("1") }))) },
    { requiredKeys: [] },
  )
  .map((members) => obj(members));

const uriText = fc.oneof(fc.constantFrom("fixture://fx/readme", "fixture://fx/items/1", "fixture://fx/items/", "fixture://other/readme", "").map(str), stringText, jsonText);

/** params shaped for the methods the gateway routes, plus anything at all. */
export const paramsText: fc.Arbitrary<JsonNode> = fc.oneof(
  { arbitrary: toolsCallParams, weight: 3 },
  { arbitrary: fc.record({ uri: uriText }).map((members) => obj(members)), weight: 1 },
  { arbitrary: fc.record({ name: fc.oneof(fc.constantFrom("f_greeting", "greeting").map(str), jsonText), arguments: jsonText }, { requiredKeys: [] }).map((m) => obj(m)), weight: 1 },
  {
    arbitrary: fc
      .record({ ref: fc.oneof(fc.constant<JsonNode>(obj({ type: str("ref/prompt"), name: str("f_greeting") })), jsonText), argument: jsonText }, { requiredKeys: [] })
      .map((m) => obj(m)),
    weight: 1,
  },
  { arbitrary: fc.record({ level: fc.oneof(fc.constantFrom("debug", "emergency", "loud").map(str), jsonText) }).map((m) => obj(m)), weight: 1 },
  { arbitrary: fc.record({ cursor: fc.oneof(fc.constantFrom(Buffer.from("o:1").toString("base64url"), Buffer.from("o:999999999").toString("base64url"), "").map(str), jsonText) }).map((m) => obj(m)), weight: 1 },
  { arbitrary: fc.record({ requestId: jsonText, reason: jsonText }, { requiredKeys: [] }).map((m) => obj(m)), weight: 1 },
  { arbitrary: objectText, weight: 2 },
  { arbitrary: jsonText, weight: 1 },
);

// ---- JSON-RPC messages and batches ----

export const idText: fc.Arbitrary<JsonNode> = fc.oneof(
  { arbitrary: fc.integer({ min: -5, max: 1000 }).map((n) => raw(String(n))), weight: 3 },
  { arbitrary: fc.string({ maxLength: 10 }).map(str), weight: 3 },
  { arbitrary: numberText, weight: 2 },
  { arbitrary: stringText, weight: 1 },
  { arbitrary: fc.constant(raw("null")), weight: 1 },
  { arbitrary: jsonText, weight: 1 },
);

const jsonrpcText: fc.Arbitrary<JsonNode> = fc.oneof(
  { arbitrary: fc.constant(str("2.0")), weight: 20 },
  { arbitrary: fc.constantFrom('"1.0"', '"2.0 "', '"2"', "2", "2.0", "null", '"2.00"').map(raw), weight: 1 },
  { arbitrary: jsonText, weight: 1 },
);

const methodText: fc.Arbitrary<JsonNode> = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN_METHODS).map(str), weight: 8 },
  { arbitrary: fc.string({ maxLength: 16 }).map(str), weight: 1 },
  { arbitrary: jsonText, weight: 1 },
);

const errorText: fc.Arbitrary<JsonNode> = fc.oneof(
  fc.record({ code: numberText, message: stringText, data: jsonText }, { requiredKeys: [] }).map((m) => obj(m)),
  jsonText,
);

/** A single message: mostly a plausible request or notification, sometimes a response, sometimes junk. */
export const messageText: fc.Arbitrary<JsonObject> = fc
  .record(
    {
      // Mostly requests/notifications: result/error rarely come along with a method.
      shape: fc.oneof({ arbitrary: fc.constant("message"), weight: 6 }, fc.constant("response"), fc.constant("any")),
      jsonrpc: jsonrpcText,
      id: idText,
      method: methodText,
      params: paramsText,
      result: fc.oneof(objectText, jsonText),
      error: errorText,
      extra: fc.array(fc.tuple(keyArb, jsonText), { maxLength: 2 }),
    },
    { requiredKeys: ["shape"] },
  )
  .map(({ shape, extra, ...rest }) => {
    const members = shape === "message" ? { ...rest, result: undefined, error: undefined } : shape === "response" ? { ...rest, method: undefined, params: undefined } : rest;
    return new JsonObject([...obj(members).members, ...(extra ?? [])]);
  });

/** A batch: several messages, sometimes with nested arrays or plain values inside; possibly empty. */
export const batchText: fc.Arbitrary<JsonArray> = fc
  .array(
    fc.oneof(
      { arbitrary: messageText as fc.Arbitrary<JsonNode>, weight: 6 },
      { arbitrary: fc.array(messageText, { maxLength: 2 }).map((items) => new JsonArray(items)) as fc.Arbitrary<JsonNode>, weight: 1 },
      { arbitrary: jsonText, weight: 1 },
    ),
    { maxLength: 6 },
  )
  .map((items) => new JsonArray(items));

/** Ids a careful client uses: integers and short strings (and the odd float or huge number). */
export const plausibleIdText: fc.Arbitrary<JsonNode> = fc.oneof(
  { arbitrary: fc.integer({ min: -5, max: 1000 }).map((n) => raw(String(n))), weight: 4 },
  { arbitrary: fc.string({ maxLength: 10 }).map(str), weight: 4 },
  { arbitrary: fc.constantFrom("1.5", "-0", "9007199254740993", "123456789012345678901234567890").map(raw), weight: 1 },
);

/** A request or notification a careful client could send (odd params values included). */
export const plausibleMessageText: fc.Arbitrary<JsonNode> = fc
  .record({
    id: fc.option(plausibleIdText, { nil: undefined, freq: 5 }),
    method: fc.constantFrom(...KNOWN_METHODS.filter((m) => m !== "initialize")).map(str),
    params: fc.option(fc.oneof(toolsCallParams, objectText), { nil: undefined }),
  })
  .map(({ id, method, params }) => obj({ jsonrpc: str("2.0"), id, method, params }));

/** Batches from a client that mostly gets them right: valid requests and notifications, sometimes one bad element. */
export const plausibleBatchText: fc.Arbitrary<JsonArray> = fc
  .array(
    fc.oneof(
      { arbitrary: plausibleMessageText, weight: 12 },
      { arbitrary: messageText as fc.Arbitrary<JsonNode>, weight: 1 },
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((items) => new JsonArray(items));

// ---- bodies ----

export type Body =
  | { kind: "json"; node: JsonNode; prefix: string; suffix: string }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "truncated"; node: JsonNode; keep: number };

export function renderBody(body: Body): Buffer {
  switch (body.kind) {
    case "json":
      return Buffer.from(body.prefix + body.node.render() + body.suffix, "utf8");
    case "bytes":
      return Buffer.from(body.bytes);
    case "truncated": {
      const text = Buffer.from(body.node.render(), "utf8");
      return text.subarray(0, Math.min(body.keep, Math.max(0, text.length - 1)));
    }
  }
}

/** A valid ping of exactly size bytes, for the --max-body-bytes boundary. */
export function paddedPing(size: number): Buffer {
  const head = '{"jsonrpc":"2.0","id":"padded","method":"ping","pad":"';
  const tail = '"}';
  return Buffer.from(head + "x".repeat(Math.max(0, size - head.length - tail.length)) + tail);
}

const wrapper = fc.constantFrom("", "", "", " ", "\n\t", "\uFEFF");

export function bodyArb(messages: fc.Arbitrary<JsonNode>, batches: fc.Arbitrary<JsonNode>): fc.Arbitrary<Body> {
  return fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant("json" as const), node: messages, prefix: wrapper, suffix: wrapper }), weight: 8 },
    { arbitrary: fc.record({ kind: fc.constant("json" as const), node: batches, prefix: wrapper, suffix: wrapper }), weight: 4 },
    { arbitrary: fc.record({ kind: fc.constant("json" as const), node: jsonText, prefix: wrapper, suffix: wrapper }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 200 }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant("truncated" as const), node: messages, keep: fc.nat({ max: 200 }) }), weight: 1 },
  );
}

/** How the body travels: one Content-Length body, or chunked transfer encoding cut at these offsets. */
export interface Framing {
  chunked: boolean;
  cuts: number[];
}

export const framingArb: fc.Arbitrary<Framing> = fc.record({ chunked: fc.boolean(), cuts: fc.array(fc.nat(), { maxLength: 3 }) });

// ---- header values ----

/** Characters Node's HTTP client lets through in a header value (visible ASCII, space, tab, obs-text). */
export const headerValueArb: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof(
    { arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), weight: 10 },
    { arbitrary: fc.constantFrom("\t", "\u00e9", "\u00ff", "\u0080"), weight: 1 },
  ),
  maxLength: 40,
});
