// The Streamable HTTP client transport to upstream servers: one POST per message, answers as
// JSON or as an SSE stream, a GET stream for server-initiated messages, DELETE to end a session.
// Built on undici with one shared keep-alive Agent, because fetch costs more per call; the POST of
// every call goes through undici's dispatch API (post-answer.ts), the rest through request().
import type { Readable } from "node:stream";
import { createParser } from "eventsource-parser";
import { Agent, request } from "undici";
import { SessionExpiredError, UpstreamConnectTimeoutError, UpstreamFirstByteTimeoutError, UpstreamProtocolError } from "./errors.js";
import { answerError, LimitedText, PostAnswer, type BodyReader } from "./post-answer.js";
import type { RequestAbort } from "./request-abort.js";

import type { SessionHeaders, UpstreamConnector, UpstreamTarget } from "./connector.js";

export interface UpstreamHttpOptions {
  /** Longest wait for a connection (TCP, and TLS for https). */
  connectTimeoutMs: number;
  /** Longest wait for the response headers of a POST or GET. */
  firstByteTimeoutMs: number;
  /** Longest silence inside a response body. */
  bodyTimeoutMs: number;
  /** Largest JSON response body accepted. */
  maxResponseBytes: number;
}

const ACCEPT_BOTH = "application/json, text/event-stream";

export class UpstreamHttp implements UpstreamConnector {
  readonly agent: Agent;

