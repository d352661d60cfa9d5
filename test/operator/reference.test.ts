// REFERENCE.md section 5 through the operator: Kubernetes resources in, registration status and the broker's
// answers out. Each test gets its own namespace with a Gateway, an MCPGatewayExtension and a broker serving it;
// one controller (ServiceAccount + manifests/ RBAC) reconciles them all.
import { expect } from "chai";
import { startRawUpstream, type RawUpstream } from "../fixtures/raw-upstream.js";
import { FIXED_TOOLS, startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { apply, getObject, isReady, markRouteAccepted, notReadyWith, parseTable, readyCondition, registryText, waitForReady, waitGone } from "../helpers/cluster-objects.js";
import { listToolNames } from "../helpers/http.js";
import { registrationYaml, virtualServerYaml } from "../helpers/manifests.js";
import { cleanupsAfterEach, operatorSuite, type Stack } from "../helpers/operator-suite.js";
import { within } from "../helpers/poll.js";
import { errorLines } from "../helpers/processes.js";
import { recordTiming } from "../helpers/timing.js";
import { GROUP } from "../../internal/api/group.js";
import { FINALIZER } from "../../internal/controller/reconcilers/registration.js";

const FIXTURE_TOOLS = FIXED_TOOLS.length;

describe("operator: REFERENCE section 5 through Kubernetes resources", function () {
  this.timeout(60_000);
  const suite = operatorSuite();
  const cleanups = cleanupsAfterEach();

  const stack = (prefix: string): Promise<Stack> => cleanups.stack(suite.op, prefix);

  async function upstream(name: string, options: { requireToken?: string; extraTools?: number } = {}): Promise<UpstreamServer> {
    const server = await startUpstreamServer({ name, ...options });
    cleanups.add(() => server.stop());
    return server;
  }

  async function raw(mode: Parameters<typeof startRawUpstream>[0]): Promise<RawUpstream> {
    const server = await startRawUpstream(mode);
    cleanups.add(() => server.stop());
    return server;
  }

  async function client(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    const connected = await connectClient(url, headers);
    cleanups.add(() => connected.close());
    return connected;
  }

  const registration = (s: Stack, name: string) => getObject(suite.op, "mcpserverregistrations", s.namespace, name);

  it("(1) two registrations become Ready with their tool counts; deleting one removes its tools and the object", async () => {
    const s = await stack("ref-two");
    const alpha = await upstream("alpha");
    const beta = await upstream("beta", { extraTools: 2 });
    await s.register("alpha", alpha.port, { toolPrefix: "a_" });
    await s.register("beta", beta.port, { toolPrefix: "b_" });
    const a = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha");
    const b = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "beta");
    expect(readyCondition(a)).to.include({ reason: "Ready", message: `server added successfully. Total tools added ${FIXTURE_TOOLS}` });
    expect(a.status?.discoveredTools).to.equal(FIXTURE_TOOLS);
    expect(readyCondition(b)?.message).to.equal(`server added successfully. Total tools added ${FIXTURE_TOOLS + 2}`);
    expect(b.status?.discoveredTools).to.equal(FIXTURE_TOOLS + 2);
    const rows = parseTable(await suite.op.kubectl(["get", "mcpsr", "-n", s.namespace]));
    expect(rows.map((row) => [row.NAME, row.PREFIX, row.READY, row.TOOLS])).to.deep.equal([
      ["alpha", "a_", "True", String(FIXTURE_TOOLS)],
      ["beta", "b_", "True", String(FIXTURE_TOOLS + 2)],
    ]);

    const c = await client(s.broker.mcpUrl);
    const names = (await c.client.listTools()).tools.map((tool) => tool.name);
    expect(names).to.have.length(2 * FIXTURE_TOOLS + 2);
    expect(names).to.include.members(["a_echo", "a_add", "b_echo", "b_tool_0", "b_tool_1"]);
    expect(names.filter((name) => !name.startsWith("a_") && !name.startsWith("b_"))).to.deep.equal([]);
    expect(textOf(await c.client.callTool({ name: "a_echo", arguments: { text: "hello alpha" } }))).to.equal("hello alpha");
    expect(JSON.parse(textOf(await c.client.callTool({ name: "b_whoami", arguments: {} }))).server).to.equal("beta");

    // Deletion goes through the finalizer: the broker stops serving beta before the object may go.
    expect(b.metadata.finalizers).to.deep.equal([FINALIZER]);
    const notified = c.count("notifications/tools/list_changed");
    const started = performance.now();
    await suite.op.kubectl(["delete", "mcpsr", "beta", "-n", s.namespace, "--wait=true", "--timeout=20s"]);
    await waitGone(suite.op, "mcpserverregistrations", s.namespace, "beta");
    recordTiming("(1) kubectl delete mcpsr -> object gone", performance.now() - started);
    expect(await registration(s, "beta")).to.equal(undefined);
    expect(await registryText(suite.op, s.namespace)).to.not.include(`${s.namespace}/beta`);
    await within("list_changed after the deletion", 5_000, () => c.count("notifications/tools/list_changed") > notified);
    const after = (await c.client.listTools()).tools.map((tool) => tool.name);
    expect(after.filter((name) => name.startsWith("b_"))).to.deep.equal([]);
    expect(after).to.have.length(FIXTURE_TOOLS);
    expect(textOf(await c.client.callTool({ name: "a_add", arguments: { a: 2, b: 40 } }))).to.equal("42");
    expect(readyCondition(await registration(s, "alpha"))?.status).to.equal("True");
  });

  it("(2) a wrong credential leaves the registration NotReady with the upstream's 401; fixing the Secret makes it Ready", async () => {
    const s = await stack("ref-cred");
    const locked = await upstream("locked", { requireToken: "s3cret" });
    await s.register("locked", locked.port, { toolPrefix: "l_", credentialRef: { name: "locked-cred" } });
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "locked", notReadyWith(`credential secret ${s.namespace}/locked-cred not found`));
    await apply(suite.op, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: locked-cred\n  namespace: ${s.namespace}\nstringData:\n  other: Bearer s3cret\n`);
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "locked", notReadyWith(`credential secret ${s.namespace}/locked-cred has no key token`));
    await apply(suite.op, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: locked-cred\n  namespace: ${s.namespace}\nstringData:\n  token: Bearer wrong\n`);
    const refused = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "locked", notReadyWith(/^HTTP 401/));
    expect(readyCondition(refused)).to.include({ reason: "NotReady" });
    expect(refused.status?.discoveredTools).to.equal(0);
    expect(locked.authorizationsSeen()).to.include("Bearer wrong");
    const row = parseTable(await suite.op.kubectl(["get", "mcpsr", "-n", s.namespace])).find((r) => r.NAME === "locked");
    expect(row).to.include({ READY: "False", CREDENTIALS: "locked-cred", TOOLS: "0" });
    // The credential is in the registry for the broker, never in the registration's status.
    expect(JSON.stringify(refused.status)).to.not.include("wrong");

    const started = performance.now();
    await apply(suite.op, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: locked-cred\n  namespace: ${s.namespace}\nstringData:\n  token: Bearer s3cret\n`);
    const fixed = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "locked", isReady, 15_000);
    recordTiming("(2) Secret fixed -> registration Ready", performance.now() - started);
    expect(fixed.status?.discoveredTools).to.equal(FIXTURE_TOOLS);
    // The credential reaches the upstream on clients' calls too.
    const c = await client(s.broker.mcpUrl);
    expect(JSON.parse(textOf(await c.client.callTool({ name: "l_whoami", arguments: {} }))).authorization).to.equal("Bearer s3cret");
  });

  it("(6) a virtual server narrows tools/list; its status is Ready, or NotReady naming tools nobody serves", async () => {
    const s = await stack("ref-vs");
    const alpha = await upstream("alpha");
    await s.register("alpha", alpha.port, { toolPrefix: "v_" });
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha");
    await apply(suite.op, virtualServerYaml(s.namespace, "narrow", ["v_echo", "v_add"]));
    const narrow = await waitForReady(suite.op, "mcpvirtualservers", s.namespace, "narrow");
    expect(readyCondition(narrow)).to.include({ reason: "Ready", message: "all 2 tools are served" });
    expect(await registryText(suite.op, s.namespace)).to.include(`name: ${s.namespace}/narrow`);

    // The broker sees the virtual server through the registry: wait for it, then compare with and without the header.
    const narrowed = await within("tools/list narrowed by X-Mcp-Virtualserver", 10_000, async () => {
      const names = await listToolNames(s.broker.mcpUrl, { "X-Mcp-Virtualserver": `${s.namespace}/narrow` });
      return names.length === 2 ? names : undefined;
    });
    expect(narrowed.value.sort()).to.deep.equal(["v_add", "v_echo"]);
    expect(await listToolNames(s.broker.mcpUrl)).to.have.length(FIXTURE_TOOLS);
    const c = await client(s.broker.mcpUrl, { "X-Mcp-Virtualserver": `${s.namespace}/narrow` });
    expect((await c.client.listTools()).tools.map((tool) => tool.name).sort()).to.deep.equal(["v_add", "v_echo"]);
    expect(textOf(await c.client.callTool({ name: "v_echo", arguments: { text: "in" } }))).to.equal("in");

    await apply(suite.op, virtualServerYaml(s.namespace, "bogus", ["v_echo", "v_nope", "zz_missing"]));
    const bogus = await waitForReady(suite.op, "mcpvirtualservers", s.namespace, "bogus", (ready) => ready.status === "False");
    expect(readyCondition(bogus)).to.include({ reason: "UnknownTools", message: "unknown tools: v_nope, zz_missing" });
    // When a server starts offering one of them, the status follows.
    alpha.addTool("nope", "appears later");
    await waitForReady(suite.op, "mcpvirtualservers", s.namespace, "bogus", (ready) => ready.message === "unknown tools: zz_missing", 10_000);
  });

  it("(7) connected clients get tools/list_changed when a registration becomes Ready and when its upstream adds a tool", async () => {
    const s = await stack("ref-notify");
    const gamma = await upstream("gamma");
    const c = await client(s.broker.mcpUrl);
    expect((await c.client.listTools()).tools).to.deep.equal([]);
    const started = performance.now();
    await s.register("gamma", gamma.port, { toolPrefix: "g_" });
    await within("list_changed after registration", 10_000, () => c.count("notifications/tools/list_changed") >= 1);
    recordTiming("(7) registration applied -> client notified", performance.now() - started);
    expect((await c.client.listTools()).tools.map((tool) => tool.name)).to.include("g_echo");
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "gamma");

    const seen = c.count("notifications/tools/list_changed");
    gamma.addTool("fresh", "a tool that appeared later");
    await within("list_changed after the upstream's change", 10_000, () => c.count("notifications/tools/list_changed") > seen);
    expect((await c.client.listTools()).tools.map((tool) => tool.name)).to.include("g_fresh");
    expect(textOf(await c.client.callTool({ name: "g_fresh", arguments: {} }))).to.equal("fresh called");
    const updated = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "gamma", (_ready, object) => object.status?.discoveredTools === FIXTURE_TOOLS + 1, 10_000);
    expect(readyCondition(updated)?.message).to.equal(`server added successfully. Total tools added ${FIXTURE_TOOLS + 1}`);
  });

  it("(10) a server speaking an unsupported protocol version is NotReady with that message", async () => {
    const s = await stack("ref-version");
    const odd = await raw("unsupported-version");
    await s.register("odd", odd.port, { toolPrefix: "u_" });
    const object = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "odd", notReadyWith("unsupported protocol version"));
    expect(readyCondition(object)).to.include({ reason: "NotReady", message: 'unsupported protocol version "1999-01-01"' });
    expect(await listToolNames(s.broker.mcpUrl)).to.deep.equal([]);
  });

  it("(11) two registrations with the same empty prefix: the later one is refused with PrefixConflict; giving it a prefix makes both callable", async () => {
    const s = await stack("ref-conflict");
    const first = await upstream("first");
    const second = await upstream("second");
    await s.register("first", first.port, { toolPrefix: "" });
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "first");
    await s.register("second", second.port, { toolPrefix: "" });
    // Refused by the controller from configuration (issue 13), before the broker ever sees it.
    const clash = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "second", notReadyWith("overlaps the prefix"));
    expect(readyCondition(clash)?.reason).to.equal("PrefixConflict");
    expect(readyCondition(clash)?.message ?? "").to.include(`${s.namespace}/first`);
    expect(await registryText(suite.op, s.namespace)).to.not.include(`${s.namespace}/second`);
    expect(readyCondition(await registration(s, "first"))?.status).to.equal("True");

    await suite.op.kubectl(["patch", "mcpsr", "second", "-n", s.namespace, "--type=merge", "-p", '{"spec":{"toolPrefix":"second_"}}']);
    const resolved = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "second", isReady, 15_000);
    expect(resolved.status?.discoveredTools).to.equal(FIXTURE_TOOLS);
    expect(resolved.status?.observedGeneration).to.equal(resolved.metadata.generation);
    const c = await client(s.broker.mcpUrl);
    const names = (await c.client.listTools()).tools.map((tool) => tool.name);
    expect(names).to.include.members(["echo", "whoami", "second_echo", "second_whoami"]);
    expect(JSON.parse(textOf(await c.client.callTool({ name: "whoami", arguments: {} }))).server).to.equal("first");
    expect(JSON.parse(textOf(await c.client.callTool({ name: "second_whoami", arguments: {} }))).server).to.equal("second");
    // Once set, the prefix stays.
    const again = await suite.op.kubectl(["patch", "mcpsr", "second", "-n", s.namespace, "--type=merge", "-p", '{"spec":{"toolPrefix":"other_"}}']).catch((err: Error) => err);
    expect(String(again)).to.include("toolPrefix is immutable once set");
  });

  it("a registration follows its HTTPRoute and its extension", async () => {
    const s = await stack("ref-route");
    const alpha = await upstream("alpha");
    await s.register("alpha", alpha.port, { toolPrefix: "r_" });
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha");
    const route = "alpha-route";

    // The Gateway no longer accepts the route.
    await suite.op.kubectl(["patch", "httproute", route, "-n", s.namespace, "--subresource=status", "--type=merge", "-p", '{"status":{"parents":[]}}']);
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha", notReadyWith("no valid gateways for httproute"));
    await within("tools gone from the broker", 5_000, async () => (await listToolNames(s.broker.mcpUrl)).length === 0);
    await markRouteAccepted(suite.op, s.namespace, route, s.gateway);
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha");

    // The route goes away, and comes back.
    const routeYaml = await suite.op.kubectl(["get", "httproute", route, "-n", s.namespace, "-o", "yaml"]);
    await suite.op.kubectl(["delete", "httproute", route, "-n", s.namespace]);
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha", notReadyWith(`HTTPRoute ${s.namespace}/${route} not found`));
    await s.addRoute("alpha", alpha.port);
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha");
    expect(routeYaml).to.include("alpha.mcp.local");

    // Without its extension nothing serves it, and the broker's registry is emptied.
    await suite.op.kubectl(["delete", "mcpgatewayextension", s.extension, "-n", s.namespace, "--wait=true", "--timeout=15s"]);
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha", notReadyWith("no valid mcpgatewayextensions configured"));
    await within("registry emptied", 5_000, async () => (await registryText(suite.op, s.namespace)).includes("servers: []"));
    await within("tools gone from the broker", 5_000, async () => (await listToolNames(s.broker.mcpUrl)).length === 0);
  });

  it("a registration in another namespace than its HTTPRoute needs a ReferenceGrant there", async () => {
    const s = await stack("ref-xroute");
    const other = `${s.namespace}-regs`;
    await suite.op.kubectl(["create", "namespace", other]);
    s.track(other);
    const alpha = await upstream("alpha");
    const route = await s.addRoute("alpha", alpha.port);
    await apply(suite.op, registrationYaml(other, "remote", route, { toolPrefix: "x_", routeNamespace: s.namespace }));
    const waiting = await waitForReady(suite.op, "mcpserverregistrations", other, "remote", (ready) => ready.reason === "ReferenceGrantRequired");
    expect(readyCondition(waiting)?.message).to.include(`ReferenceGrant in namespace ${s.namespace}`);
    await apply(
      suite.op,
      `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: allow-registrations
  namespace: ${s.namespace}
spec:
  from:
    - group: ${GROUP}
      kind: MCPServerRegistration
      namespace: ${other}
  to:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
`,
    );
    const ready = await waitForReady(suite.op, "mcpserverregistrations", other, "remote", isReady, 10_000);
    expect(ready.status?.discoveredTools).to.equal(FIXTURE_TOOLS);
    expect(await registryText(suite.op, s.namespace)).to.include(`name: ${other}/remote`);
  });

  it("exposed tool names over 64 characters: Ready, with a ToolNamesValid=False warning", async () => {
    const s = await stack("ref-long");
    const alpha = await upstream("alpha");
    const prefix = `${"p".repeat(58)}_`;
    await s.register("alpha", alpha.port, { toolPrefix: prefix });
    const object = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "alpha", (_ready, o) => (o.status?.conditions ?? []).some((c) => c.type === "ToolNamesValid"));
    expect(readyCondition(object)?.status).to.equal("True");
    const warning = object.status?.conditions?.find((c) => c.type === "ToolNamesValid");
    expect(warning).to.include({ status: "False", reason: "ToolNameTooLong" });
    expect(warning?.message).to.include(`${prefix}whoami`);
    expect(warning?.message).to.not.include(`${prefix}add,`);
  });

  it("kept the controller running without errors in its log", () => {
    expect(suite.controller.child.exitCode).to.equal(null);
    expect(errorLines(suite.controller)).to.deep.equal([]);
  });
});
