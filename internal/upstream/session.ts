// One MCP client session to one upstream server: the initialize handshake, requests with ids
// of our own (so ids from different clients can never collide upstream), and a single
// transparent re-initialize when the upstream has forgotten the session.
import { randomInt } from "node:crypto";
import { classify, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import { isSupportedProtocolVersion, Method, Notification } from "../mcp/protocol.js";
import { SessionExpiredError, UpstreamProtocolError } from "./errors.js";
import type { UpstreamConnector, UpstreamTarget } from "./connector.js";
import { exchange, type ExchangeOptions } from "./exchange.js";

export interface InitializeResult {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo?: { name?: string; version?: string };
  instructions?: string;
}

/** What another broker replica needs to keep using this upstream session instead of opening one. */
export interface UpstreamState {
  sessionId?: string;
  protocolVersion: string;
  initializeResult: InitializeResult;
}

/**
 * Request ids start at a random offset per process: replicas sharing one upstream session must
 * not send the same id at the same time. 2^31 offsets of 2^20 ids stay below 2^53.
 */
const REQUEST_ID_BASE = randomInt(2 ** 31) * 2 ** 20;

export type SendDuringHandshake = (method: string, params: Params) => Promise<JsonRpcResponse>;

export interface UpstreamSessionOptions {
  target: UpstreamTarget;
  /** The version we ask for; the upstream may answer with another one it prefers. */
  protocolVersion: string;
  clientInfo: { name: string; version: string };
  capabilities: Record<string, unknown>;
  /**
   * Runs after every successful (re-)initialize, before other requests go out (e.g. to restore
   * a log level). It must send through `send`: request() would wait for this very handshake.
   */
  afterInitialize?: (send: SendDuringHandshake, result: InitializeResult) => Promise<void>;
  /** Told of every upstream session this object opens (first and after the upstream forgot one). */
  onOpened?: (state: UpstreamState) => void;
  /** An upstream session another replica opened: used as is, no handshake. */
  adopt?: UpstreamState;
}

export interface RequestOptions extends ExchangeOptions {
  /** The upstream request id is handed over as soon as it is chosen (for cancellation). */
  onUpstreamId?: (id: JsonRpcId) => void;
}

export class UpstreamSession {
  sessionId?: string;
  protocolVersion?: string;
  initializeResult?: InitializeResult;
  /** For closing upstream sessions nobody used for a while. */
  lastUsed = Date.now();
  /** Requests sent and not yet answered: a busy session is never idle. */
  pending = 0;
  private nextId = REQUEST_ID_BASE + 1;
  private initializing?: Promise<void>;
  private closed = false;

  constructor(
    private readonly http: UpstreamConnector,
    readonly options: UpstreamSessionOptions,
  ) {
    const adopted = options.adopt;
    if (adopted) {
      this.sessionId = adopted.sessionId;
      this.protocolVersion = adopted.protocolVersion;
      this.initializeResult = adopted.initializeResult;
      this.initializing = Promise.resolve();
    }
  }

  /** Undefined until initialized. */
  state(): UpstreamState | undefined {
    if (!this.initializeResult || !this.protocolVersion) return undefined;
    return { sessionId: this.sessionId, protocolVersion: this.protocolVersion, initializeResult: this.initializeResult };
  }

  get target(): UpstreamTarget {
    return this.options.target;
  }

  /** Initializes once; concurrent callers share the handshake, a failed one is retried by the next caller. */
  ensureInitialized(timeoutMs: number, authorization?: string): Promise<void> {
    if (this.closed) return Promise.reject(new UpstreamProtocolError("upstream session closed"));
    this.initializing ??= this.initialize(timeoutMs, authorization).catch((err: unknown) => {
      this.initializing = undefined;
      throw err;
    });
    return this.initializing;
  }

  async request(method: string, params: Params | undefined, options: RequestOptions): Promise<JsonRpcResponse> {
    this.pending++;
    try {
      await this.ensureInitialized(options.timeoutMs, options.authorization);
      const expiredSession = this.sessionId;
      try {
        return await this.exchange(method, params, options);
      } catch (err) {
        if (!(err instanceof SessionExpiredError)) throw err;
        // The upstream restarted. Only the first request to notice starts a new handshake.
        if (this.sessionId === expiredSession) this.initializing = undefined;
        await this.ensureInitialized(options.timeoutMs, options.authorization);
        return await this.exchange(method, params, options);
      }
    } finally {
      this.pending--;
      this.lastUsed = Date.now();
    }
  }

  async notify(method: string, params?: Params, authorization?: string): Promise<void> {
    const message = params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params };
    await this.http.post(this.targetWith(authorization), this.headers(), JSON.stringify(message), () => {});
  }

  /** Answers a request the upstream sent us (sampling, elicitation, roots). */
  async reply(response: JsonRpcResponse, authorization?: string): Promise<void> {
    await this.http.post(this.targetWith(authorization), this.headers(), JSON.stringify(response), () => {});
  }

  /** Opens the upstream's server-to-client stream; see UpstreamConnector.listen. */
  listen(onMessage: (message: JsonRpcMessage) => void, signal: AbortSignal, authorization?: string, onOpen?: () => void): Promise<boolean> {
    return this.http.listen(
      this.targetWith(authorization),
      this.headers(),
      (raw) => {
        const classified = classify(raw);
        if (classified.kind !== "invalid") onMessage(classified.message);
      },
      signal,
      onOpen,
    );
  }

  /** Ends the upstream session without waiting for anything in flight (a hung handshake must not hold up shutdown). */
  async close(authorization?: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.http.terminate(this.targetWith(authorization), this.headers());
  }

  /** The target with the client's token of the request being served, when there is one: never a stored one. */
  private targetWith(authorization: string | undefined): UpstreamTarget {
    if (authorization === undefined) return this.target;
    return { ...this.target, headers: { ...this.target.headers, authorization } };
  }

  private headers() {
    return { sessionId: this.sessionId, protocolVersion: this.protocolVersion };
  }

  private async initialize(timeoutMs: number, authorization: string | undefined): Promise<void> {
    this.sessionId = undefined;
    this.protocolVersion = undefined;
    try {
      await this.handshake(timeoutMs, authorization);
      if (this.closed) throw new UpstreamProtocolError("upstream session closed");
    } catch (err) {
      // The upstream may have opened a session before the handshake failed, or close() came while
      // its id was unknown: end it now, or nobody will.
      await this.http.terminate(this.targetWith(authorization), this.headers());
      throw err;
    }
    const state = this.state();
    if (state) this.options.onOpened?.(state);
  }

  private async handshake(timeoutMs: number, authorization: string | undefined): Promise<void> {
    const params = { protocolVersion: this.options.protocolVersion, capabilities: this.options.capabilities, clientInfo: this.options.clientInfo };
    const response = await this.exchange(Method.Initialize, params, { timeoutMs, authorization }, (sessionId) => (this.sessionId = sessionId));
    if ("error" in response) throw new UpstreamProtocolError(`initialize failed: ${response.error.message}`);
    const result = response.result as unknown as InitializeResult;
    if (!isSupportedProtocolVersion(result.protocolVersion)) throw new UpstreamProtocolError(`unsupported protocol version ${JSON.stringify(result.protocolVersion)}`);
    if (typeof result.capabilities !== "object" || result.capabilities === null) throw new UpstreamProtocolError("initialize result has no capabilities");
    this.protocolVersion = result.protocolVersion;
    this.initializeResult = result;
    await this.notify(Notification.Initialized, undefined, authorization);
    await this.options.afterInitialize?.((method, params) => this.exchange(method, params, { timeoutMs, authorization }), result);
  }

  /** One request and its answer, with the upstream's own notifications and requests passed on as they arrive. */
  private exchange(method: string, params: Params | undefined, options: RequestOptions, onSessionId?: (id: string) => void): Promise<JsonRpcResponse> {
    const id = this.nextId++;
    options.onUpstreamId?.(id);
    return exchange(this.http, this.targetWith(options.authorization), this.headers(), { jsonrpc: "2.0", id, method, params }, options, onSessionId);
  }
}