  constructor(readonly options: UpstreamHttpOptions) {
    // Idle connections are dropped after 4 s: servers such as the SDK's close theirs after 5 s
    // without a Keep-Alive hint, and a request sent on a connection the server is closing fails.
    this.agent = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 600_000, connections: 256, pipelining: 1, connect: { timeout: options.connectTimeoutMs } });
  }

  /** Drops every upstream connection, long-lived GET streams included (close() would wait for them). */
  destroy(): Promise<void> {
    return this.agent.destroy();
  }

  /**
   * Sends one JSON-RPC message and feeds every message of the answer to onMessage, in order.
   * onSessionId sees the upstream's mcp-session-id header as soon as the headers arrive.
   * Resolves when the answer is complete.
   */
  post(
    target: UpstreamTarget,
    session: SessionHeaders,
    body: string,
    onMessage: (message: unknown) => void,
    abort?: RequestAbort,
    onSessionId?: (sessionId: string) => void,
  ): Promise<void> {
    const { origin, path } = splitUrl(target.url);
    const maxBytes = this.options.maxResponseBytes;
    const answer = new PostAnswer({
      session,
      abort,
      nameError: (err) => this.namedError(err),
      onResponse: (status, headers): BodyReader | undefined => {
        const sessionId = headerValue(headers["mcp-session-id"]);
        if (sessionId && onSessionId) onSessionId(sessionId);
        if (status === 202) return undefined;
        const contentType = headerValue(headers["content-type"]) ?? "";
        if (contentType.startsWith("text/event-stream")) return sseReader(maxBytes, messagesOnly(onMessage));
        if (contentType.includes("json")) {
          const text = new LimitedText(maxBytes);
          return {
            feed: (chunk) => text.feed(chunk),
            end: () => {
              for (const message of jsonMessages(text.text())) onMessage(message);
            },
          };
        }
        throw new UpstreamProtocolError(`unexpected content type "${contentType}"`);
      },
    });
    this.agent.dispatch(
      {
        origin,
        path,
        method: "POST",
        headers: this.headers(target, session, { "content-type": "application/json", accept: ACCEPT_BOTH }),
        body,
        headersTimeout: this.options.firstByteTimeoutMs,
        bodyTimeout: this.options.bodyTimeoutMs,
      },
      answer,
    );
    return answer.done;
  }

  /** Opens the server-to-client stream. Resolves false if the server offers none (405), true when the stream ends. */
  async listen(target: UpstreamTarget, session: SessionHeaders, onMessage: (message: unknown) => void, signal: AbortSignal, onOpen?: () => void): Promise<boolean> {
    const res = await request(target.url, {
      method: "GET",
      dispatcher: this.agent,
      headers: this.headers(target, session, { accept: "text/event-stream" }),
      signal,
      headersTimeout: this.options.firstByteTimeoutMs,
      bodyTimeout: 0,
    }).catch(this.nameTimeout);
    if (res.statusCode === 405) {
      await res.body.dump();
      return false;
    }
    await this.rejectErrors(res.statusCode, res.body, session);
    onOpen?.();
    await readSse(res.body, this.options.maxResponseBytes, messagesOnly(onMessage));
    return true;
  }

  /** Ends an upstream session; best effort, since the upstream may already be gone. */
  async terminate(target: UpstreamTarget, session: SessionHeaders): Promise<void> {
    if (!session.sessionId) return;
    try {
      const res = await request(target.url, {
        method: "DELETE",
        dispatcher: this.agent,
        headers: this.headers(target, session, {}),
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
      await res.body.dump();
    } catch {
      // An unreachable upstream has no session left to end.
    }
  }

  /** undici's connect and headers timeouts, as errors that name the timeout and its length for the client. */
  readonly nameTimeout = (err: unknown): never => {
    throw this.namedError(err);
  };

  private namedError(err: unknown): unknown {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === "UND_ERR_CONNECT_TIMEOUT") return new UpstreamConnectTimeoutError(this.options.connectTimeoutMs);
    if (code === "UND_ERR_HEADERS_TIMEOUT") return new UpstreamFirstByteTimeoutError(this.options.firstByteTimeoutMs);
    return err;
  }

  private headers(target: UpstreamTarget, session: SessionHeaders, base: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { ...target.headers, ...base };
    if (session.sessionId) headers["mcp-session-id"] = session.sessionId;
    if (session.protocolVersion) headers["mcp-protocol-version"] = session.protocolVersion;
    return headers;
  }

  async rejectErrors(status: number, body: Readable & { dump(): Promise<void>; text(): Promise<string> }, session: SessionHeaders): Promise<void> {
    if (status >= 200 && status < 300) return;
    if (status === 404 && session.sessionId) {
      await body.dump();
      throw new SessionExpiredError();
    }
    throw answerError(status, await readLimited(body, 4096).catch(() => ""), session);
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** SSE events of the default type (`message`), each one JSON-RPC message. */
function messagesOnly(onMessage: (message: unknown) => void): (data: string, event: string) => void {
  return (data, event) => {
    if (event === "message") onMessage(parseJson(data));
  };
}

/**
 * The messages of a JSON answer: one message or a batch, or (as some servers stream a JSON answer)
 * one message per line. Lines are tried only when the whole text is not JSON, so the usual answer
 * costs one parse.
 */
function jsonMessages(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const lines = text.split("\n").filter((line) => line.trim() !== "");
    if (lines.length < 2) return [parseJson(text)];
    return lines.map(parseJson);
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamProtocolError(`invalid response: not JSON (${JSON.stringify(text.slice(0, 60))})`);
  }
}

/** Feeds each chunk of a body to onChunk until the body ends; a throw from onChunk ends the read with that error. */
function consume(body: Readable, onChunk: (chunk: Buffer) => void): Promise<void> {
  // Data events rather than an async iterator: this runs for every forwarded call.
  return new Promise((resolve, reject) => {
    body.on("data", (chunk: Buffer) => {
      try {
        onChunk(chunk);
      } catch (err) {
        body.destroy();
        reject(err);
      }
    });
    let ended = false;
    body.once("end", () => {
      ended = true;
      resolve();
    });
    body.once("error", reject);
    // Only a close without an end is a failure; building the error costs a stack trace, so only then.
    body.once("close", () => {
      if (!ended) reject(new UpstreamProtocolError("response ended early"));
    });
  });
}

export async function readLimited(body: Readable, maxBytes: number): Promise<string> {
  const text = new LimitedText(maxBytes);
  await consume(body, (chunk) => text.feed(chunk));
  return text.text();
}

/**
 * Reads SSE chunk by chunk, handing each event's data and type (`message` when unnamed) to onData
 * as it arrives. Each event may be up to maxEventBytes; a bigger (or never-ending) one fails the
 * stream instead of growing memory.
 */
export function sseReader(maxEventBytes: number, onData: (data: string, event: string) => void): BodyReader {
  let failure: unknown;
  // Bytes received since the last complete event or comment; reset inside feed(), so the rest of
  // the chunk that completed an event goes uncounted: the limit holds to within one chunk.
  let sinceLastEvent = 0;
  const parser = createParser({
    onComment: () => (sinceLastEvent = 0),
    onEvent: (event) => {
      sinceLastEvent = 0;
      if (failure || !event.data) return;
      try {
        onData(event.data, event.event ?? "message");
      } catch (err) {
        failure = err;
      }
    },
  });
  const decoder = new TextDecoder();
  return {
    feed: (chunk) => {
      sinceLastEvent += chunk.length;
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (failure) throw failure;
      if (sinceLastEvent > maxEventBytes) throw new UpstreamProtocolError(`SSE event larger than ${maxEventBytes} bytes`);
    },
    end: () => undefined,
  };
}

/** An SSE body read to its end; see sseReader. */
export async function readSse(body: Readable, maxEventBytes: number, onData: (data: string, event: string) => void): Promise<void> {
  const reader = sseReader(maxEventBytes, onData);
  await consume(body, (chunk) => reader.feed(chunk));
}

/** Origin and path of an upstream URL, parsed once per URL: new URL() on every call shows in profiles. */
const splitUrls = new Map<string, { origin: string; path: string }>();

function splitUrl(url: string): { origin: string; path: string } {
  let split = splitUrls.get(url);
  if (!split) {
    const parsed = new URL(url);
    split = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    // Bounded: URLs come from the registry; a churning registry only costs re-parsing.
    if (splitUrls.size >= 1024) splitUrls.clear();
    splitUrls.set(url, split);
  }
  return split;
}
