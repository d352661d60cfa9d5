// Issue 12 item 4: a registration with spec.routeSelector registers every HTTPRoute of its namespace that
// carries the labels, each as a server of its own (its own prefix, its own entry in status.servers), and follows
// routes as they gain or lose the label or go away; `kubectl get mcpsr -o wide` shows how many are in use.
import { expect } from "chai";
import { FIXED_TOOLS } from "../fixtures/upstream-server.js";
import { connectClient, textOf } from "../helpers/mcp-client.js";
import { apply, type CustomObject, parseTable, readyCondition, registryText, waitForReady } from "../helpers/cluster-objects.js";
import { listToolNames } from "../helpers/http.js";
import { selectorRegistrationYaml } from "../helpers/manifests.js";
import { cleanupsAfterEach, operatorSuite } from "../helpers/operator-suite.js";
import { within } from "../helpers/poll.js";
import { recordTiming } from "../helpers/timing.js";
import { API_VERSION } from "../../internal/api/group.js";
import { READY } from "../../internal/controller/status-writer.js";

const FIXTURE_TOOLS = FIXED_TOOLS.length;
const LABEL = { "mcp-server": "true" };

describe("operator: label-selected servers (issue 12)", function () {
  this.timeout(90_000);
  const suite = operatorSuite();
  const cleanups = cleanupsAfterEach();

  const upstream = (name: string) => cleanups.upstream(name);
  const servers = (object: CustomObject) => (object.status?.servers ?? []).map((server) => [server.name, server.toolPrefix, server.discoveredTools, server.conditions.find((condition) => condition.type === READY)?.status]);

  it("a labelled route's server appears in the registry and in status; removing the label or the route removes it", async () => {
    const s = await cleanups.stack(suite.op, "selector");
    const weather = await upstream("weather");
    const news = await upstream("news");
    await apply(suite.op, selectorRegistrationYaml(s.namespace, "team", LABEL));
    const none = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "team", (ready) => ready.reason === "NoMatchingRoutes");
    expect(readyCondition(none)?.message).to.equal(`no HTTPRoute in namespace ${s.namespace} matches the routeSelector`);

    // A route without the label is not picked up; labelling it registers it.
    const weatherRoute = await s.addRoute("weather", weather.port);
    await s.addRoute("news", news.port);
    let started = performance.now();
    await suite.op.kubectl(["label", "httproute", weatherRoute, "-n", s.namespace, "mcp-server=true"]);
    await within("the weather route's server in the registry Secret", 10_000, async () => (await registryText(suite.op, s.namespace)).includes(`name: ${s.namespace}/team/${weatherRoute}`));
    recordTiming("route labelled -> its server in the registry Secret", performance.now() - started);
    const one = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "team");
    expect(readyCondition(one)?.message).to.equal("all 1 selected servers are ready");
    expect(one.status).to.deep.include({ discoveredTools: FIXTURE_TOOLS, readyServers: "1/1" });
    expect(servers(one)).to.deep.equal([[weatherRoute, "weather-route_", FIXTURE_TOOLS, "True"]]);
    expect(await registryText(suite.op, s.namespace)).to.not.include("news-route");
    const c = await connectClient(s.broker.mcpUrl);
    cleanups.add(() => c.close());
    expect(JSON.parse(textOf(await c.client.callTool({ name: "weather-route_whoami", arguments: {} }))).server).to.equal("weather");

    // A second labelled route: a second server, the totals in `kubectl get mcpsr -o wide`.
    await suite.op.kubectl(["label", "httproute", "news-route", "-n", s.namespace, "mcp-server=true"]);
    const two = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "team", (ready, object) => ready.status === "True" && object.status?.readyServers === "2/2");
    // Listed in claim order (age, then name): which comes first depends on the second each route was created in.
    expect(servers(two)).to.have.deep.members([
      ["news-route", "news-route_", FIXTURE_TOOLS, "True"],
      [weatherRoute, "weather-route_", FIXTURE_TOOLS, "True"],
    ]);
    const row = parseTable(await suite.op.kubectl(["get", "mcpsr", "-n", s.namespace, "-o", "wide"])).find((r) => r.NAME === "team");
    expect(row).to.include({ READY: "True", TOOLS: String(2 * FIXTURE_TOOLS), SERVERS: "2/2" });
    await within("both servers' tools listed", 5_000, async () => (await listToolNames(s.broker.mcpUrl)).length === 2 * FIXTURE_TOOLS);

    // The label goes: the server goes, and connected clients hear of it.
    const notified = c.count("notifications/tools/list_changed");
    started = performance.now();
    await suite.op.kubectl(["label", "httproute", weatherRoute, "-n", s.namespace, "mcp-server-"]);
    await within("the weather server gone from the registry Secret", 10_000, async () => !(await registryText(suite.op, s.namespace)).includes(weatherRoute));
    await within("list_changed after the label was removed", 5_000, () => c.count("notifications/tools/list_changed") > notified);
    recordTiming("label removed -> server gone and clients notified", performance.now() - started);
    const names = (await c.client.listTools()).tools.map((tool) => tool.name);
    expect(names.filter((name) => name.startsWith("weather-route_"))).to.deep.equal([]);
    expect(names).to.have.length(FIXTURE_TOOLS);
    const left = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "team", (ready, object) => ready.status === "True" && object.status?.readyServers === "1/1");
    expect(servers(left)).to.deep.equal([["news-route", "news-route_", FIXTURE_TOOLS, "True"]]);

    // The route goes: nothing is left.
    await suite.op.kubectl(["delete", "httproute", "news-route", "-n", s.namespace]);
    await within("the news server gone from the registry Secret", 10_000, async () => !(await registryText(suite.op, s.namespace)).includes("news-route"));
    const empty = await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "team", (ready) => ready.reason === "NoMatchingRoutes");
    expect(empty.status).to.deep.include({ readyServers: "0/0", discoveredTools: 0, servers: [] });
    expect(await listToolNames(s.broker.mcpUrl)).to.deep.equal([]);
  });

  it("the API server refuses a registration with both a targetRef and a routeSelector, or neither", async () => {
    const ns = await suite.namespace("selector-invalid");
    const both = JSON.stringify({
      apiVersion: API_VERSION,
      kind: "MCPServerRegistration",
      metadata: { name: "both", namespace: ns },
      spec: { targetRef: { name: "r" }, routeSelector: { matchLabels: LABEL } },
    });
    const neither = JSON.stringify({ apiVersion: API_VERSION, kind: "MCPServerRegistration", metadata: { name: "neither", namespace: ns }, spec: { path: "/mcp" } });
    const badExpression = JSON.stringify({
      apiVersion: API_VERSION,
      kind: "MCPServerRegistration",
      metadata: { name: "bad", namespace: ns },
      spec: { routeSelector: { matchExpressions: [{ key: "mcp-server", operator: "In" }] } },
    });
    for (const [document, message] of [
      [both, "exactly one of targetRef and routeSelector must be set"],
      [neither, "exactly one of targetRef and routeSelector must be set"],
      [badExpression, "In and NotIn need values"],
    ] as const) {
      const refused = await apply(suite.op, document).catch((err: Error) => err);
      expect(String(refused)).to.include(message);
    }
  });
});
