// The tasks extension (io.modelcontextprotocol/tasks) through the gateway, for 2026-07-28 clients:
// offered at server/discover when an upstream offers it; an upstream's CreateTaskResult reaches
// the client under a gateway task id (signed, naming the server, the caller and the upstream's
// id), and tasks/get, tasks/update and tasks/cancel reach that upstream with its own id. Two
// JWT identities: one caller's task is, to the other, a task that does not exist.
import { expect } from "chai";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { openRawSession, postMcp } from "../helpers/http.js";
import { modernPost, openListen, type ListenStream, type ModernPostOptions } from "../helpers/per-request.js";
import { fetchStatus, registryYaml, type TestServer } from "../helpers/registry.js";
import { newTokenIssuer, type TokenIssuer } from "../helpers/token-issuer.js";
import { startModernUpstream, type ModernUpstream } from "./modern-upstream.js";
import { startTaskUpstream, type TaskUpstream } from "./task-upstream.js";

type Message = { result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> } };

const TASKS = "io.modelcontextprotocol/tasks";
const WITH_TASKS = { extensions: { [TASKS]: {} } };

describe("MCP 2026-07-28: the tasks extension through the gateway", function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let tasker: TaskUpstream;
  let doomed: TaskUpstream;
  let plain: ModernUpstream;
  let gateway: GatewayProcess;
  let alice: string;
  let bob: string;
  const servers = (): TestServer[] => [
    { name: "test/tasker", url: tasker.url, prefix: "t_" },
    { name: "test/doomed", url: doomed.url, prefix: "d_" },
    { name: "test/plain", url: plain.url, prefix: "p_" },
  ];

  /** One request of alice's (or `as`), declaring the extension unless told otherwise. */
  async function post(method: string, params: Record<string, unknown>, options: ModernPostOptions & { as?: string } = {}): Promise<{ status: number; message: Message }> {
    const { as = alice, ...rest } = options;
    const { status, messages } = await modernPost(gateway.mcpUrl, method, params, { capabilities: WITH_TASKS, ...rest, headers: { authorization: as, ...rest.headers } });
    return { status, message: messages.at(-1) as Message };
  }

  async function createTask(tool: string, args: Record<string, unknown> = { text: "x" }): Promise<string> {
    const { status, message } = await post("tools/call", { name: tool, arguments: args });
    expect(status, JSON.stringify(message)).to.equal(200);
    expect(message.result).to.include({ resultType: "task" });
    return String(message.result?.taskId);
  }

  /** What the upstream was sent for one method (its own ids, its Mcp-Name). */
  function sent(upstream: ModernUpstream, method: string): Array<{ name?: string; params: Record<string, unknown> }> {
    return upstream.seen.filter((seen) => seen.body.method === method).map((seen) => ({ name: seen.name, params: (seen.body.params ?? {}) as Record<string, unknown> }));
  }

  /** The client capabilities the upstream's first tools/call declared. */
  function declared(upstream: ModernUpstream): unknown {
    return (sent(upstream, "tools/call")[0]?.params._meta as Record<string, unknown> | undefined)?.["io.modelcontextprotocol/clientCapabilities"];
  }

  before(async () => {
    issuer = await newTokenIssuer();
    alice = `Bearer ${await issuer.token({ sub: "alice" }, "1h")}`;
    bob = `Bearer ${await issuer.token({ sub: "bob" }, "1h")}`;
    tasker = await startTaskUpstream("tasker");
    doomed = await startTaskUpstream("doomed");
    plain = await startModernUpstream("plain");
    gateway = await startGateway(registryYaml(servers()), issuer.flags);
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 3, 20_000, "three servers ready");
  });

  after(async () => {
    await gateway?.stop();
    await tasker?.stop();
    await doomed?.stop();
    await plain?.stop();
  });

  it("server/discover offers the extension because an upstream does; initialize (session era) does not", async () => {
    const { message } = await post("server/discover", {});
    expect((message.result?.capabilities as { extensions?: unknown }).extensions).to.deep.equal({ [TASKS]: {} });
    const client = new Client({ name: "legacy-client", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.mcpUrl), { requestInit: { headers: { authorization: alice } } }));
    try {
      expect(client.getServerCapabilities()).to.not.have.property("extensions");
    } finally {
      await client.close();
    }
  });

  it("a gateway in front of no upstream with the extension does not offer it", async () => {
    const bare = await startGateway(registryYaml([{ name: "test/plain", url: plain.url, prefix: "p_" }]));
    try {
      await eventually(async () => (await fetchStatus(bare.baseUrl)).healthyServers === 1, 20_000, "plain server ready");
      const { messages } = await modernPost(bare.mcpUrl, "server/discover", {}, { capabilities: WITH_TASKS });
      expect((messages[0] as Message).result?.capabilities).to.not.have.property("extensions");
    } finally {
      await bare.stop();
    }
  });

  it("a both-era upstream naming other extensions at initialize and tasks at server/discover: server/discover offers tasks", async () => {
    const both = await startTaskUpstream("both", { legacyExtensions: { "io.example/other": {} } });
    const gatewayOfBoth = await startGateway(registryYaml([{ name: "test/both", url: both.url, prefix: "b_" }]), issuer.flags);
    try {
      await eventually(async () => (await fetchStatus(gatewayOfBoth.baseUrl)).healthyServers === 1, 20_000, "both-era server ready");
      const status = (await fetchStatus(gatewayOfBoth.baseUrl)).servers[0] as Record<string, unknown>;
      expect(status).to.include({ protocolVersion: "2025-11-25", perRequestVersion: "2026-07-28" });
      const { messages } = await modernPost(gatewayOfBoth.mcpUrl, "server/discover", {}, { capabilities: WITH_TASKS, headers: { authorization: alice } });
      expect((messages[0] as Message).result?.capabilities).to.have.deep.property("extensions", { [TASKS]: {} });
      const { status: called, messages: answer } = await modernPost(gatewayOfBoth.mcpUrl, "tools/call", { name: "b_slow", arguments: { text: "x" } }, { capabilities: WITH_TASKS, headers: { authorization: alice } });
      expect(called).to.equal(200);
      expect((answer.at(-1) as Message).result).to.include({ resultType: "task" });
    } finally {
      await gatewayOfBoth.stop();
      await both.stop();
    }
  });

  it("a task reaches the client under the gateway's id; tasks/get polls the upstream with its own id until the result", async () => {
    tasker.seen.length = 0;
    const taskId = await createTask("t_slow", { text: "report" });
    const upstreamId = tasker.taskIds().at(-1) ?? "";
    expect(taskId).to.match(/^gwt1\./).and.not.include(upstreamId);
    expect(declared(tasker)).to.deep.equal(WITH_TASKS);
    const first = await post("tasks/get", { taskId });
    expect(first.message.result).to.include({ resultType: "complete", taskId, status: "working" });
    const second = await post("tasks/get", { taskId });
    expect(second.message.result).to.include({ taskId, status: "completed" });
    expect(second.message.result?.result).to.deep.equal({ content: [{ type: "text", text: "done: report" }] });
    expect(sent(tasker, "tasks/get").map((request) => [request.name, request.params.taskId])).to.deep.equal([
      [upstreamId, upstreamId],
      [upstreamId, upstreamId],
    ]);
  });

  it("input requests inside a task pass through; tasks/update brings the answer to the upstream", async () => {
    const taskId = await createTask("t_confirm", {});
    const waiting = await post("tasks/get", { taskId });
    expect(waiting.message.result).to.include({ taskId, status: "input_required" });
    expect(waiting.message.result?.inputRequests).to.have.nested.property("ok.method", "elicitation/create");
    tasker.seen.length = 0;
    const inputResponses = { ok: { action: "accept", content: { sure: true } } };
    const ack = await post("tasks/update", { taskId, inputResponses });
    expect(ack.message.result).to.deep.equal({ resultType: "complete", _meta: ack.message.result?._meta });
    expect(sent(tasker, "tasks/update")[0]?.params).to.deep.include({ taskId: tasker.taskIds().at(-1), inputResponses });
    const done = await post("tasks/get", { taskId });
    expect(done.message.result).to.include({ taskId, status: "completed" });
    expect(done.message.result?.result).to.deep.equal({ content: [{ type: "text", text: "confirmed: true" }] });
  });

  it("tasks/cancel reaches the upstream; the task then reads as cancelled", async () => {
    const taskId = await createTask("t_slow");
    const ack = await post("tasks/cancel", { taskId });
    expect(ack.status).to.equal(200);
    expect(ack.message.result).to.include({ resultType: "complete" });
    expect((await post("tasks/get", { taskId })).message.result).to.include({ taskId, status: "cancelled" });
  });

  it("plain tool calls are untouched", async () => {
    const { message } = await post("tools/call", { name: "t_echo", arguments: { text: "now" } });
    expect(message.result).to.include({ resultType: "complete" });
    expect(message.result?.content).to.deep.equal([{ type: "text", text: "now" }]);
  });

  it("a tampered id, an upstream's own id or another caller's id is a task not found (-32602); the upstream never asked", async () => {
    const taskId = await createTask("t_slow");
    const tampered = `${taskId.slice(0, -2)}${taskId.endsWith("A") ? "B" : "A"}`;
    const cases: Array<[string, string, string]> = [
      ["tampered", tampered, alice],
      ["the upstream's own", tasker.taskIds().at(-1) ?? "", alice],
      ["another caller's", taskId, bob],
    ];
    for (const [what, id, as] of cases) {
      tasker.seen.length = 0;
      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        const { status, message } = await post(method, method === "tasks/update" ? { taskId: id, inputResponses: {} } : { taskId: id }, { as });
        expect(status, `${what} ${method}`).to.equal(200);
        expect(message.error?.code, `${what} ${method}`).to.equal(-32602);
        expect(message.error?.message, `${what} ${method}`).to.match(/^Failed to retrieve task: Task not found/);
      }
      expect(tasker.seen, what).to.deep.equal([]);
    }
    expect((await post("tasks/get", { taskId })).message.result, "the rightful caller").to.include({ taskId });
  });

  it("without the capability: no task from the upstream (-32021 from it), and tasks/* are refused with -32021 by the gateway", async () => {
    const taskId = await createTask("t_slow");
    tasker.seen.length = 0;
    const call = await post("tools/call", { name: "t_slow", arguments: { text: "x" } }, { capabilities: {} });
    expect(call.status).to.equal(400);
    expect(call.message.error).to.include({ code: -32021 });
    expect(declared(tasker)).to.deep.equal({});
    for (const method of ["tasks/get", "tasks/cancel"]) {
      const { status, message } = await post(method, { taskId }, { capabilities: {} });
      expect(status, method).to.equal(400);
      expect(message.error?.code, method).to.equal(-32021);
      expect(message.error?.data, method).to.deep.equal({ requiredCapabilities: WITH_TASKS });
    }
    expect(sent(tasker, "tasks/get")).to.deep.equal([]);
  });

  it("a session-era client gets no tasks: the extension it declared is not passed on, and tasks/get is unknown", async () => {
    const client = new Client({ name: "legacy-client", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" }, capabilities: WITH_TASKS });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.mcpUrl), { requestInit: { headers: { authorization: alice } } }));
    try {
      tasker.seen.length = 0;
      const error = await client.callTool({ name: "t_slow", arguments: { text: "x" } }).then(
        () => undefined,
        (err: unknown) => err as { code?: number },
      );
      expect(error?.code).to.equal(-32021);
      expect(declared(tasker)).to.not.have.property("extensions");
    } finally {
      await client.close();
    }
    const { sessionId } = await openRawSession(gateway.mcpUrl, "2025-11-25", { authorization: alice }, WITH_TASKS);
    const unknown = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tasks/get", params: { taskId: "anything" } }, { authorization: alice, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" });
    expect((unknown.messages[0] as Message).error?.code).to.equal(-32601);
  });

  describe("task status notifications on subscriptions/listen", () => {
    const isTaskNotification = (message: Record<string, unknown>) => message.method === "notifications/tasks";
    const acknowledged = async (stream: ListenStream) => ((await stream.next((message) => message.method === "notifications/subscriptions/acknowledged")).params as { notifications?: unknown }).notifications;
    /** The subscriptions/listen requests the upstream got, with the task ids each asked for. */
    const listensAt = (upstream: ModernUpstream) => sent(upstream, "subscriptions/listen").map((request) => (request.params.notifications as { taskIds?: unknown }).taskIds);

    it("reach the caller's own listener under the gateway's id; another caller's listener and one without the task filter get nothing", async () => {
      const taskId = await createTask("t_slow");
      const upstreamId = tasker.taskIds().at(-1) ?? "";
      tasker.seen.length = 0;
      const streams: ListenStream[] = [];
      try {
        const mine = await openListen(gateway.mcpUrl, { taskIds: [taskId], toolsListChanged: true }, "alice-tasks", { authorization: alice }, WITH_TASKS);
        streams.push(mine);
        expect(await acknowledged(mine)).to.deep.equal({ toolsListChanged: true, taskIds: [taskId] });
        const theirs = await openListen(gateway.mcpUrl, { taskIds: [taskId, "gwt1.made-up.x"] }, "bob-tasks", { authorization: bob }, WITH_TASKS);
        streams.push(theirs);
        expect(await acknowledged(theirs), "another caller's task is not acknowledged").to.deep.equal({ taskIds: [] });
        const unfiltered = await openListen(gateway.mcpUrl, { toolsListChanged: true }, "alice-plain", { authorization: alice }, WITH_TASKS);
        streams.push(unfiltered);
        expect(await acknowledged(unfiltered)).to.deep.equal({ toolsListChanged: true });
        expect(listensAt(tasker), "one listen upstream, for alice's task, by the upstream's id").to.deep.equal([[upstreamId]]);
        await eventually(() => Promise.resolve(tasker.openListens() === 1), 5_000, "the upstream's listen is open");

        expect((await post("tasks/cancel", { taskId })).status).to.equal(200);
        const notification = await mine.next(isTaskNotification);
        expect(notification.params).to.deep.include({ taskId, status: "cancelled" });
        expect(notification.params).to.have.nested.property("_meta.io\\.modelcontextprotocol/subscriptionId", "alice-tasks");
        expect(JSON.stringify(mine.messages), "the upstream's id never reaches the client").to.not.include(upstreamId);
        // The same change, polled, reads the same.
        expect((await post("tasks/get", { taskId })).message.result).to.include({ taskId, status: "cancelled" });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(theirs.messages.filter((message) => isTaskNotification(message as Record<string, unknown>)), "bob's listener").to.deep.equal([]);
        expect(unfiltered.messages.filter((message) => isTaskNotification(message as Record<string, unknown>)), "the listener without the task filter").to.deep.equal([]);
      } finally {
        for (const stream of streams) stream.close();
      }
      await eventually(() => Promise.resolve(tasker.openListens() === 0), 5_000, "the client's stream closed, so did the upstream's");
    });

    it("asking for tasks without the extension is -32021 (HTTP 400); task ids that are not strings are -32602", async () => {
      const taskId = await createTask("t_slow");
      tasker.seen.length = 0;
      const refused = await post("subscriptions/listen", { notifications: { taskIds: [taskId] } }, { capabilities: {} });
      expect(refused.status).to.equal(400);
      expect(refused.message.error).to.deep.include({ code: -32021, data: { requiredCapabilities: WITH_TASKS } });
      const invalid = await post("subscriptions/listen", { notifications: { taskIds: [42] } });
      expect(invalid.message.error?.code).to.equal(-32602);
      expect(invalid.message.error?.message).to.match(/^Invalid params: notifications: taskIds\.0: /);
      expect(listensAt(tasker)).to.deep.equal([]);
    });

    it("an upstream that ends its stream ends the client's stream gracefully (it may listen again)", async () => {
      const taskId = await createTask("t_slow");
      const stream = await openListen(gateway.mcpUrl, { taskIds: [taskId] }, "cut-tasks", { authorization: alice }, WITH_TASKS);
      try {
        expect(await acknowledged(stream)).to.deep.equal({ taskIds: [taskId] });
        await eventually(() => Promise.resolve(tasker.openListens() === 1), 5_000, "the upstream's listen is open");
        tasker.endListens();
        const end = await stream.next((message) => message.id === "cut-tasks");
        expect(end.result).to.deep.equal({ resultType: "complete", _meta: { "io.modelcontextprotocol/subscriptionId": "cut-tasks" } });
      } finally {
        stream.close();
      }
    });
  });

  it("Mcp-Name must be the taskId (-32020)", async () => {
    const taskId = await createTask("t_slow");
    const { status, message } = await post("tasks/get", { taskId }, { headers: { "mcp-name": "something-else" } });
    expect(status).to.equal(400);
    expect(message.error?.code).to.equal(-32020);
  });

  it("an upstream that went away is -32010; a server no longer served makes its tasks unknown (-32602)", async () => {
    const taskId = await createTask("d_slow");
    await doomed.stop();
    const gone = await post("tasks/get", { taskId });
    expect(gone.message.error?.code).to.equal(-32010);
    expect(gone.message.error?.message).to.match(/^upstream test\/doomed: /);
    gateway.writeConfig(registryYaml(servers().filter((server) => server.name !== "test/doomed")));
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).servers.length === 2, 20_000, "test/doomed left the registry");
    const unknown = await post("tasks/get", { taskId });
    expect(unknown.message.error?.code).to.equal(-32602);
    expect(unknown.message.error?.message).to.match(/Task not found \(its server test\/doomed is no longer served\)/);
  });
});
