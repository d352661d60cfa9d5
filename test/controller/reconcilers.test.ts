// Each reconciler over a cluster in memory (test/helpers/cluster-world.ts): what it writes, that a
// second run over the result writes nothing, and every verdict a user can read in a status. No API
// server, no process: milliseconds.
import { expect } from "chai";
import { parse } from "yaml";
import type { Condition } from "../../internal/api/condition.js";
import { ExtensionReconciler } from "../../internal/controller/reconcilers/extension.js";
import { FINALIZER, RegistrationReconciler } from "../../internal/controller/reconcilers/registration.js";
import { RegistriesReconciler } from "../../internal/controller/reconcilers/registries.js";
import { VirtualServerReconciler } from "../../internal/controller/reconcilers/virtual-server.js";
import type { ObjectRequest } from "../../internal/controller/requests.js";
import type { MCPServerRegistration } from "../../internal/controller/resources.js";
import type { Registry } from "../../internal/contract/registry.js";
import { ROTATE_ANNOTATION, SESSION_KEY_SECRET_KEY, SESSION_KEY_SECRET_NAME } from "../../internal/contract/session-key.js";
import { contextOf, routeOf, seedWorld, type World } from "../helpers/cluster-world.js";
import { ROUTE_TOOL_PREFIX_ANNOTATION } from "../../internal/api/mcp-server-registration.js";
import { SESSION_KEY_CONDITION } from "../../internal/controller/session-key.js";
import { READY } from "../../internal/controller/status-writer.js";

const NS = "mcp-test";
const request = (kind: ObjectRequest["kind"], name: string, namespace = NS): ObjectRequest => ({ kind, namespace, name });
const ready = (conditions: Condition[] | undefined) => conditions?.find((condition) => condition.type === READY);

function registration(name: string, spec: Partial<MCPServerRegistration["spec"]>, created: string, finalizers = [FINALIZER]): MCPServerRegistration {
  return { metadata: { name, namespace: NS, generation: 1, creationTimestamp: created, finalizers }, spec: { path: "/mcp", ...spec } };
}

const target = (route: string) => ({ group: "gateway.networking.k8s.io" as const, kind: "HTTPRoute" as const, name: route });

/** The seed's world with its session key in place, so the registries reconciler writes the registry at once. */
function world(): World {
  const w = seedWorld();
  w.secrets.push({ metadata: { name: SESSION_KEY_SECRET_NAME, namespace: NS }, data: { [SESSION_KEY_SECRET_KEY]: Buffer.alloc(32, 1).toString("base64") } });
  return w;
}

/** What the broker publishes when every registry server is ready with these tools. */
function brokerServes(w: World, servers: Record<string, string[]>): void {
  w.status[NS] = { servers: Object.entries(servers).map(([name, tools]) => ({ name, ready: true, message: `server added successfully. Total tools added ${tools.length}`, totalTools: tools.length, tools })) };
}

function reconcilers(w: World) {
  const context = contextOf(w);
  const registries = new RegistriesReconciler(context);
  return { context, writer: context.writer, registries, registration: new RegistrationReconciler(context, registries), extension: new ExtensionReconciler(context), virtualServer: new VirtualServerReconciler(context) };
}

function registryOf(r: ReturnType<typeof reconcilers>): Registry {
  return parse(r.writer.registryText(NS) ?? "") as Registry;
}

