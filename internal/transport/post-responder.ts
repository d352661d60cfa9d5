// Answers one POST that carried one request or a batch. The answer starts as plain JSON and
// switches to an SSE stream only when something must reach the client before the response
// (progress, log messages, a sampling request), so simple calls stay cheap.
import type { ServerResponse } from "node:http";
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse } from "../mcp/jsonrpc.js";
import { EventStream } from "./event-stream.js";
import { writeJson } from "./json-response.js";

/** How a protocol handler answers one request of a POST. */
export interface RequestChannel {
  /** Aborted when the client goes away before the answer is complete. */
  readonly signal: AbortSignal;
  /** A message related to the request, sent before its response. False if the client cannot receive it (JSON only). */
  send(message: JsonRpcMessage): boolean;
  respond(response: JsonRpcResponse): void;
  /** Responds with a result that is already JSON text. */
  respondRaw(id: JsonRpcId, resultJson: string): void;
  /** Ends the request without a response: the client cancelled it, or is gone. */
  abandon(): void;
}

export class PostResponder {
  private stream?: EventStream;
  private readonly buffered: string[] = [];
  private remaining: number;
  private readonly abort = new AbortController();
  private finished = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly clientAcceptsSse: boolean,
    clientAcceptsJson: boolean,
    requestCount: number,
    private readonly batch: boolean,
  ) {
    this.remaining = requestCount;
    if (!clientAcceptsJson) this.stream = new EventStream(res, 0);
    res.on("close", () => {
      if (!this.finished) this.abort.abort();
    });
  }

  channel(): RequestChannel {
    let answered = false;
    const once = (json: string | undefined) => {
      if (answered) return;
      answered = true;
      this.complete(json);
    };
    return {
      signal: this.abort.signal,
      send: (message) => this.sendRelated(message),
      respond: (response) => once(JSON.stringify(response)),
      respondRaw: (id, resultJson) => once(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultJson}}`),
      abandon: () => once(undefined),
    };
  }

  private sendRelated(message: JsonRpcMessage): boolean {
    if (this.finished || this.abort.signal.aborted) return false;
    if (!this.stream) {
      if (!this.clientAcceptsSse) return false;
      this.stream = new EventStream(this.res, 0);
      for (const json of this.buffered.splice(0)) this.stream.sendJson(json);
    }
    this.stream.send(message);
    return true;
  }

  private complete(json: string | undefined): void {
    this.remaining--;
    if (json !== undefined) {
      if (this.stream) this.stream.sendJson(json);
      else this.buffered.push(json);
    }
    if (this.remaining > 0) return;
    this.finished = true;
    if (this.stream) {
      this.stream.close();
      return;
    }
    if (this.res.destroyed) return;
    // Every request of the POST was abandoned. A request's POST must answer with a stream or JSON:
    // an empty stream says "nothing for you" in the former; JSON has no such body, so 202 as for notifications.
    if (this.buffered.length === 0) {
      if (this.clientAcceptsSse) new EventStream(this.res, 0).close();
      else this.res.writeHead(202).end();
      return;
    }
    const body = this.batch ? `[${this.buffered.join(",")}]` : (this.buffered[0] ?? "");
    writeJson(this.res, 200, body);
  }
}
