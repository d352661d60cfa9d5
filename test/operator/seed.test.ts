// The MCP Server Registration guide (seeds/004), step by step as users type it, against the real controller and
// broker-router running as their ServiceAccounts with the RBAC of manifests/. The guide's documents are taken
// from the guide itself; the only change is where the backend lives: Service mcp-api-key-server is an
// ExternalName Service for localhost, and the route's backend port is the port of a fixture MCP server on
// loopback (9090 may be taken on a shared machine), so the broker really reaches a server.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { seedCurlScript, seedDocuments } from "../helpers/seed.js";
import { FIXED_TOOLS, startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { SESSION_ID_PATTERN } from "../helpers/http.js";
import { apply, cleanupNamespaces, createNamespace, getObject, kubectlWaitReady, markRouteAccepted, parseTable, readyCondition, registryText, waitForReady } from "../helpers/cluster-objects.js";
import { externalNameServiceYaml, gatewayYaml } from "../helpers/manifests.js";
import { type OperatorEnv } from "../helpers/operator-env.js";
import { type BrokerProcess, startBroker } from "../helpers/operator-processes.js";
import { operatorSuite } from "../helpers/operator-suite.js";
import { within } from "../helpers/poll.js";
import { recordTiming } from "../helpers/timing.js";
import { FINALIZER } from "../../internal/controller/reconcilers/registration.js";

const FIXTURE_TOOLS = FIXED_TOOLS.length;

function run(command: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(command, args, { timeout: 30_000 }, (err, stdout, stderr) => done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
    child.stdin?.end(input ?? "");
  });
}

/**
 * A clean slate for the guide: when other suites ran in this process (test/api applies the guide's documents,
 * config/samples and manifests/examples), their objects would already be there, and their extensions would claim
 * gateway-system/mcp-gateway first. Removes the guide's objects and every extension targeting that Gateway.
 */
