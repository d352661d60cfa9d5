// One request to an upstream and its answer, whichever era it speaks: the upstream's own
// notifications and requests are passed on as they arrive, the answer resolves, the caller's
// abort and the request's timeout stop it.
import { classify, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import type { SessionHeaders, UpstreamConnector, UpstreamTarget } from "./connector.js";
import { UpstreamProtocolError, UpstreamTimeoutError } from "./errors.js";
import { RequestAbort } from "./request-abort.js";

export interface ExchangeOptions {
  /** Notifications and server-to-client requests the upstream sends while answering. */
  onMessage?: (message: JsonRpcMessage) => void;
  /** The caller's: stops the request (its hook is exchange()'s while the request is out, so one request at a time). */
  abort?: RequestAbort;
  timeoutMs: number;
  /** The Authorization of the client request being served, for upstreams that take the client's token. */
  authorization?: string;
}

export interface OutgoingRequest {
  jsonrpc: "2.0";
  id: JsonRpcId;
  method: string;
  params?: Params;
}

export function exchange(
  connector: UpstreamConnector,
  target: UpstreamTarget,
  headers: SessionHeaders,
  request: OutgoingRequest,
  options: ExchangeOptions,
  onSessionId?: (id: string) => void,
): Promise<JsonRpcResponse> {
  const { id, params } = request;
  const body = JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method: request.method } : { jsonrpc: "2.0", id, method: request.method, params });
  // One abort and one timer per request: AbortSignal.any/timeout cost several times more on the hot path.
  const abort = new RequestAbort();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort(new UpstreamTimeoutError(options.timeoutMs));
  }, options.timeoutMs);
  const caller = options.abort;
  if (caller?.aborted) abort.abort(new UpstreamProtocolError("request aborted"));
  else caller?.onAbort(() => abort.abort(new UpstreamProtocolError("request aborted")));
  const done = () => {
    clearTimeout(timer);
    caller?.onAbort(undefined);
  };
  return new Promise<JsonRpcResponse>((resolve, reject) => {
    let answered = false;
    const onMessage = (raw: unknown) => {
      const classified = classify(raw);
      if (classified.kind === "response" && classified.message.id === id) {
        answered = true;
        resolve(classified.message);
      } else if (classified.kind === "invalid") {
        throw new UpstreamProtocolError(`invalid response: ${classified.reason}`);
      } else if (classified.kind !== "response") {
        options.onMessage?.(classified.message);
      }
    };
    connector.post(target, headers, body, onMessage, abort, onSessionId).then(
      () => {
        done();
        if (!answered) reject(new UpstreamProtocolError("upstream ended its answer without a response"));
      },
      (err: unknown) => {
        done();
        if (answered) return;
        reject(timedOut ? new UpstreamTimeoutError(options.timeoutMs) : err);
      },
    );
  });
}
