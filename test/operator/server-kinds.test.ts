// Issue 12 on the real API server: the transport the broker really talks shows in a registration's status
// (status.transport, status.servers[].transport, `kubectl get mcpsr -o wide`), `auto` showing what it detected; and an
// OpenAPI document from a ConfigMap (spec.openapi.configMapRef) becomes the Petstore's tools, follows edits of the
// ConfigMap, and says why when the ConfigMap, its key or its document is not usable.
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { stringify } from "yaml";
import { connectClient } from "../helpers/mcp-client.js";
import { apply, isReady, notReadyWith, parseTable, readyCondition, registryText, waitForReady, type Condition, type CustomObject } from "../helpers/cluster-objects.js";
import { listToolNames } from "../helpers/http.js";
import { cleanupsAfterEach, operatorSuite, type Stack } from "../helpers/operator-suite.js";
import { within } from "../helpers/poll.js";
import { GROUP, VERSION } from "../../internal/api/group.js";
import { LATEST_PROTOCOL_VERSION, PER_REQUEST_PROTOCOL_VERSIONS } from "../../internal/mcp/protocol.js";
import { startModernUpstream } from "../era2026/modern-upstream.js";
import { petstoreDocument, startEverything, startPrism, type Peer } from "../kinds/peers.js";

const PETSTORE_TOOLS = 19;
const EVERYTHING_TOOLS_MIN = 5;

// YAML: several documents go to one `kubectl apply`.

/** An MCPServerRegistration of the route `<name>-route`, with any spec fields besides targetRef. */
function registration(namespace: string, name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: "MCPServerRegistration", metadata: { name, namespace }, spec: { targetRef: { name: `${name}-route` }, ...spec } });
}

function configMap(namespace: string, name: string, data: Record<string, string>): string {
  return stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data });
}

const transportOf = (object: CustomObject) => (object.status as { transport?: string } | undefined)?.transport;
const protocolsOf = (object: CustomObject) => (object.status as { protocolVersions?: string[] } | undefined)?.protocolVersions;
const serverProtocols = (object: CustomObject) => ((object.status?.servers ?? []) as Array<{ name: string; protocolVersions?: string[] }>).map((server) => [server.name, server.protocolVersions]);
const serverTransports = (object: CustomObject) => ((object.status?.servers ?? []) as Array<{ name: string; transport?: string }>).map((server) => [server.name, server.transport]);

