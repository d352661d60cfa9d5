// Upstreams that are one bidirectional stream of JSON-RPC messages (a legacy SSE connection, a
// stdio process, the in-process OpenAPI server) behind the UpstreamConnector interface. Each
// upstream session is one channel, opened by its initialize and named by an id of our own; a
// response finds its request by id, other messages follow relatedRequest. A channel that ends
// fails what waits on it, and the next request on that session hears SessionExpiredError, so
// UpstreamSession opens a new channel (a new process, a new SSE connection) and retries once.
import { randomUUID } from "node:crypto";
import { classify, errorResponse, ErrorCode, type JsonRpcId } from "../mcp/jsonrpc.js";
import { progressTokenOf, relatedRequest } from "../mcp/related-request.js";
import type { SessionHeaders, UpstreamConnector, UpstreamTarget } from "./connector.js";
import { SessionExpiredError, UpstreamProtocolError } from "./errors.js";
import type { RequestAbort } from "./request-abort.js";

export interface MessageChannel {
  /** Delivers one serialized JSON-RPC message; rejects when it cannot. */
  send(message: string): Promise<void>;
  /** Ends the channel; closed() is not called for an end asked for. */
  close(): Promise<void>;
}

export interface ChannelEvents {
  message(message: unknown): void;
  /** The channel ended on its own (the process exited, the stream dropped), with why. */
  closed(reason: Error): void;
}

/** Opens a channel to a target; signal aborts the opening. */
export type ChannelOpener = (target: UpstreamTarget, events: ChannelEvents, signal?: AbortSignal) => Promise<MessageChannel>;

interface Waiter {
  id: JsonRpcId;
  progressToken?: unknown;
  onMessage(message: unknown): void;
  resolve(): void;
  reject(err: unknown): void;
}

interface OpenChannel {
  channel: MessageChannel;
  waiters: Map<JsonRpcId, Waiter>;
  listeners: Set<{ onMessage(message: unknown): void; ended(): void }>;
}

export class ChannelConnector implements UpstreamConnector {
  private readonly channels = new Map<string, OpenChannel>();

  constructor(private readonly open: ChannelOpener) {}

  has(sessionId: string): boolean {
    return this.channels.has(sessionId);
  }

  async post(target: UpstreamTarget, session: SessionHeaders, body: string, onMessage: (message: unknown) => void, abort?: RequestAbort, onSessionId?: (sessionId: string) => void): Promise<void> {
    let open: OpenChannel;
    if (session.sessionId === undefined) {
      const id = randomUUID();
      open = await this.connect(id, target, abort?.signal);
      onSessionId?.(id);
    } else {
      const found = this.channels.get(session.sessionId);
      if (!found) throw new SessionExpiredError();
      open = found;
    }
    const classified = classify(JSON.parse(body));
    if (classified.kind !== "request") {
      await open.channel.send(body);
      return;
    }
    const request = classified.message;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        open.waiters.delete(request.id);
        reject(abort?.reason ?? new Error("aborted"));
      };
      if (abort?.aborted) return onAbort();
      abort?.onAbort(onAbort);
      const settle = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => {
        abort?.onAbort(undefined);
        open.waiters.delete(request.id);
        fn(...args);
      };
      open.waiters.set(request.id, { id: request.id, progressToken: progressTokenOf(request.params), onMessage, resolve: settle(resolve), reject: settle(reject) });
      open.channel.send(body).catch(settle(reject));
    });
  }

  listen(_target: UpstreamTarget, session: SessionHeaders, onMessage: (message: unknown) => void, signal: AbortSignal, onOpen?: () => void): Promise<boolean> {
    const open = session.sessionId === undefined ? undefined : this.channels.get(session.sessionId);
    if (!open) return Promise.reject(new SessionExpiredError());
    return new Promise((resolve) => {
      const listener = {
        onMessage,
        ended: () => {
          open.listeners.delete(listener);
          resolve(true);
        },
      };
      open.listeners.add(listener);
      signal.addEventListener("abort", listener.ended, { once: true });
      onOpen?.();
    });
  }

  async terminate(_target: UpstreamTarget, session: SessionHeaders): Promise<void> {
    const open = session.sessionId === undefined ? undefined : this.channels.get(session.sessionId);
    if (!open || session.sessionId === undefined) return;
    this.end(session.sessionId, open, new UpstreamProtocolError("upstream session closed"));
    await open.channel.close().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.channels.keys()].map((sessionId) => this.terminate({ url: "", headers: {} }, { sessionId })));
  }

  private async connect(id: string, target: UpstreamTarget, signal?: AbortSignal): Promise<OpenChannel> {
    const opened: { channel?: OpenChannel; endedEarly?: Error } = {};
    // A server may speak before it was asked anything; with nobody waiting yet, that is dropped.
    const events: ChannelEvents = {
      message: (message) => opened.channel && this.deliver(opened.channel, message),
      closed: (reason) => (opened.channel ? this.end(id, opened.channel, reason) : (opened.endedEarly = reason)),
    };
    const channel = await this.open(target, events, signal);
    if (opened.endedEarly) throw opened.endedEarly;
    const open: OpenChannel = { channel, waiters: new Map(), listeners: new Set() };
    opened.channel = open;
    this.channels.set(id, open);
    return open;
  }

  private deliver(open: OpenChannel, raw: unknown): void {
    const classified = classify(raw);
    if (classified.kind === "invalid") return;
    const message = classified.message;
    if (classified.kind === "response") {
      const waiter = classified.message.id === null ? undefined : open.waiters.get(classified.message.id);
      if (waiter) {
        waiter.onMessage(message);
        waiter.resolve();
      }
      return;
    }
    const method = (message as { method: string }).method;
    const waiter = relatedRequest(message as { method: string; params?: Record<string, unknown> }, open.waiters.values());
    if (waiter) {
      waiter.onMessage(message);
    } else if (open.listeners.size > 0) {
      for (const listener of open.listeners) listener.onMessage(message);
    } else if (classified.kind === "request") {
      // Nobody could answer it: say so instead of letting the server wait for its timeout.
      open.channel.send(JSON.stringify(errorResponse(classified.message.id, ErrorCode.InternalError, `no client stream to receive ${method}`))).catch(() => undefined);
    }
  }

  private end(id: string, open: OpenChannel, reason: Error): void {
    if (this.channels.get(id) !== open) return;
    this.channels.delete(id);
    for (const waiter of [...open.waiters.values()]) waiter.reject(reason);
    for (const listener of [...open.listeners]) listener.ended();
  }
}
