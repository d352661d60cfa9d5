// The rules that turn resources into extension verdicts and registry entries, checked on plain
// objects: every message a user can see in `kubectl get mcpsr` has a case here.
import { expect } from "chai";
import { validateExtension } from "../../internal/controller/extension-validation.js";
import { registrationReadiness, virtualServerReadiness } from "../../internal/controller/registration-readiness.js";
import { resolveRegistration } from "../../internal/controller/registration-resolution.js";
import type { MCPGatewayExtension, MCPServerRegistration } from "../../internal/controller/resources.js";
import { seedWorld, viewOf, type World } from "../helpers/cluster-world.js";
import { GATEWAY_API_GROUP, GROUP } from "../../internal/api/group.js";

function registration(spec: Partial<MCPServerRegistration["spec"]> = {}): MCPServerRegistration {
  return {
    metadata: { name: "my-mcp-server", namespace: "mcp-test", generation: 1 },
    spec: { targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "mcp-api-key-server-route", namespace: "mcp-test" }, toolPrefix: "myserver_", path: "/mcp", ...spec },
  };
}

describe("controller rules", () => {
  describe("extension validation", () => {
    it("accepts the seed's extension with its ReferenceGrant", () => {
      const world = seedWorld();
      expect(validateExtension(world.extensions[0]!, viewOf(world))).to.deep.include({ ready: true, reason: "ValidMCPGatewayExtension" });
    });

    it("requires a ReferenceGrant across namespaces", () => {
      const world = { ...seedWorld(), grants: [] };
      const verdict = validateExtension(world.extensions[0]!, viewOf(world));
      expect(verdict).to.deep.include({ ready: false, reason: "ReferenceGrantRequired" });
    });

    it("reports a missing Gateway or listener", () => {
      const world = { ...seedWorld(), gateways: [] };
      expect(validateExtension(world.extensions[0]!, viewOf(world))).to.deep.include({ ready: false, reason: "InvalidMCPGatewayExtension", message: "Gateway gateway-system/mcp-gateway not found" });
      const listener = seedWorld();
      listener.extensions[0]!.spec.targetRef.sectionName = "nope";
      expect(validateExtension(listener.extensions[0]!, viewOf(listener)).message).to.equal("listener nope not found on Gateway gateway-system/mcp-gateway");
    });

    it("refuses a listener that does not admit the extension's namespace", () => {
      const world = seedWorld();
      world.gateways[0]!.spec.listeners![0]!.allowedRoutes = { namespaces: { from: "Same" } };
      expect(validateExtension(world.extensions[0]!, viewOf(world)).message).to.match(/does not allow routes from namespace mcp-test/);
    });

    it("lets only the oldest extension claim a Gateway", () => {
      const world = seedWorld();
      const second: MCPGatewayExtension = { ...world.extensions[0]!, metadata: { name: "second", namespace: "mcp-test", uid: "e2", creationTimestamp: "2026-02-01T00:00:00Z" } };
      world.extensions.push(second);
      expect(validateExtension(world.extensions[0]!, viewOf(world)).ready).to.equal(true);
      const verdict = validateExtension(second, viewOf(world));
      expect(verdict).to.deep.include({ ready: false, reason: "InvalidMCPGatewayExtension" });
      expect(verdict.message).to.match(/conflict: .*mcp-test\/mcp-extension/);
    });
  });

  describe("registration resolution", () => {
    it("resolves the seed's registration to a Service URL and the extension's namespace", () => {
      const world = seedWorld();
      const resolution = resolveRegistration(registration(), viewOf(world), world.extensions);
      expect(resolution).to.deep.equal({
        ok: true,
        server: {
          name: "mcp-test/my-mcp-server",
          url: "http://mcp-api-key-server.mcp-test.svc.cluster.local:9090/mcp",
          hostname: "api-key-server.mcp.local",
          toolPrefix: "myserver_",
          forwardClientAuthorization: false,
          enabled: true,
        },
        namespaces: ["mcp-test"],
      });
    });

    it("uses an ExternalName Service's name and https when the port says so", () => {
      const world = seedWorld();
      world.services[0]!.spec = { type: "ExternalName", externalName: "localhost", ports: [{ port: 9090, appProtocol: "https" }] };
      const resolution = resolveRegistration(registration({ path: "/v1/mcp" }), viewOf(world), world.extensions);
      expect(resolution.ok && resolution.server.url).to.equal("https://localhost:9090/v1/mcp");
    });

    it("passes the transport and the OpenAPI document path into the registry entry, and refuses openapi without a document", () => {
      const world = seedWorld();
      const sse = resolveRegistration(registration({ path: "/sse", transport: "sse" }), viewOf(world), world.extensions);
      expect(sse.ok && sse.server).to.deep.include({ transport: "sse", url: "http://mcp-api-key-server.mcp-test.svc.cluster.local:9090/sse" });
      const openapi = resolveRegistration(registration({ path: "/api/v3", transport: "openapi", openapi: { documentPath: "/openapi.json" } }), viewOf(world), world.extensions);
      expect(openapi.ok && openapi.server).to.deep.include({ transport: "openapi", openapi: { documentPath: "/openapi.json" } });
      const missing = resolveRegistration(registration({ transport: "openapi" }), viewOf(world), world.extensions);
      expect(missing).to.deep.include({ ok: false, reason: "NotReady" });
      expect(!missing.ok && missing.message).to.match(/openapi is set exactly when transport is openapi/);
    });

    it("reads the credential from the Secret, with its default key", () => {
      const world = seedWorld();
      world.secrets.push({ metadata: { name: "creds", namespace: "mcp-test" }, data: { token: Buffer.from("Bearer xyz\n").toString("base64") } });
      const resolution = resolveRegistration(registration({ credentialRef: { name: "creds", key: "token" } }), viewOf(world), world.extensions);
      expect(resolution.ok && resolution.server.credential).to.equal("Bearer xyz");
      expect(resolveRegistration(registration({ credentialRef: { name: "missing", key: "token" } }), viewOf(world), world.extensions)).to.deep.include({ message: "credential secret mcp-test/missing not found" });
      expect(resolveRegistration(registration({ credentialRef: { name: "creds", key: "other" } }), viewOf(world), world.extensions)).to.deep.include({ message: "credential secret mcp-test/creds has no key other" });
    });

    const failures: Array<[string, (world: World) => void, string]> = [
      ["missing route", (w) => (w.routes = []), "HTTPRoute mcp-test/mcp-api-key-server-route not found"],
      ["no hostname", (w) => (w.routes[0]!.spec.hostnames = []), "HTTPRoute mcp-test/mcp-api-key-server-route has no hostname"],
      ["two rules", (w) => w.routes[0]!.spec.rules!.push({ backendRefs: [] }), "HTTPRoute mcp-test/mcp-api-key-server-route must have exactly one rule, has 2"],
      ["no backendRefs", (w) => (w.routes[0]!.spec.rules = [{ backendRefs: [] }]), "HTTPRoute mcp-test/mcp-api-key-server-route has no backendRefs"],
      ["two backendRefs", (w) => w.routes[0]!.spec.rules![0]!.backendRefs!.push({ name: "other", port: 1 }), "HTTPRoute mcp-test/mcp-api-key-server-route must have exactly one backendRef, has 2"],
      ["not accepted", (w) => (w.routes[0]!.status = { parents: [] }), "no valid gateways for httproute"],
      ["no extension", (w) => (w.extensions = []), "no valid mcpgatewayextensions configured"],
      ["missing Service", (w) => (w.services = []), "backend Service mcp-test/mcp-api-key-server not found"],
    ];
    for (const [what, change, message] of failures) {
      it(`says why it is not ready: ${what}`, () => {
        const world = seedWorld();
        change(world);
        expect(resolveRegistration(registration(), viewOf(world), world.extensions)).to.deep.equal({ ok: false, reason: "NotReady", message });
      });
    }

    it("needs a ReferenceGrant for a route in another namespace", () => {
      const world = seedWorld();
      world.routes[0]!.metadata.namespace = "routes";
      world.routes[0]!.spec.rules![0]!.backendRefs![0]!.namespace = "mcp-test";
      const reg = registration({ targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "mcp-api-key-server-route", namespace: "routes" } });
      expect(resolveRegistration(reg, viewOf(world), world.extensions)).to.deep.include({ ok: false, reason: "ReferenceGrantRequired" });
      world.grants.push({ metadata: { name: "g", namespace: "routes" }, spec: { from: [{ group: GROUP, kind: "MCPServerRegistration", namespace: "mcp-test" }], to: [{ group: GATEWAY_API_GROUP, kind: "HTTPRoute" }] } });
      world.grants.push({ metadata: { name: "svc", namespace: "mcp-test" }, spec: { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "routes" }], to: [{ group: "", kind: "Service" }] } });
      expect(resolveRegistration(reg, viewOf(world), world.extensions).ok).to.equal(true);
    });
  });

  describe("readiness from the broker", () => {
    it("is Ready only with the broker's word, and carries its message and tool count", () => {
      const world = seedWorld();
      const resolution = resolveRegistration(registration(), viewOf(world), world.extensions);
      expect(registrationReadiness(resolution, viewOf(world))).to.deep.include({ ready: false, message: "waiting for the broker to connect to the server" });
      world.status["mcp-test"] = { servers: [{ name: "mcp-test/my-mcp-server", ready: false, message: "connection refused", totalTools: 0, tools: [] }] };
      expect(registrationReadiness(resolution, viewOf(world))).to.deep.include({ ready: false, reason: "NotReady", message: "connection refused" });
      const long = `myserver_${"x".repeat(60)}`;
      world.status["mcp-test"] = { servers: [{ name: "mcp-test/my-mcp-server", ready: true, message: "server added successfully. Total tools added 2", totalTools: 2, tools: ["myserver_echo", long] }] };
      expect(registrationReadiness(resolution, viewOf(world))).to.deep.equal({ ready: true, reason: "Ready", message: "server added successfully. Total tools added 2", discoveredTools: 2, longNames: [long] });
    });

    it("checks virtual servers against the served tools", () => {
      const world = seedWorld();
      world.status["mcp-test"] = { servers: [{ name: "mcp-test/my-mcp-server", ready: true, message: "", totalTools: 1, tools: ["myserver_echo"] }] };
      expect(virtualServerReadiness(["myserver_echo"], viewOf(world), ["mcp-test"]).ready).to.equal(true);
      expect(virtualServerReadiness(["myserver_echo", "nope"], viewOf(world), ["mcp-test"])).to.deep.equal({ ready: false, reason: "UnknownTools", message: "unknown tools: nope" });
    });
  });
});
