// Runs the official MCP conformance suite against the conformance fixture directly (the baseline)
// and through the gateway, which must not lose any behaviour the fixture has; then through the
// gateway in front of the suite's own reference server of the same version.
import { expect } from "chai";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CONFORMANCE_HOSTNAME, startConformanceServer, type ConformanceServer } from "./fixtures/conformance-server.js";
import { formatConformance, runConformance } from "./helpers/conformance.js";
import { startReferenceServer, type ReferenceServer } from "./helpers/conformance-requirements.js";
import { eventually, startGateway, type GatewayProcess } from "./helpers/gateway-process.js";
import { fetchStatus, registryYaml as registryOf } from "./helpers/registry.js";

// Active server scenarios of @modelcontextprotocol/conformance 0.1.16, all of which the fixture and
// the suite's reference server v0.1.16 pass when the suite runs against them directly. Update
// together with the suite's version.
const ACTIVE_SCENARIOS = 30;

const SUITE_TIMEOUT_MS = 120_000;
const GATEWAY_STOP_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function registryYaml(upstreamUrl: string): string {
  return `servers:
- name: conformance/everything
  url: ${upstreamUrl}
  hostname: ${CONFORMANCE_HOSTNAME}
  toolPrefix: ""
  enabled: true
`;
}

/** Runs the suite against `url`: every active scenario must pass. */
async function expectEveryScenarioPasses(url: string): Promise<void> {
  const result = await runConformance(url, { timeoutMs: SUITE_TIMEOUT_MS });
  const report = formatConformance(result);
  expect(result.failed, report).to.deep.equal([]);
  expect(result.total, report).to.equal(ACTIVE_SCENARIOS);
  expect(result.passed, report).to.equal(ACTIVE_SCENARIOS);
}

/** The gateway connects to upstreams in the background; the suite needs the tools listed first. */
async function waitForUpstreamTools(mcpUrl: string): Promise<void> {
  await eventually(
    async () => {
      const client = new Client({ name: "conformance-test-readiness", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
      try {
        const { tools } = await client.listTools();
        return tools.some((tool) => tool.name === "test_simple_text");
      } finally {
        await client.close();
      }
    },
    15_000,
    "the gateway to list the conformance server's tools",
  );
}

describe("MCP conformance suite", function () {
  this.timeout(SUITE_TIMEOUT_MS + 30_000);

  let upstream: ConformanceServer;

  before(async () => {
    upstream = await startConformanceServer();
  });

  after(async () => {
    await upstream?.stop();
  });

  it("passes every active scenario against the conformance server directly", async () => {
    await expectEveryScenarioPasses(upstream.url);
  });

  // The negative control: the harness must be able to fail, or the passes above prove nothing.
  it("reports every scenario as failed against an endpoint that is not MCP", async () => {
    const result = await runConformance(upstream.url.replace(/\/mcp$/, "/not-mcp"), { timeoutMs: SUITE_TIMEOUT_MS });
    expect(result.total).to.equal(ACTIVE_SCENARIOS);
    expect(result.passed, formatConformance(result)).to.equal(0);
    expect(result.failed).to.have.lengthOf(ACTIVE_SCENARIOS);
  });

  describe("through the gateway", () => {
    let gateway: GatewayProcess | undefined;

    before(async () => {
      gateway = await startGateway(registryYaml(upstream.url));
      await waitForUpstreamTools(gateway.mcpUrl);
    });

    after(async () => {
      const gw = gateway;
      if (!gw) return;
      const exited = await Promise.race([gw.stop().then(() => true), sleep(GATEWAY_STOP_TIMEOUT_MS).then(() => false)]);
      if (!exited) {
        gw.child.kill("SIGKILL");
        throw new Error(`the gateway did not exit within ${GATEWAY_STOP_TIMEOUT_MS} ms of SIGTERM`);
      }
    });

    it("passes every active scenario with an empty tool prefix", async () => {
      await expectEveryScenarioPasses(gateway!.mcpUrl);
    });
  });

  // The reference server sends its sampling and elicitation requests outside the tool call
  // (server.request() without a related request): they reach the gateway on the upstream session's
  // GET stream, which the gateway must hold open for a client that can answer them.
  describe("through the gateway in front of the suite's reference server v0.1.16", () => {
    let reference: ReferenceServer | undefined;
    let gateway: GatewayProcess | undefined;

    before(async () => {
      reference = await startReferenceServer("v0.1.16");
      gateway = await startGateway(registryOf([{ name: "conformance/reference", url: reference.url }]));
      const gw = gateway;
      await eventually(async () => (await fetchStatus(gw.baseUrl)).healthyServers === 1, 20_000, "the reference server ready");
    });

    after(async () => {
      await gateway?.stop();
      await reference?.stop();
    });

    it("passes every active scenario", async () => {
      await expectEveryScenarioPasses(gateway!.mcpUrl);
    });
  });
});
