// On a transport with one stream for everything the server sends (stdio, legacy SSE), which
// request a server message belongs to. Progress carries its request's token; other messages sent
// while requests are open (log messages, sampling or elicitation requests, cancellations) go with
// the newest open request, which is almost always the one the server is working on; list changes
// and resource updates belong to no request.
import type { JsonRpcId } from "./jsonrpc.js";
import { Notification } from "./protocol.js";

export interface OpenRequest {
  id: JsonRpcId;
  progressToken?: unknown;
}

const UNRELATED = new Set<string>([Notification.ToolsListChanged, Notification.PromptsListChanged, Notification.ResourcesListChanged, Notification.ResourceUpdated]);

/** The open request a server notification or request goes with, or undefined for the session's own stream. */
export function relatedRequest<T extends OpenRequest>(message: { method: string; params?: Record<string, unknown> }, open: Iterable<T>): T | undefined {
  if (UNRELATED.has(message.method)) return undefined;
  if (message.method === Notification.Progress) {
    const token = message.params?.progressToken;
    for (const request of open) if (request.progressToken !== undefined && request.progressToken === token) return request;
    return undefined;
  }
  let newest: T | undefined;
  for (const request of open) newest = request;
  return newest;
}

/** The progress token a request asks with, if any. */
export function progressTokenOf(params: Record<string, unknown> | undefined): unknown {
  const meta = params?._meta;
  return meta && typeof meta === "object" ? (meta as Record<string, unknown>).progressToken : undefined;
}