describe("operator: server kinds (issue 12)", function () {
  this.timeout(120_000);
  const peers: Peer[] = [];
  let everything: Peer;
  let prism: Peer;
  const suite = operatorSuite({
    afterController: async () => {
      [everything, prism] = await Promise.all([startEverything("sse"), startPrism(petstoreDocument)]);
      peers.push(everything, prism);
    },
    afterStop: async () => {
      await Promise.all(peers.map((peer) => peer.stop()));
    },
  });
  const cleanups = cleanupsAfterEach();

  const ready = (s: Stack, name: string, predicate: (condition: Condition, object: CustomObject) => boolean = isReady) => waitForReady(suite.op, "mcpserverregistrations", s.namespace, name, predicate);

  it("status.transport and the wide Transport column say what the broker talks; auto shows what it detected", async () => {
    const s = await cleanups.stack(suite.op, "transport");
    const streamable = await cleanups.upstream("streamable");
    await Promise.all([s.addRoute("plain", streamable.port), s.addRoute("detect-http", streamable.port), s.addRoute("sse", everything.port), s.addRoute("detect-sse", everything.port)]);
    await apply(
      suite.op,
      registration(s.namespace, "plain", { toolPrefix: "plain_" }),
      registration(s.namespace, "detect-http", { toolPrefix: "dh_", transport: "auto" }),
      registration(s.namespace, "sse", { toolPrefix: "sse_", transport: "sse", path: "/sse" }),
      registration(s.namespace, "detect-sse", { toolPrefix: "ds_", transport: "auto", path: "/sse" }),
    );
    const expected = { plain: "streamable-http", "detect-http": "streamable-http", sse: "sse", "detect-sse": "sse" };
    for (const [name, transport] of Object.entries(expected)) {
      const object = await ready(s, name, (condition, candidate) => isReady(condition) && transportOf(candidate) !== undefined);
      expect([name, transportOf(object)]).to.deep.equal([name, transport]);
    }
    const rows = parseTable(await suite.op.kubectl(["get", "mcpsr", "-n", s.namespace, "-o", "wide"]));
    expect(Object.fromEntries(rows.map((row) => [row.NAME, row.TRANSPORT]))).to.deep.equal(expected);
    // The narrow table stays as it was.
    expect(parseTable(await suite.op.kubectl(["get", "mcpsr", "-n", s.namespace]))[0]).to.not.have.property("TRANSPORT");

    // /status keeps the registry's transport and adds what auto detected.
    const status = (await s.broker.status()).servers as unknown as Array<{ name: string; transport: string; detectedTransport?: string }>;
    const row = (name: string) => status.find((server) => server.name === `${s.namespace}/${name}`);
    expect(row("detect-sse")).to.deep.include({ transport: "auto", detectedTransport: "sse" });
    expect(row("detect-http")).to.deep.include({ transport: "auto", detectedTransport: "streamable-http" });
    expect(row("sse")).to.deep.include({ transport: "sse" }).and.not.have.property("detectedTransport");
    const names = await listToolNames(s.broker.mcpUrl);
    expect(names.filter((name) => name.startsWith("ds_")).length).to.be.greaterThanOrEqual(EVERYTHING_TOOLS_MIN);

    // A registration that is not served has no transport to show.
    await apply(suite.op, registration(s.namespace, "nowhere", { toolPrefix: "nowhere_", transport: "auto" }));
    const nowhere = await ready(s, "nowhere", notReadyWith("HTTPRoute"));
    expect(transportOf(nowhere)).to.equal(undefined);
  });

  it("a routeSelector registration shows each selected server's transport in status.servers", async () => {
    const s = await cleanups.stack(suite.op, "transport-sel");
    const route = await s.addRoute("legacy", everything.port);
    await suite.op.kubectl(["label", "httproute", route, "-n", s.namespace, "kind=legacy"]);
    await apply(
      suite.op,
      stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: "MCPServerRegistration", metadata: { name: "legacy", namespace: s.namespace }, spec: { routeSelector: { matchLabels: { kind: "legacy" } }, transport: "auto", path: "/sse" } }),
    );
    const object = await ready(s, "legacy", (condition, candidate) => isReady(condition) && serverTransports(candidate)[0]?.[1] !== undefined);
    expect(serverTransports(object)).to.deep.equal([[route, "sse"]]);
    expect(transportOf(object)).to.equal(undefined);
  });

  it("status.protocolVersions and the wide Protocol column say which MCP era the broker speaks with each server", async () => {
    const s = await cleanups.stack(suite.op, "protocol");
    const [modernVersion] = PER_REQUEST_PROTOCOL_VERSIONS;
    const modern = await startModernUpstream("modern");
    cleanups.add(() => modern.stop());
    const modernPort = Number(new URL(modern.url).port);
    const legacy = await cleanups.upstream("legacy");
    const routes = await Promise.all([s.addRoute("modern", modernPort), s.addRoute("legacy", legacy.port), s.addRoute("picked", modernPort)]);
    await suite.op.kubectl(["label", "httproute", routes[2], "-n", s.namespace, "era=2026"]);
    await apply(
      suite.op,
      registration(s.namespace, "modern", { toolPrefix: "modern_" }),
      registration(s.namespace, "legacy", { toolPrefix: "legacy_" }),
      stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: "MCPServerRegistration", metadata: { name: "picked", namespace: s.namespace }, spec: { routeSelector: { matchLabels: { era: "2026" } }, toolPrefix: "picked_" } }),
    );
    const expected = { modern: [modernVersion], legacy: [LATEST_PROTOCOL_VERSION] };
    for (const [name, versions] of Object.entries(expected)) {
      const object = await ready(s, name, (condition, candidate) => isReady(condition) && protocolsOf(candidate) !== undefined);
      expect([name, protocolsOf(object)]).to.deep.equal([name, versions]);
    }
    const picked = await ready(s, "picked", (condition, candidate) => isReady(condition) && serverProtocols(candidate)[0]?.[1] !== undefined);
    expect(serverProtocols(picked)).to.deep.equal([[routes[2], [modernVersion]]]);
    expect(protocolsOf(picked)).to.equal(undefined);

    const rows = parseTable(await suite.op.kubectl(["get", "mcpsr", "-n", s.namespace, "-o", "wide"]));
    expect(Object.fromEntries(rows.map((row) => [row.NAME, row.PROTOCOL]))).to.deep.equal({ modern: `["${modernVersion}"]`, legacy: `["${LATEST_PROTOCOL_VERSION}"]`, picked: "" });
    expect(parseTable(await suite.op.kubectl(["get", "mcpsr", "-n", s.namespace]))[0]).to.not.have.property("PROTOCOL");

    // The broker's status document carries it; /status has both of its sources.
    const status = (await s.broker.status()).servers as unknown as Array<{ name: string; protocolVersion?: string; perRequestVersion?: string }>;
    expect(status.find((server) => server.name === `${s.namespace}/modern`)).to.deep.include({ protocolVersion: modernVersion, perRequestVersion: modernVersion });

    // A server the broker cannot reach has none to show.
    await apply(suite.op, registration(s.namespace, "nowhere", { toolPrefix: "nowhere_" }));
    expect(protocolsOf(await ready(s, "nowhere", notReadyWith("HTTPRoute")))).to.equal(undefined);
  });

  it("an OpenAPI document from a ConfigMap: the Petstore's operations as tools, callable, and an edit of the ConfigMap re-renders them", async () => {
    const s = await cleanups.stack(suite.op, "openapi-cm");
    const document = readFileSync(petstoreDocument, "utf8");
    await s.addRoute("petstore", prism.port);
    await suite.op.kubectl(["create", "secret", "generic", "petstore-token", "-n", s.namespace, "--from-literal=token=Bearer petstore-token"]);
    // The registration comes before its ConfigMap: it waits, and the ConfigMap's arrival is enough.
    await apply(suite.op, registration(s.namespace, "petstore", { toolPrefix: "pet_", transport: "openapi", path: "/", credentialRef: { name: "petstore-token" }, openapi: { configMapRef: { name: "petstore-api", key: "openapi.json" } } }));
    const waiting = await ready(s, "petstore", notReadyWith("OpenAPI ConfigMap"));
    expect(readyCondition(waiting)?.message).to.equal(`OpenAPI ConfigMap ${s.namespace}/petstore-api not found`);
    await apply(suite.op, configMap(s.namespace, "petstore-api", { "openapi.json": document }));
    const served = await ready(s, "petstore");
    expect(served.status).to.deep.include({ discoveredTools: PETSTORE_TOOLS, transport: "openapi" });
    // The registry carries the document itself, not a reference the broker would have to read.
    const registry = await registryText(suite.op, s.namespace);
    expect(registry).to.include("transport: openapi").and.include("title: Swagger Petstore - OpenAPI 3.0").and.not.include("configMapRef");

    const c = await connectClient(s.broker.mcpUrl);
    cleanups.add(() => c.close());
    const pet = (await c.client.callTool({ name: "pet_getPetById", arguments: { petId: 7 } })) as { isError?: boolean; structuredContent?: Record<string, unknown> };
    expect(pet.isError).to.not.equal(true);
    expect(pet.structuredContent).to.deep.include({ name: "doggie" });

    // An edit (the store and user operations dropped, as YAML this time) reaches connected clients.
    const parsed = JSON.parse(document) as { paths: Record<string, unknown> };
    const petsOnly = { ...parsed, paths: Object.fromEntries(Object.entries(parsed.paths).filter(([path]) => path.startsWith("/pet"))) };
    const notified = c.count("notifications/tools/list_changed");
    await apply(suite.op, configMap(s.namespace, "petstore-api", { "openapi.json": JSON.stringify(petsOnly, null, 2).replace(/^/, "# pets only\n") }));
    await within("list_changed after the ConfigMap edit", 15_000, () => c.count("notifications/tools/list_changed") > notified);
    const names = (await c.client.listTools()).tools.map((tool) => tool.name);
    expect(names).to.include("pet_getPetById").and.not.include("pet_getInventory").and.not.include("pet_createUser");
    const edited = await ready(s, "petstore", (condition, candidate) => isReady(condition) && (candidate.status?.discoveredTools ?? 0) < PETSTORE_TOOLS);
    expect(edited.status?.discoveredTools).to.equal(names.length);
  });

  it("says why a ConfigMap's document is not served: no such key, not JSON or YAML, not an object, not valid OpenAPI", async () => {
    const s = await cleanups.stack(suite.op, "openapi-bad");
    await s.addRoute("petstore", prism.port);
    const spec = (name: string, key: string) => ({ toolPrefix: `${name.replaceAll("-", "_")}_`, transport: "openapi", path: "/", openapi: { configMapRef: { name: "documents", key } } });
    await apply(
      suite.op,
      configMap(s.namespace, "documents", { broken: '{ "openapi": "3.0.0", "info": ', list: "- one\n- two\n", invalid: JSON.stringify({ openapi: "3.0.0", info: { title: "no version" }, paths: {} }) }),
      ...["missing", "broken", "list", "invalid"].map((name) => registration(s.namespace, name, spec(name, name === "missing" ? "absent" : name))),
    );
    // Routes named after each registration, all to the one Prism.
    await Promise.all(["missing", "broken", "list", "invalid"].map((name) => s.addRoute(name, prism.port)));
    const message = async (name: string, fragment: string | RegExp) => readyCondition(await ready(s, name, notReadyWith(fragment)))?.message;
    expect(await message("missing", "has no key")).to.equal(`OpenAPI ConfigMap ${s.namespace}/documents has no key absent`);
    expect(await message("broken", "is not JSON or YAML")).to.match(new RegExp(`^OpenAPI ConfigMap ${s.namespace}/documents key broken is not JSON or YAML: .+`));
    expect(await message("list", "object")).to.equal(`OpenAPI ConfigMap ${s.namespace}/documents key list is not a JSON or YAML object`);
    // Parsed, but the broker's validation refuses it: its message reaches the registration.
    expect(await message("invalid", "invalid OpenAPI document")).to.match(/^invalid OpenAPI document: .*#\/info must have required property 'version'/);
    // None of them is in the registry as a server without its document.
    const registry = await registryText(suite.op, s.namespace);
    expect(registry).to.not.include(`${s.namespace}/missing`).and.not.include(`${s.namespace}/broken`).and.not.include(`${s.namespace}/list`);
  });

  it("the API server refuses openapi with both or neither of documentPath and configMapRef", async () => {
    const ns = await suite.namespace("openapi-cel");
    const openapi = (value: Record<string, unknown>) => registration(ns, "r", { transport: "openapi", openapi: value });
    for (const value of [{ documentPath: "/openapi.json", configMapRef: { name: "m", key: "k" } }, {}]) {
      const refused = await apply(suite.op, openapi(value)).catch((err: Error) => err);
      expect(String(refused)).to.include("exactly one of documentPath and configMapRef must be set");
    }
    const noKey = await apply(suite.op, openapi({ configMapRef: { name: "m" } })).catch((err: Error) => err);
    expect(String(noKey)).to.match(/configMapRef\.key: Required value/);
  });
});
