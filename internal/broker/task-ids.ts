// The task ids clients of the tasks extension (io.modelcontextprotocol/tasks) get from the
// gateway: an upstream's CreateTaskResult reaches the client with an id that names the upstream
// server, the caller and the upstream's own task id, signed with the session-id keys (shared by
// every replica, so tasks/get may land on any and no store is needed). tasks/get, tasks/update
// and tasks/cancel bring it back and are sent to that server with the upstream's id. An id that
// was altered, is not the gateway's, or comes from another caller is a task that does not exist
// (-32602, as the extension says of unknown tasks), and the upstream never sees the request.
// No expiry: the upstream decides how long a task lives (its `ttlMs`, possibly unlimited).
import { ErrorCode, JsonRpcError } from "../mcp/jsonrpc.js";
import type { StateSigner } from "./request-state.js";

const PURPOSE = "mcp-task-id";
const PREFIX = "gwt1.";

/** Where a gateway task id leads. */
export interface TaskOrigin {
  server: string;
  upstreamTaskId: string;
}

/** What the extension answers for a task it does not know: altered, foreign and other callers' ids alike. */
export function taskNotFound(reason: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, `Failed to retrieve task: Task not found (${reason})`);
}

export class TaskIds {
  constructor(private readonly signer: StateSigner) {}

  /** The id the client gets for an upstream's task. */
  seal(server: string, caller: string, upstreamTaskId: string): string {
    const body = Buffer.from(JSON.stringify([server, caller, upstreamTaskId])).toString("base64url");
    return `${PREFIX}${body}.${this.signer.signFor(PURPOSE, body)}`;
  }

  /** The server and upstream id behind a gateway task id of this caller; refuses anything else. */
  open(taskId: string, caller: string): TaskOrigin {
    const [body = "", signature = "", ...rest] = taskId.startsWith(PREFIX) ? taskId.slice(PREFIX.length).split(".") : [];
    if (rest.length > 0 || !this.signer.verifiesFor(PURPOSE, body, signature)) throw taskNotFound("the taskId was not issued by this gateway to this caller");
    const [server, owner, upstreamTaskId] = JSON.parse(Buffer.from(body, "base64url").toString()) as [string, string, string];
    // Another caller's task is, to this one, a task that does not exist.
    if (owner !== caller) throw taskNotFound("the taskId was not issued by this gateway to this caller");
    return { server, upstreamTaskId };
  }
}