async function clearLeftovers(op: OperatorEnv): Promise<void> {
  const unfinalize = (kind: string, name: string, namespace: string) =>
    op.kubectl(["patch", kind, name, "-n", namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}']).catch(() => undefined);
  const extensions = JSON.parse(await op.kubectl(["get", "mcpgatewayextensions", "-A", "-o", "json"])) as {
    items: Array<{ metadata: { name: string; namespace: string }; spec: { targetRef: { name: string; namespace?: string } } }>;
  };
  for (const extension of extensions.items) {
    const target = extension.spec.targetRef;
    if (target.name === "mcp-gateway" && (target.namespace ?? extension.metadata.namespace) === "gateway-system") {
      await op.kubectl(["delete", "mcpgatewayextension", extension.metadata.name, "-n", extension.metadata.namespace, "--wait=false"]);
      await unfinalize("mcpgatewayextension", extension.metadata.name, extension.metadata.namespace);
    }
  }
  for (const [kind, name, namespace] of [
    ["mcpserverregistration", "my-mcp-server", "mcp-test"],
    ["referencegrant", "allow-mcp-extension", "gateway-system"],
    ["httproute", "mcp-api-key-server-route", "mcp-test"],
  ] as const) {
    await op.kubectl(["delete", kind, name, "-n", namespace, "--ignore-not-found", "--wait=false"]);
    await unfinalize(kind, name, namespace);
  }
  await op.kubectl(["delete", "mcpvirtualservers", "--all", "-n", "mcp-test", "--wait=false"]);
}

describe("operator: the MCP Server Registration guide, as users type it", function () {
  this.timeout(90_000);
  let upstream: UpstreamServer;
  let broker: BrokerProcess;
  const documents = seedDocuments();
  const curlScript = seedCurlScript();
  const [extensionDoc = "", grantDoc = "", routeDoc = "", registrationDoc = ""] = documents;
  const suite = operatorSuite({
    beforeController: async (op) => {
      expect(documents, "the guide's four documents").to.have.length(4);
      expect(extensionDoc).to.include("kind: MCPGatewayExtension");
      expect(registrationDoc).to.include("kind: MCPServerRegistration");
      upstream = await startUpstreamServer({ name: "mcp-api-key-server" });
      await createNamespace(op, "mcp-test");
      await createNamespace(op, "gateway-system");
      await clearLeftovers(op);
    },
    afterController: async (op) => {
      // "create an MCPGatewayExtension in the same namespace as your MCP Gateway broker/router deployment"
      broker = await startBroker(op, "mcp-test");
    },
    beforeStop: async (op) => {
      await cleanupNamespaces(op, ["mcp-test"]).catch(() => undefined);
    },
    afterStop: async () => {
      await upstream?.stop();
    },
  });

  it("registers a server: extension Ready, mcpsr Ready with its tools, and the curl flow lists myserver_ tools", async () => {
    // Prerequisite "You configured a gateway": a Gateway whose listener admits routes from every namespace.
    await apply(suite.op, gatewayYaml("gateway-system", "mcp-gateway", [{ name: "mcp", from: "All" }]));

    // Step 1: the extension. Its Gateway is in another namespace, so it waits for the ReferenceGrant.
    await suite.op.kubectl(["apply", "-f", "-"], extensionDoc);
    const pending = await waitForReady(suite.op, "mcpgatewayextensions", "mcp-test", "mcp-extension", (ready) => ready.reason === "ReferenceGrantRequired", 15_000);
    expect(readyCondition(pending)?.status).to.equal("False");
    await suite.op.kubectl(["apply", "-f", "-"], grantDoc);
    await kubectlWaitReady(suite.op, "mcpgatewayextension/mcp-extension", "mcp-test", 60);
    const extension = await getObject(suite.op, "mcpgatewayextensions", "mcp-test", "mcp-extension");
    expect(readyCondition(extension)).to.include({ status: "True", reason: "ValidMCPGatewayExtension" });

    // The route, with the backend port of the fixture; the Service behind it; what the Gateway controller would report.
    expect(routeDoc).to.include("port: 9090 ");
    await suite.op.kubectl(["apply", "-f", "-"], routeDoc.replace(/port: 9090 /, `port: ${upstream.port} `));
    await apply(suite.op, externalNameServiceYaml("mcp-test", "mcp-api-key-server", upstream.port));
    await markRouteAccepted(suite.op, "mcp-test", "mcp-api-key-server-route", { namespace: "gateway-system", name: "mcp-gateway" });

    // Step 2: the registration, and how long until `kubectl wait` says Ready.
    const started = performance.now();
    await suite.op.kubectl(["apply", "-f", "-"], registrationDoc);
    await kubectlWaitReady(suite.op, "mcpsr/my-mcp-server", "mcp-test", 60);
    const elapsed = performance.now() - started;
    recordTiming("seed: kubectl apply of the registration -> kubectl wait Ready", elapsed);
    expect(elapsed, "apply -> Ready").to.be.below(10_000);

    // Step 3: kubectl get mcpsr -A.
    const table = await suite.op.kubectl(["get", "mcpsr", "-A"]);
    expect(table.split("\n")[0]?.split(/\s+/).filter(Boolean)).to.deep.equal(["NAMESPACE", "NAME", "PREFIX", "TARGET", "PATH", "READY", "TOOLS", "CREDENTIALS", "AGE"]);
    const row = parseTable(table).find((r) => r.NAMESPACE === "mcp-test" && r.NAME === "my-mcp-server");
    expect(row, table).to.include({ PREFIX: "myserver_", TARGET: "mcp-api-key-server-route", PATH: "/mcp", READY: "True", TOOLS: String(FIXTURE_TOOLS), CREDENTIALS: "" });
    const registration = await getObject(suite.op, "mcpserverregistrations", "mcp-test", "my-mcp-server");
    expect(readyCondition(registration)).to.include({ status: "True", reason: "Ready", message: `server added successfully. Total tools added ${FIXTURE_TOOLS}` });
    expect(registration?.status?.discoveredTools).to.equal(FIXTURE_TOOLS);
    expect(registration?.metadata.finalizers).to.include(FINALIZER);
    // The registry the controller handed to the broker, in the extension's namespace.
    const registry = await registryText(suite.op, "mcp-test");
    expect(registry).to.include("name: mcp-test/my-mcp-server");
    expect(registry).to.include(`url: http://localhost:${upstream.port}/mcp`);
    expect(registry).to.include("hostname: api-key-server.mcp.local");
    expect(registry).to.include("toolPrefix: myserver_");
    // "Check controller logs": the controller's decisions are also Events on the registration (kubectl describe).
    const { value: described } = await within("a Ready event in kubectl describe", 10_000, async () => {
      const text = await suite.op.kubectl(["describe", "mcpsr", "my-mcp-server", "-n", "mcp-test"]);
      return /Normal\s+Ready\s+.*server added successfully/.test(text) ? text : undefined;
    });
    expect(described).to.include("mcp-gateway-controller");
    // "kubectl logs ... deployment/mcp-gateway-broker-router | grep "Discovered tools"", for a process.
    await within("Discovered tools in the broker's log", 5_000, () => broker.output().includes("Discovered tools"));

    // Step 4: the guide's curl script, with the broker's address for the gateway's and a private headers file.
    expect(curlScript, "curl script of the guide").to.be.a("string");
    const headersFile = join(mkdtempSync(join(tmpdir(), "seed-curl-")), "mcp_headers");
    const script = (curlScript ?? "").replaceAll("http://mcp.127-0-0-1.sslip.io:8001/mcp", broker.mcpUrl).replaceAll("/tmp/mcp_headers", headersFile);
    const result = await run("bash", ["-c", script]);
    expect(result.code, result.stderr).to.equal(0);
    // The first curl prints the initialize answer without a newline, so the echo follows on the same line.
    const session = /MCP Session ID: (\S*)\n/.exec(result.stdout);
    expect(session?.[1], result.stdout).to.match(SESSION_ID_PATTERN);
    const initialize = JSON.parse(result.stdout.slice(0, session?.index)) as { id: number; result: { serverInfo: { name: string } } };
    expect(initialize.id).to.equal(1);
    const listLine = result.stdout.slice((session?.index ?? 0) + (session?.[0].length ?? 0)).trim();
    const listed = JSON.parse(listLine) as { id: number; result: { tools: Array<{ name: string }> } };
    expect(listed.id).to.equal(2);
    const names = listed.result.tools.map((tool) => tool.name);
    expect(names).to.have.length(FIXTURE_TOOLS);
    expect(names.every((name) => name.startsWith("myserver_")), names.join(",")).to.equal(true);
    expect(names).to.include.members(["myserver_echo", "myserver_add"]);
    expect(existsSync(headersFile), "the script removes its headers file").to.equal(false);
    expect(suite.controller.child.exitCode).to.equal(null);
  });
});