describe("controller reconcilers (in memory)", () => {
  describe("MCPGatewayExtension", () => {
    it("writes Ready with observedGeneration once, with one Normal Event; a second run writes nothing", async () => {
      const w = world();
      w.extensions[0]!.metadata.generation = 3;
      const r = reconcilers(w);
      expect(await r.extension.reconcile(request("MCPGatewayExtension", "mcp-extension"))).to.deep.equal({});
      const extension = w.extensions[0]!;
      expect(extension.status?.observedGeneration).to.equal(3);
      expect(ready(extension.status?.conditions)?.observedGeneration).to.equal(3);
      expect(ready(extension.status?.conditions)).to.include({ status: "True", reason: "ValidMCPGatewayExtension", message: "serving Gateway gateway-system/mcp-gateway" });
      expect(r.writer.events).to.deep.equal([{ name: `${NS}/mcp-extension`, type: "Normal", reason: "ValidMCPGatewayExtension", message: "serving Gateway gateway-system/mcp-gateway" }]);
      const writes = r.writer.writes.length;
      await r.extension.reconcile(request("MCPGatewayExtension", "mcp-extension"));
      expect(r.writer.writes).to.have.length(writes);
      expect(r.writer.events).to.have.length(1);
    });

    it("reports an unusable session key as SessionKeyValid=False with one Warning Event, and drops the condition once fixed", async () => {
      const w = world();
      w.secrets[0]!.data = { [SESSION_KEY_SECRET_KEY]: Buffer.from("short").toString("base64") };
      const r = reconcilers(w);
      await r.extension.reconcile(request("MCPGatewayExtension", "mcp-extension"));
      await r.extension.reconcile(request("MCPGatewayExtension", "mcp-extension"));
      const condition = w.extensions[0]!.status?.conditions?.find((c) => c.type === SESSION_KEY_CONDITION);
      expect(condition).to.include({ status: "False", reason: "SessionKeyTooShort" });
      expect(r.writer.events.filter((event) => event.type === "Warning").map((event) => event.reason)).to.deep.equal(["SessionKeyTooShort"]);
      w.secrets[0]!.data = { [SESSION_KEY_SECRET_KEY]: Buffer.alloc(32, 2).toString("base64") };
      await r.extension.reconcile(request("MCPGatewayExtension", "mcp-extension"));
      expect(w.extensions[0]!.status?.conditions?.map((c) => c.type)).to.deep.equal([READY]);
    });

    it("does nothing for an extension that is gone or being deleted", async () => {
      const w = world();
      w.extensions[0]!.metadata.deletionTimestamp = "2026-01-02T00:00:00Z";
      const r = reconcilers(w);
      await r.extension.reconcile(request("MCPGatewayExtension", "mcp-extension"));
      await r.extension.reconcile(request("MCPGatewayExtension", "nope"));
      expect(r.writer.writes).to.deep.equal([]);
    });
  });

  describe("MCPServerRegistration", () => {
    it("adds its finalizer first, then waits for the broker, then is Ready with the broker's tool count", async () => {
      const w = world();
      w.registrations.push(registration("one", { targetRef: target("mcp-api-key-server-route"), toolPrefix: "one_" }, "2026-01-01T00:00:00Z", []));
      const r = reconcilers(w);
      await r.registration.reconcile(request("MCPServerRegistration", "one"));
      expect(r.writer.writes).to.deep.equal([{ what: "finalizers", kind: "MCPServerRegistration", namespace: NS, name: "one" }]);
      expect(w.registrations[0]!.metadata.finalizers).to.deep.equal([FINALIZER]);
      await r.registration.reconcile(request("MCPServerRegistration", "one"));
      expect(ready(w.registrations[0]!.status?.conditions)).to.include({ status: "False", reason: "NotReady", message: "waiting for the broker to connect to the server" });
      brokerServes(w, { [`${NS}/one`]: ["one_echo", "one_add"] });
      await r.registration.reconcile(request("MCPServerRegistration", "one"));
      expect(w.registrations[0]!.status).to.deep.include({ discoveredTools: 2, readyServers: "1/1", observedGeneration: 1 });
      expect(ready(w.registrations[0]!.status?.conditions)).to.include({ status: "True", reason: "Ready" });
      const writes = r.writer.writes.length;
      await r.registration.reconcile(request("MCPServerRegistration", "one"));
      expect(r.writer.writes, "a second run writes nothing").to.have.length(writes);
    });

    it("refuses a later registration whose prefix equals or extends an older one's (PrefixConflict, naming it); it is served once the older goes", async () => {
      const w = world();
      w.routes.push(routeOf(NS, "other-route", "other.mcp.local", "mcp-api-key-server", 9090));
      w.registrations.push(registration("later", { targetRef: target("other-route"), toolPrefix: "team_x" }, "2026-02-01T00:00:00Z"));
      w.registrations.push(registration("first", { targetRef: target("mcp-api-key-server-route"), toolPrefix: "team_" }, "2026-01-01T00:00:00Z"));
      const r = reconcilers(w);
      await r.registration.reconcile(request("MCPServerRegistration", "later"));
      expect(ready(w.registrations[0]!.status?.conditions)).to.deep.include({
        status: "False",
        reason: "PrefixConflict",
        message: `tool prefix "team_x" overlaps the prefix "team_" of MCPServerRegistration ${NS}/first, registered first (by creation time, then namespace/name); prefixes on one gateway must not start one another, so this server is not served until one of them changes`,
      });
      await r.registries.reconcile();
      expect(registryOf(r).servers.map((server) => server.name)).to.deep.equal([`${NS}/first`]);

      // Deleting the older one: the registry drops it before its finalizer goes, and the later one is served.
      w.registrations[1]!.metadata.deletionTimestamp = "2026-03-01T00:00:00Z";
      await r.registration.reconcile(request("MCPServerRegistration", "first"));
      expect(w.registrations.map((reg) => reg.metadata.name)).to.deep.equal(["later"]);
      expect(registryOf(r).servers.map((server) => server.name)).to.deep.equal([`${NS}/later`]);
      brokerServes(w, { [`${NS}/later`]: ["team_xecho"] });
      await r.registration.reconcile(request("MCPServerRegistration", "later"));
      expect(ready(w.registrations[0]!.status?.conditions)).to.include({ status: "True", reason: "Ready" });
    });

    it("decides a tie in age by namespace/name, and lets an empty prefix sit beside prefixed ones but not beside another empty one", async () => {
      const w = world();
      const same = "2026-01-01T00:00:00Z";
      w.registrations.push(registration("b", { targetRef: target("mcp-api-key-server-route"), toolPrefix: "" }, same));
      w.registrations.push(registration("a", { targetRef: target("mcp-api-key-server-route"), toolPrefix: "" }, same));
      w.registrations.push(registration("c", { targetRef: target("mcp-api-key-server-route"), toolPrefix: "c_" }, same));
      const r = reconcilers(w);
      for (const name of ["a", "b", "c"]) await r.registration.reconcile(request("MCPServerRegistration", name));
      const reasons = Object.fromEntries(w.registrations.map((reg) => [reg.metadata.name, ready(reg.status?.conditions)?.reason]));
      expect(reasons).to.deep.equal({ a: "NotReady", b: "PrefixConflict", c: "NotReady" });
      expect(ready(w.registrations[0]!.status?.conditions)?.message).to.include(`MCPServerRegistration ${NS}/a`);
    });

    it("says why a spec with both or neither of targetRef and routeSelector is not used", async () => {
      const w = world();
      w.registrations.push(registration("both", { targetRef: target("mcp-api-key-server-route"), routeSelector: { matchLabels: { a: "b" } } }, "2026-01-01T00:00:00Z"));
      w.registrations.push(registration("neither", {}, "2026-01-01T00:00:00Z"));
      const r = reconcilers(w);
      for (const name of ["both", "neither"]) await r.registration.reconcile(request("MCPServerRegistration", name));
      for (const reg of w.registrations) expect(ready(reg.status?.conditions)).to.include({ status: "False", reason: "NotReady", message: "invalid spec: exactly one of targetRef and routeSelector must be set" });
    });

    describe("with routeSelector", () => {
      function selecting(): World {
        const w = world();
        w.routes.push(routeOf(NS, "weather.v1", "weather.mcp.local", "mcp-api-key-server", 9090, { "mcp-server": "true" }, "2026-01-02T00:00:00Z"));
        w.routes.push(routeOf(NS, "news", "news.mcp.local", "mcp-api-key-server", 9090, { "mcp-server": "true", tier: "beta" }, "2026-01-03T00:00:00Z"));
        w.registrations.push(registration("team", { routeSelector: { matchLabels: { "mcp-server": "true" } }, toolPrefix: "t_" }, "2026-01-01T00:00:00Z"));
        return w;
      }

      it("serves each selected route as its own server, prefixed by toolPrefix and the sanitized route name, with its own status entry", async () => {
        const w = selecting();
        const r = reconcilers(w);
        await r.registries.reconcile();
        expect(registryOf(r).servers.map((server) => [server.name, server.toolPrefix, server.hostname])).to.deep.equal([
          [`${NS}/team/weather.v1`, "t_weather_v1_", "weather.mcp.local"],
          [`${NS}/team/news`, "t_news_", "news.mcp.local"],
        ]);
        w.status[NS] = {
          servers: [
            { name: `${NS}/team/weather.v1`, ready: true, message: "server added successfully. Total tools added 2", totalTools: 2, tools: ["t_weather_v1_a", "t_weather_v1_b"] },
            { name: `${NS}/team/news`, ready: false, message: "HTTP 401", totalTools: 0, tools: [] },
          ],
        };
        await r.registration.reconcile(request("MCPServerRegistration", "team"));
        const status = w.registrations[0]!.status!;
        expect(status).to.deep.include({ discoveredTools: 2, readyServers: "1/2" });
        expect(ready(status.conditions)).to.include({ status: "False", reason: "NotReady", message: "1 of 2 selected servers ready; news: HTTP 401" });
        expect(status.servers?.map((server) => [server.name, server.toolPrefix, server.discoveredTools, ready(server.conditions)?.status, ready(server.conditions)?.message])).to.deep.equal([
          ["weather.v1", "t_weather_v1_", 2, "True", "server added successfully. Total tools added 2"],
          ["news", "t_news_", 0, "False", "HTTP 401"],
        ]);
        brokerServes(w, { [`${NS}/team/weather.v1`]: ["t_weather_v1_a", "t_weather_v1_b"], [`${NS}/team/news`]: ["t_news_a"] });
        await r.registration.reconcile(request("MCPServerRegistration", "team"));
        expect(ready(w.registrations[0]!.status?.conditions)).to.include({ status: "True", reason: "Ready", message: "all 2 selected servers are ready" });
        expect(w.registrations[0]!.status).to.deep.include({ discoveredTools: 3, readyServers: "2/2" });
        // The weather entry's Ready did not change: its transition time stays.
        expect(ready(w.registrations[0]!.status?.servers?.[0]?.conditions)?.lastTransitionTime).to.equal(ready(status.servers?.[0]?.conditions)?.lastTransitionTime);
      });

      it("follows routes that lose the label or go, and says when none matches", async () => {
        const w = selecting();
        const r = reconcilers(w);
        delete w.routes[1]!.metadata.labels;
        await r.registries.reconcile();
        expect(registryOf(r).servers.map((server) => server.name)).to.deep.equal([`${NS}/team/news`]);
        w.routes.splice(2, 1);
        await r.registries.reconcile();
        expect(registryOf(r).servers).to.deep.equal([]);
        await r.registration.reconcile(request("MCPServerRegistration", "team"));
        expect(ready(w.registrations[0]!.status?.conditions)).to.include({ status: "False", reason: "NoMatchingRoutes", message: `no HTTPRoute in namespace ${NS} matches the routeSelector` });
        expect(w.registrations[0]!.status).to.deep.include({ readyServers: "0/0", servers: [] });
      });

      it("takes matchExpressions, a route's own prefix from its annotation, and refuses an annotation outside the prefix alphabet", async () => {
        const w = selecting();
        w.registrations[0]!.spec.routeSelector = { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["beta"] }, { key: "mcp-server", operator: "Exists" }] };
        w.routes.push(routeOf(NS, "bad", "bad.mcp.local", "mcp-api-key-server", 9090, { "mcp-server": "yes" }, "2026-01-04T00:00:00Z"));
        w.routes[1]!.metadata.annotations = { [ROUTE_TOOL_PREFIX_ANNOTATION]: "wx_" };
        w.routes[3]!.metadata.annotations = { [ROUTE_TOOL_PREFIX_ANNOTATION]: "no spaces" };
        const r = reconcilers(w);
        await r.registries.reconcile();
        expect(registryOf(r).servers.map((server) => [server.name, server.toolPrefix])).to.deep.equal([[`${NS}/team/weather.v1`, "wx_"]]);
        await r.registration.reconcile(request("MCPServerRegistration", "team"));
        const bad = w.registrations[0]!.status?.servers?.find((server) => server.name === "bad");
        expect(ready(bad?.conditions)?.message).to.equal(`annotation mcp.kagenti.com/tool-prefix of HTTPRoute ${NS}/bad must match ^[A-Za-z0-9_-]*$ and have at most 64 characters`);
      });

      it("lets selected routes' prefixes conflict like registrations', the older route keeping its prefix", async () => {
        const w = selecting();
        w.routes[1]!.metadata.annotations = { [ROUTE_TOOL_PREFIX_ANNOTATION]: "t_news_" };
        const r = reconcilers(w);
        await r.registries.reconcile();
        expect(registryOf(r).servers.map((server) => server.name)).to.deep.equal([`${NS}/team/weather.v1`]);
        await r.registration.reconcile(request("MCPServerRegistration", "team"));
        expect(ready(w.registrations[0]!.status?.conditions)?.reason).to.equal("PrefixConflict");
        expect(ready(w.registrations[0]!.status?.servers?.[1]?.conditions)?.message).to.include(`MCPServerRegistration ${NS}/team (HTTPRoute weather.v1)`);
      });
    });
  });

  describe("MCPVirtualServer", () => {
    it("is Ready when every tool it names is served, and names the ones nobody serves", async () => {
      const w = world();
      w.virtualServers.push({ metadata: { name: "vs", namespace: NS, generation: 2 }, spec: { tools: ["one_echo", "nope"] } });
      brokerServes(w, { [`${NS}/one`]: ["one_echo"] });
      const r = reconcilers(w);
      await r.virtualServer.reconcile(request("MCPVirtualServer", "vs"));
      expect(ready(w.virtualServers[0]!.status?.conditions)).to.include({ status: "False", reason: "UnknownTools", message: "unknown tools: nope", observedGeneration: 2 });
      w.virtualServers[0]!.spec.tools = ["one_echo"];
      await r.virtualServer.reconcile(request("MCPVirtualServer", "vs"));
      expect(ready(w.virtualServers[0]!.status?.conditions)).to.include({ status: "True", reason: "Ready", message: "all 1 tools are served" });
      expect(r.writer.events.map((event) => event.type)).to.deep.equal(["Warning", "Normal"]);
    });
  });

  describe("Registries", () => {
    it("generates a missing session key before anything else, then writes the registry once", async () => {
      const w = seedWorld();
      w.registrations.push(registration("one", { targetRef: target("mcp-api-key-server-route"), toolPrefix: "one_" }, "2026-01-01T00:00:00Z"));
      const r = reconcilers(w);
      await r.registries.reconcile();
      expect(r.writer.writes.map((write) => write.what)).to.deep.equal(["session-key", "registry"]);
      await r.registries.reconcile();
      expect(r.writer.writes, "unchanged: nothing written").to.have.length(2);
      expect(registryOf(r).servers.map((server) => server.url)).to.deep.equal(["http://mcp-api-key-server.mcp-test.svc.cluster.local:9090/mcp"]);
    });

    it("rotates the session key once when asked, and empties a managed registry no extension needs any more", async () => {
      const w = world();
      w.registrations.push(registration("one", { targetRef: target("mcp-api-key-server-route"), toolPrefix: "one_" }, "2026-01-01T00:00:00Z"));
      w.secrets[0]!.metadata.annotations = { [ROTATE_ANNOTATION]: "now" };
      const r = reconcilers(w);
      await r.registries.reconcile();
      await r.registries.reconcile();
      expect(r.writer.writes.map((write) => write.what)).to.deep.equal(["rotation", "registry"]);
      w.extensions = [];
      await r.registries.reconcile();
      expect(registryOf(r).servers).to.deep.equal([]);
    });
  });
});
