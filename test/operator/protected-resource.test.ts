// spec.oauthProtectedResource of an MCPGatewayExtension reaches the broker's /.well-known/oauth-protected-resource
// through the registry Secret, and follows edits without a broker restart. Bad URLs are refused: by the API server
// where its pattern can tell, by the controller (extension Invalid) where only a URL parser can.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { exportJWK, generateKeyPair } from "jose";
import { apply, readyCondition, registryText, waitForReady } from "../helpers/cluster-objects.js";
import { gatewayYaml } from "../helpers/manifests.js";
import { startBroker } from "../helpers/operator-processes.js";
import { operatorSuite } from "../helpers/operator-suite.js";
import { sleep, within } from "../helpers/poll.js";
import { errorLines } from "../helpers/processes.js";
import { GROUP, VERSION } from "../../internal/api/group.js";

function extensionWith(namespace: string, name: string, gateway: string, oauthProtectedResource: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "MCPGatewayExtension",
    metadata: { name, namespace },
    spec: { targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: gateway }, oauthProtectedResource },
  });
}

describe("operator: protected resource metadata from the MCPGatewayExtension", function () {
  this.timeout(90_000);
  const suite = operatorSuite();

  it("reaches /.well-known on the broker and follows edits of the extension", async () => {
    const ns = await suite.namespace("prm");
    await apply(suite.op, gatewayYaml(ns, "gw"), extensionWith(ns, "ext", "gw", { resource: "https://mcp.example.com/mcp", authorizationServers: ["https://login.example.com/realms/mcp"] }));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
    const { publicKey } = await generateKeyPair("ES256");
    const jwks = join(mkdtempSync(join(tmpdir(), "operator-prm-")), "jwks.json");
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] }));
    const broker = await startBroker(suite.op, ns, ["--auth-jwks-file", jwks, "--auth-issuer", "https://login.example.com/realms/mcp", "--auth-audience", "mcp", "--auth-scopes", "flags:scope"]);
    const metadata = async () => (await (await fetch(`${broker.baseUrl}/.well-known/oauth-protected-resource`)).json()) as Record<string, unknown>;

    const { value: first } = await within("the extension's resource on the broker", 10_000, async () => {
      const document = await metadata();
      return document.resource === "https://mcp.example.com/mcp" ? document : undefined;
    });
    expect(first).to.deep.equal({
      resource: "https://mcp.example.com/mcp",
      authorization_servers: ["https://login.example.com/realms/mcp"],
      bearer_methods_supported: ["header"],
      scopes_supported: ["flags:scope"],
    });

    await suite.op.kubectl(["patch", "mcpgatewayextension", "ext", "-n", ns, "--type=merge", "-p", JSON.stringify({ spec: { oauthProtectedResource: { scopesSupported: ["mcp:tools"] } } })]);
    await within("the new scopes on the broker", 10_000, async () => JSON.stringify((await metadata()).scopes_supported) === '["mcp:tools"]');
    expect(errorLines(broker)).to.deep.equal([]);
  });

  it("refuses bad URLs: the API server by pattern, the controller by parsing (extension Invalid)", async () => {
    const ns = await suite.namespace("prm-bad");
    await apply(suite.op, gatewayYaml(ns, "gw"));
    const refused = await apply(suite.op, extensionWith(ns, "ext", "gw", { resource: "ftp://mcp.example.com/mcp" })).catch((err: Error) => err.message);
    expect(refused).to.match(/spec\.oauthProtectedResource\.resource.*should match/);

    await apply(suite.op, extensionWith(ns, "ext", "gw", { resource: "https://mcp.example.com:99999/mcp" }));
    const invalid = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (ready) => ready.status === "False");
    expect(readyCondition(invalid)).to.include({ reason: "InvalidMCPGatewayExtension", message: "spec.oauthProtectedResource.resource: Invalid URL" });

    await suite.op.kubectl(["patch", "mcpgatewayextension", "ext", "-n", ns, "--type=merge", "-p", JSON.stringify({ spec: { oauthProtectedResource: { resource: "https://mcp.example.com:8443/mcp" } } })]);
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
    await within("the fixed resource in the registry", 10_000, async () => (await registryText(suite.op, ns)).includes("resource: https://mcp.example.com:8443/mcp"));
  });

  it("publishes https://{publicHost}/mcp as the resource unless spec.oauthProtectedResource.resource is set, and writes the ping interval into the registry", async () => {
    const ns = await suite.namespace("prm-host");
    const extension = JSON.parse(extensionWith(ns, "ext", "gw", { scopesSupported: ["mcp:tools"] })) as { spec: Record<string, unknown> };
    extension.spec.publicHost = "mcp.example.com";
    extension.spec.backendPingIntervalSeconds = 15;
    await apply(suite.op, gatewayYaml(ns, "gw"), JSON.stringify(extension));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
    const { value: registry } = await within("the public host's resource in the registry", 10_000, async () => {
      const text = await registryText(suite.op, ns);
      return text.includes("resource: https://mcp.example.com/mcp") ? text : undefined;
    });
    expect(registry).to.include("backendPingIntervalSeconds: 15").and.include("- mcp:tools");

    // An explicit resource wins over the public host.
    await suite.op.kubectl(["patch", "mcpgatewayextension", "ext", "-n", ns, "--type=merge", "-p", JSON.stringify({ spec: { oauthProtectedResource: { resource: "https://gw.example.com/tools/mcp" } } })]);
    await within("the explicit resource in the registry", 10_000, async () => (await registryText(suite.op, ns)).includes("resource: https://gw.example.com/tools/mcp"));
    expect(await registryText(suite.op, ns)).to.not.include("mcp.example.com/mcp");
  });

  it("with two extensions in one namespace, the older one's metadata is served", async () => {
    const ns = await suite.namespace("prm-two");
    await apply(suite.op, gatewayYaml(ns, "gw-a"), gatewayYaml(ns, "gw-b"), extensionWith(ns, "older", "gw-a", { resource: "https://older.example.com/mcp" }));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "older");
    // Creation times have a resolution of one second.
    await sleep(1_100);
    await apply(suite.op, extensionWith(ns, "newer", "gw-b", { resource: "https://newer.example.com/mcp" }));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "newer");
    await suite.controller.settled();
    expect(await registryText(suite.op, ns)).to.include("resource: https://older.example.com/mcp").and.not.include("newer.example.com");

    await suite.op.kubectl(["patch", "mcpgatewayextension", "older", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/spec/oauthProtectedResource"}]']);
    await within("the newer extension's metadata in the registry", 10_000, async () => (await registryText(suite.op, ns)).includes("resource: https://newer.example.com/mcp"));
  });
});
