// Task status notifications (the tasks extension's `notifications/tasks`) for one client's
// subscriptions/listen stream. The client names tasks by the gateway's ids; those that open for
// this caller (task-ids.ts: another caller's, altered or foreign ids do not) are grouped by the
// upstream holding them, and for each such upstream the gateway opens a subscriptions/listen of
// its own, as that caller (its `_meta`, its Authorization where the server takes the client's
// token), asking for the upstream's ids. What an upstream acknowledges is what the gateway
// acknowledges; its notifications reach the client under the gateway's id, never the upstream's.
// The streams towards upstreams live exactly as long as the client's.
import type { IncomingHttpHeaders } from "node:http";
import { isTaskStatusNotificationV2, readAcceptedTaskIdsV2 } from "@modelcontextprotocol/ext-tasks/core/v2";
import type { ServerDirectory } from "../discovery/directory.js";
import type { Logger } from "../log/logger.js";
import { isNotification, type JsonRpcMessage } from "../mcp/jsonrpc.js";
import { SubscriptionsAcknowledged } from "../mcp/protocol.js";
import type { RequestMeta } from "../transport/per-request-http.js";
import { upstreamTarget, type UpstreamConnector } from "../upstream/connector.js";
import { describeUpstreamError } from "../upstream/errors.js";
import { PerRequestUpstream } from "../upstream/per-request.js";
import { namesTasksExtension } from "./capabilities.js";
import { callerOf } from "./caller-sessions.js";
import { clientToken } from "./client-token.js";
import type { TaskIds } from "./task-ids.js";

/** What the client's listen stream asked for and how its task notifications reach it. */
export interface TaskListen {
  /** The gateway task ids in the client's filter. */
  taskIds: string[];
  headers: IncomingHttpHeaders;
  meta: RequestMeta;
  /** The client's stream closing (or ending here) closes the upstreams' streams. */
  signal: AbortSignal;
  /** A task status notification's params, with the gateway's task id. */
  deliver: (params: Record<string, unknown>) => void;
}

export interface OpenedTaskListen {
  /** The gateway ids the upstreams agreed to report on, in the order the client asked. */
  agreed: string[];
  /** Settles when an upstream's stream that carries agreed tasks ends while the client still listens. */
  lost: Promise<void>;
}

export class TaskListens {
  constructor(
    private readonly directory: ServerDirectory,
    private readonly connector: UpstreamConnector,
    private readonly taskIds: TaskIds,
    private readonly log: Logger,
    /** How long an upstream may take to acknowledge its stream. */
    private readonly ackTimeoutMs: number,
  ) {}

  async open(listen: TaskListen): Promise<OpenedTaskListen> {
    const caller = callerOf(listen.headers);
    /** Per server: the upstream's id -> the gateway's. */
    const byServer = new Map<string, Map<string, string>>();
    for (const taskId of listen.taskIds) {
      let origin;
      try {
        origin = this.taskIds.open(taskId, caller);
      } catch {
        continue; // Not this caller's task: it is not acknowledged, and no upstream hears of it.
      }
      const ids = byServer.get(origin.server) ?? new Map<string, string>();
      ids.set(origin.upstreamTaskId, taskId);
      byServer.set(origin.server, ids);
    }
    let lose: () => void = () => undefined;
    const lost = new Promise<void>((resolve) => (lose = resolve));
    const agreedIds = new Set<string>();
    await Promise.all([...byServer].map(async ([server, ids]) => (await this.openUpstream(server, ids, listen, lose)).forEach((id) => agreedIds.add(id))));
    return { agreed: [...new Set(listen.taskIds)].filter((id) => agreedIds.has(id)), lost };
  }

  /** One upstream's stream for the client's tasks it holds; resolves with the gateway ids it agreed to. */
  private openUpstream(name: string, ids: Map<string, string>, listen: TaskListen, lose: () => void): Promise<string[]> {
    const server = this.directory.server(name);
    const snapshot = this.directory.discovery(name)?.snapshot;
    const version = snapshot?.perRequestVersion;
    if (!server || !version || !namesTasksExtension(snapshot.capabilities)) return Promise.resolve([]);
    const upstream = new PerRequestUpstream(this.connector, upstreamTarget(server, server.credential ? { authorization: server.credential } : {}));
    // Ends with the client's stream, or here when the upstream agrees to nothing (or too late).
    const stream = new AbortController();
    const clientGone = () => stream.abort();
    listen.signal.addEventListener("abort", clientGone, { once: true });
    return new Promise<string[]>((resolve) => {
      let agreed: Map<string, string> | undefined;
      const acknowledged = (upstreamIds: readonly string[]) => {
        if (agreed) return;
        clearTimeout(timer);
        agreed = new Map([...ids].filter(([upstreamId]) => upstreamIds.includes(upstreamId)));
        if (agreed.size === 0) stream.abort();
        resolve([...agreed.values()]);
      };
      const timer = setTimeout(() => acknowledged([]), this.ackTimeoutMs);
      const onMessage = (message: JsonRpcMessage) => {
        if (!isNotification(message)) return;
        if (message.method === SubscriptionsAcknowledged) acknowledged(readAcceptedTaskIdsV2(message.params));
        else if (agreed && isTaskStatusNotificationV2(message)) {
          const taskId = agreed.get(message.params.taskId);
          if (taskId !== undefined) listen.deliver({ ...(message.params as Record<string, unknown>), taskId });
        }
      };
      upstream
        .listen({ taskIds: [...ids.keys()] }, { meta: { ...listen.meta, protocolVersion: version }, authorization: clientToken(server, listen.headers), signal: stream.signal, onMessage })
        .catch((err: unknown) => this.log.debug({ server: name, err: describeUpstreamError(err) }, "task listen stream towards the upstream failed"))
        .finally(() => {
          listen.signal.removeEventListener("abort", clientGone);
          const carried = agreed !== undefined && agreed.size > 0;
          acknowledged([]);
          if (carried && !stream.signal.aborted) lose();
        });
    });
  }
}
