// A test peer that offers the tasks extension (io.modelcontextprotocol/tasks). The SDK v2 server
// does not implement the extension, so this one is an SDK v2 `createMcpHandler` server whose
// tools answer with a CreateTaskResult and whose tasks/get, tasks/update and tasks/cancel are
// registered with the SDK's request-handler API over an in-memory task table. `slow` completes on
// its second poll; `confirm` needs an elicitation answered through tasks/update first; `echo`
// answers at once. A client that did not declare the extension gets -32021 from `slow`. Its
// subscriptions/listen (served here: the SDK's listen router knows only list changes) takes
// `taskIds` and sends `notifications/tasks` with the whole task whenever one of them changes. With
// `legacyExtensions` it serves both eras (the SDK's stateless legacy leg) and declares those
// extensions at initialize instead of tasks, which exists only per request.
import { createMcpHandler, McpServer, MissingRequiredClientCapabilityError, ProtocolError, type CallToolResult, type ServerContext } from "@modelcontextprotocol/server";
import { CancelTaskRequestV2Schema, GetTaskRequestV2Schema, TASKS_EXTENSION_ID_V2, UpdateTaskRequestV2Schema } from "@modelcontextprotocol/ext-tasks/core/v2";
import { z } from "zod";
import { serveRecording, type ModernUpstream } from "./modern-upstream.js";

/** One task as this server keeps it: its wire fields, how often it was polled, what finishes it. */
interface StoredTask {
  wire: Record<string, unknown>;
  polls: number;
  /** The result `slow` completes with on its second poll. */
  completesWith?: CallToolResult;
}

export interface TaskUpstream extends ModernUpstream {
  /** This server's own task ids, in the order the tasks were created. */
  taskIds(): string[];
  /** How many listen streams for tasks are open now. */
  openListens(): number;
  /** Ends every listen stream gracefully, as a server shutting down does. */
  endListens(): void;
}

/** One open subscriptions/listen stream: the tasks it agreed to report on. */
interface TaskListener {
  taskIds: Set<string>;
  send(message: Record<string, unknown>): void;
  end(): void;
}

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

function declaresTasksIn(meta: Record<string, unknown> | undefined): boolean {
  const capabilities = meta?.["io.modelcontextprotocol/clientCapabilities"] as { extensions?: Record<string, unknown> } | undefined;
  return capabilities?.extensions?.[TASKS_EXTENSION_ID_V2] !== undefined;
}

function declaresTasks(ctx: ServerContext): boolean {
  return declaresTasksIn((ctx.mcpReq as { envelope?: Record<string, unknown> }).envelope);
}

function text(value: string): CallToolResult {
  return { content: [{ type: "text", text: value }] };
}

/** The SDK checks a tool's answer as a CallToolResult, so the CreateTaskResult carries an empty `content` too (extra fields are allowed). */
function createTaskResult(task: StoredTask): CallToolResult {
  return { content: [], resultType: "task", ...task.wire } as CallToolResult;
}

export interface TaskUpstreamOptions {
  /** Serve session-era clients too, declaring these extensions to them (tasks only per request). */
  legacyExtensions?: Record<string, Record<string, never>>;
}

