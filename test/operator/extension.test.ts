// REFERENCE.md 5.12: which MCPGatewayExtensions are usable, as the controller reports it on their status, and
// what that means for the registrations behind their Gateways. No broker is needed for any of this.
import { expect } from "chai";
import { apply, getObject, markRouteAccepted, notReadyWith, parseTable, readyCondition, waitForReady } from "../helpers/cluster-objects.js";
import { extensionGrantYaml, extensionYaml, externalNameServiceYaml, gatewayYaml, registrationYaml, routeYaml } from "../helpers/manifests.js";
import { operatorSuite } from "../helpers/operator-suite.js";
import { sleep } from "../helpers/poll.js";
import { errorLines } from "../helpers/processes.js";
import { recordTiming } from "../helpers/timing.js";

const INVALID = "InvalidMCPGatewayExtension";

describe("operator: MCPGatewayExtension validation (REFERENCE 5.12)", function () {
  this.timeout(60_000);
  const suite = operatorSuite();

  const extension = (ns: string, name: string) => getObject(suite.op, "mcpgatewayextensions", ns, name);

  it("missing Gateway: Invalid, its registrations wait for a valid extension; creating the Gateway makes it Ready", async () => {
    const ns = await suite.namespace("ext-missing");
    const gateway = { namespace: ns, name: "absent" };
    await apply(suite.op, extensionYaml(ns, "ext", gateway));
    const invalid = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (ready) => ready.reason === INVALID);
    expect(readyCondition(invalid)).to.include({ status: "False", message: `Gateway ${ns}/absent not found` });
    expect(parseTable(await suite.op.kubectl(["get", "mcpgatewayextension", "-n", ns]))[0]).to.include({ NAME: "ext", READY: "False" });

    // A registration behind that Gateway (route accepted by it) cannot be served by anyone.
    await apply(suite.op, externalNameServiceYaml(ns, "svc", 1), routeYaml(ns, "route", gateway, "x.mcp.local", "svc", 1), registrationYaml(ns, "reg", "route", { toolPrefix: "x_" }));
    await markRouteAccepted(suite.op, ns, "route", gateway);
    await waitForReady(suite.op, "mcpserverregistrations", ns, "reg", notReadyWith("no valid mcpgatewayextensions configured"));

    await apply(suite.op, gatewayYaml(ns, "absent"));
    const valid = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
    expect(readyCondition(valid)).to.include({ reason: "ValidMCPGatewayExtension" });
    // Now resolved, it waits for a broker (none runs for this namespace).
    await waitForReady(suite.op, "mcpserverregistrations", ns, "reg", notReadyWith("waiting for the broker to connect to the server"));
  });

  it("missing listener (sectionName): Invalid until the Gateway has it", async () => {
    const ns = await suite.namespace("ext-listener");
    await apply(suite.op, gatewayYaml(ns, "gw", [{ name: "mcp" }]), extensionYaml(ns, "ext", { namespace: ns, name: "gw", sectionName: "mcp-servers" }));
    const invalid = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (ready) => ready.reason === INVALID);
    expect(readyCondition(invalid)?.message).to.equal(`listener mcp-servers not found on Gateway ${ns}/gw`);
    await apply(suite.op, gatewayYaml(ns, "gw", [{ name: "mcp" }, { name: "mcp-servers", from: "Same" }]));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
  });

  it("a listener that does not admit the extension's namespace: Invalid", async () => {
    const gatewayNs = await suite.namespace("ext-same-gw");
    const ns = await suite.namespace("ext-same");
    await apply(suite.op, gatewayYaml(gatewayNs, "gw", [{ name: "mcp", from: "Same" }]), extensionGrantYaml(gatewayNs, "grant", ns), extensionYaml(ns, "ext", { namespace: gatewayNs, name: "gw" }));
    const invalid = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (ready) => ready.reason === INVALID);
    expect(readyCondition(invalid)?.message).to.include(`does not allow routes from namespace ${ns}`);
  });

  it("a second extension for the same Gateway: Invalid with a conflict; it takes over when the first goes", async () => {
    const ns = await suite.namespace("ext-conflict");
    await apply(suite.op, gatewayYaml(ns, "gw"));
    // Named so that a tie on the (one-second) creation time would favour the newer one: age must decide.
    await apply(suite.op, extensionYaml(ns, "ext-b-first", { namespace: ns, name: "gw" }));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext-b-first");
    const firstCreated = new Date((await suite.op.kubectl(["get", "mcpgatewayextension", "ext-b-first", "-n", ns, "-o", "jsonpath={.metadata.creationTimestamp}"])).trim()).getTime();
    await sleep(Math.max(0, firstCreated + 1_050 - Date.now()));
    await apply(suite.op, extensionYaml(ns, "ext-a-second", { namespace: ns, name: "gw" }));
    const second = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext-a-second", (ready) => ready.reason === INVALID);
    expect(readyCondition(second)?.message).to.include("conflict");
    expect(readyCondition(second)?.message).to.include(`${ns}/ext-b-first`);
    expect(readyCondition(await extension(ns, "ext-b-first"))?.status).to.equal("True");

    await suite.op.kubectl(["delete", "mcpgatewayextension", "ext-b-first", "-n", ns, "--wait=true", "--timeout=15s"]);
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext-a-second", (ready) => ready.status === "True", 10_000);
  });

  it("cross-namespace: ReferenceGrantRequired until a ReferenceGrant exists, then Ready within seconds", async () => {
    const gatewayNs = await suite.namespace("ext-xns-gw");
    const ns = await suite.namespace("ext-xns");
    await apply(suite.op, gatewayYaml(gatewayNs, "gw"), extensionYaml(ns, "ext", { namespace: gatewayNs, name: "gw" }));
    const waiting = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (ready) => ready.reason === "ReferenceGrantRequired");
    expect(readyCondition(waiting)?.status).to.equal("False");
    expect(readyCondition(waiting)?.message).to.include(`ReferenceGrant in namespace ${gatewayNs}`);
    // It stays so: nothing else may make it valid.
    await sleep(500);
    expect(readyCondition(await extension(ns, "ext"))?.reason).to.equal("ReferenceGrantRequired");

    const started = performance.now();
    await apply(suite.op, extensionGrantYaml(gatewayNs, "allow-mcp-extension", ns));
    const ready = await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (condition) => condition.status === "True", 5_000);
    recordTiming("(12) ReferenceGrant created -> extension Ready", performance.now() - started);
    expect(readyCondition(ready)?.reason).to.equal("ValidMCPGatewayExtension");
    // Withdrawing the grant withdraws the permission.
    await suite.op.kubectl(["delete", "referencegrant", "allow-mcp-extension", "-n", gatewayNs]);
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (condition) => condition.reason === "ReferenceGrantRequired", 5_000);
  });

  it("kept the controller running without errors in its log", () => {
    expect(suite.controller.child.exitCode).to.equal(null);
    expect(errorLines(suite.controller)).to.deep.equal([]);
  });
});
