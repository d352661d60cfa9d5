// One upstream POST's answer read straight from undici's dispatch callbacks. undici's request()
// wraps every answer in a Readable stream (an AsyncResource, listeners, a TextDecoder per body);
// on the hot path that was 11 % of the gateway's time (issue 9), so the answer is parsed chunk by
// chunk as it arrives instead: SSE events, a JSON body within its size limit, or an error body.
import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import type { SessionHeaders } from "./connector.js";
import type { RequestAbort } from "./request-abort.js";
import { SessionExpiredError, UpstreamHttpError, UpstreamProtocolError, UpstreamRejectedError } from "./errors.js";

/** What reads one answer body, chunk by chunk; feed throws to fail the answer. */
export interface BodyReader {
  feed(chunk: Buffer): void;
  /** The body is complete. */
  end(): void;
}

/** Bytes up to a limit, then a throw: JSON answers and error bodies. */
export class LimitedText {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly maxBytes: number,
    /** false: bytes past the limit are dropped instead (an error body is only read for its start). */
    private readonly failPastLimit = true,
  ) {}

  feed(chunk: Buffer): void {
    if (this.size + chunk.length > this.maxBytes) {
      if (this.failPastLimit) throw new UpstreamProtocolError(`response larger than ${this.maxBytes} bytes`);
      chunk = chunk.subarray(0, Math.max(0, this.maxBytes - this.size));
    }
    this.size += chunk.length;
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  text(): string {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer).toString("utf8") : Buffer.concat(this.chunks).toString("utf8");
  }
}

/** The error an upstream's non-2xx answer stands for. */
export function answerError(status: number, text: string, session: SessionHeaders): Error {
  if (status === 404 && session.sessionId) return new SessionExpiredError();
  const rejection = status >= 400 && status < 500 ? jsonRpcError(text) : undefined;
  return rejection ? new UpstreamRejectedError(status, rejection) : new UpstreamHttpError(status, text.trim());
}

/** The error object of a JSON-RPC error response, if the text is one. */
function jsonRpcError(text: string): { code: number; message: string; data?: unknown } | undefined {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown; data?: unknown } }).error;
    return typeof error?.code === "number" && typeof error.message === "string" ? { code: error.code, message: error.message, data: error.data } : undefined;
  } catch {
    return undefined;
  }
}

export interface PostAnswerOptions {
  session: SessionHeaders;
  /** The answer's headers arrived: choose how to read its body (undefined: 202, nothing to read). */
  onResponse(status: number, headers: IncomingHttpHeaders): BodyReader | undefined;
  abort?: RequestAbort;
  /** undici's errors as the gateway names them (connect and first-byte timeouts). */
  nameError(err: Error): unknown;
}

/** Settles once: resolved when the answer was read to its end, rejected with the first failure. */
export class PostAnswer implements Dispatcher.DispatchHandler {
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  private settled = false;
  private reader?: BodyReader;
  private errorBody?: { status: number; text: LimitedText };
  private failure?: unknown;

  constructor(private readonly options: PostAnswerOptions) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    const abort = this.options.abort;
    if (abort?.reason) controller.abort(abort.reason);
    else abort?.onAbort((reason) => controller.abort(reason));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode >= 300 || statusCode < 200) {
      this.errorBody = { status: statusCode, text: new LimitedText(4096, false) };
      return;
    }
    try {
      this.reader = this.options.onResponse(statusCode, headers);
    } catch (err) {
      this.fail(controller, err);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled || this.failure !== undefined) return;
    try {
      if (this.errorBody) this.errorBody.text.feed(chunk);
      else this.reader?.feed(chunk);
    } catch (err) {
      this.fail(controller, err);
    }
  }

  onResponseEnd(): void {
    if (this.errorBody) {
      this.settle(answerError(this.errorBody.status, this.errorBody.text.text(), this.options.session));
      return;
    }
    try {
      this.reader?.end();
      this.settle();
    } catch (err) {
      this.settle(err);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.settle(this.failure ?? this.options.nameError(error));
  }

  /** A reader threw: that is the answer's failure, whatever undici reports for the abort. */
  private fail(controller: Dispatcher.DispatchController, err: unknown): void {
    this.failure = err;
    controller.abort(err instanceof Error ? err : new Error(String(err)));
    // undici reports the abort through onResponseError; settle now in case it does not.
    this.settle(err);
  }

  private settle(err?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.options.abort?.onAbort(undefined);
    if (err === undefined) this.resolve();
    else this.reject(err);
  }
}