export function startTaskUpstream(name: string, options: TaskUpstreamOptions = {}): Promise<TaskUpstream> {
  const tasks = new Map<string, StoredTask>();
  let created = 0;
  const create = (ctx: ServerContext, status: string, extra: Record<string, unknown> = {}): StoredTask => {
    if (!declaresTasks(ctx)) throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID_V2]: {} } } });
    const now = new Date().toISOString();
    const task: StoredTask = { wire: { taskId: `${name}-task-${++created}`, status, createdAt: now, lastUpdatedAt: now, ttlMs: 60_000, pollIntervalMs: 10, ...extra }, polls: 0 };
    tasks.set(task.wire.taskId as string, task);
    return task;
  };
  const listeners = new Set<TaskListener>();
  /** A task's new state, told to every stream that listens for it. */
  const update = (task: StoredTask, wire: Record<string, unknown>) => {
    task.wire = { ...wire, lastUpdatedAt: new Date().toISOString() };
    const taskId = String(task.wire.taskId);
    for (const listener of listeners) if (listener.taskIds.has(taskId)) listener.send({ jsonrpc: "2.0", method: "notifications/tasks", params: task.wire });
  };
  /** subscriptions/listen: acknowledges the task ids it knows, then reports on them until closed. */
  const listen = async (request: Request): Promise<Response> => {
    const body = (await request.json()) as { id: string | number; params?: { notifications?: { taskIds?: string[] }; _meta?: Record<string, unknown> } };
    const asked = body.params?.notifications?.taskIds ?? [];
    if (asked.length > 0 && !declaresTasksIn(body.params?._meta)) {
      return Response.json({ jsonrpc: "2.0", id: body.id, error: { code: -32021, message: "Missing required client capability", data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID_V2]: {} } } } } });
    }
    const agreed = asked.filter((taskId) => tasks.has(taskId));
    const subscription = { "io.modelcontextprotocol/subscriptionId": body.id };
    let listener: TaskListener | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const frame = (message: Record<string, unknown>) => controller.enqueue(new TextEncoder().encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`));
        frame({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { notifications: { taskIds: agreed }, _meta: subscription } });
        listener = {
          taskIds: new Set(agreed),
          send: (message) => frame({ ...message, params: { ...(message.params as object), _meta: subscription } }),
          end: () => {
            listeners.delete(listener as TaskListener);
            frame({ jsonrpc: "2.0", id: body.id, result: { resultType: "complete", _meta: subscription } });
            controller.close();
          },
        };
        listeners.add(listener);
      },
      cancel() {
        if (listener) listeners.delete(listener);
      },
    });
    return new Response(stream, { status: 200, headers: SSE_HEADERS });
  };
  const find = (taskId: string): StoredTask => {
    const task = tasks.get(taskId);
    if (!task) throw new ProtocolError(-32602, "Failed to retrieve task: Task not found");
    return task;
  };
  const handler = createMcpHandler(
    ({ era }) => {
      const mcp = new McpServer({ name, version: "2.0.0" });
      // Listed as tools; called through the handler below, which may answer with a task.
      mcp.registerTool("echo", { description: "echoes at once", inputSchema: z.object({ text: z.string() }) }, ({ text: said }) => text(said));
      mcp.registerTool("slow", { description: "echoes, as a task", inputSchema: z.object({ text: z.string() }) }, () => text("unused"));
      mcp.registerTool("confirm", { description: "asks for a confirmation inside its task", inputSchema: z.object({}) }, () => text("unused"));
      const server = mcp.server;
      server.setRequestHandler("tools/call", (request, ctx) => {
        const { name: tool, arguments: args = {} } = request.params;
        if (tool === "echo") return text(String(args.text));
        if (tool === "slow") {
          const task = create(ctx, "working");
          task.completesWith = text(`done: ${String(args.text)}`);
          return createTaskResult(task);
        }
        const task = create(ctx, "input_required", {
          inputRequests: { ok: { method: "elicitation/create", params: { mode: "form", message: "go ahead?", requestedSchema: { type: "object", properties: { sure: { type: "boolean" } } } } } },
        });
        return createTaskResult(task);
      });
      server.setRequestHandler("tasks/get", { params: GetTaskRequestV2Schema.shape.params }, ({ taskId }) => {
        const task = find(taskId);
        if (++task.polls >= 2 && task.completesWith && task.wire.status === "working") update(task, { ...task.wire, status: "completed", result: task.completesWith });
        return { resultType: "complete", ...task.wire };
      });
      // The SDK lifts `inputResponses` off every request (the multi round-trip driver's material) and hands them over in the context.
      server.setRequestHandler("tasks/update", { params: UpdateTaskRequestV2Schema.shape.params.omit({ inputResponses: true }) }, ({ taskId }, ctx) => {
        const task = find(taskId);
        const answer = ctx.mcpReq.inputResponses?.ok as { action?: string; content?: { sure?: boolean } } | undefined;
        if (task.wire.status === "input_required" && answer?.action === "accept") {
          const done: Record<string, unknown> = { ...task.wire, status: "completed", result: text(`confirmed: ${String(answer.content?.sure)}`) };
          delete done.inputRequests;
          update(task, done);
        }
        return { resultType: "complete" };
      });
      server.setRequestHandler("tasks/cancel", { params: CancelTaskRequestV2Schema.shape.params }, ({ taskId }) => {
        const task = find(taskId);
        update(task, { ...task.wire, status: "cancelled" });
        return { resultType: "complete" };
      });
      server.registerCapabilities({ extensions: era === "legacy" ? options.legacyExtensions : { [TASKS_EXTENSION_ID_V2]: {} } });
      return mcp;
    },
    { legacy: options.legacyExtensions ? "stateless" : "reject" },
  );
  const served = { fetch: (request: Request) => (request.headers.get("mcp-method") === "subscriptions/listen" ? listen(request) : handler.fetch(request)) };
  return serveRecording(served).then((recording) => ({
    ...recording,
    taskIds: () => [...tasks.keys()],
    openListens: () => listeners.size,
    endListens: () => {
      for (const listener of [...listeners]) listener.end();
    },
  }));
}
