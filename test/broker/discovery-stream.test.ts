// Discovery hears an upstream's list changes on its own GET stream. That stream can drop (the
// upstream rotating connections, a proxy's idle timeout): discovery must list again at once (a
// change may have been missed) and listen again, so that later changes still arrive at once
// rather than at the next refresh interval.
import { expect } from "chai";
import { GATEWAY_INFO } from "../../internal/mcp/protocol.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { connectClient } from "../helpers/mcp-client.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";

describe("discovery: its GET stream to an upstream", function () {
  this.timeout(30_000);
  let alpha: UpstreamServer;
  let gateway: GatewayProcess;

  before(async () => {
    alpha = await startUpstreamServer({ name: "alpha" });
    // An hour between refreshes: whatever arrives within the test came through the stream (or its drop).
    gateway = await startGateway(registryYaml([{ name: "ns/alpha", url: alpha.url, prefix: "a_" }]), ["--refresh-interval-seconds", "3600"]);
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 1, 10_000, "alpha ready");
    await eventually(() => alpha.getStreams(GATEWAY_INFO.name) === 1, 5_000, "discovery listening");
  });

  after(async () => {
    await gateway?.stop();
    await alpha?.stop();
  });

  async function toolNames(): Promise<string[]> {
    const client = await connectClient(gateway.mcpUrl);
    try {
      return (await client.client.listTools()).tools.map((tool) => tool.name);
    } finally {
      await client.close();
    }
  }

  it("after the stream dropped, a change made meanwhile is listed and later changes still arrive at once", async () => {
    const opened = alpha.getStreamsOpened(GATEWAY_INFO.name);
    alpha.dropGetStreams();
    // While no discovery stream is open, nobody hears this list_changed: only the re-listing on the drop finds it.
    alpha.addTool("while_dropped");
    await eventually(async () => (await toolNames()).includes("a_while_dropped"), 10_000, "the change made while the stream was down");
    await eventually(() => alpha.getStreamsOpened(GATEWAY_INFO.name) > opened && alpha.getStreams(GATEWAY_INFO.name) === 1, 10_000, "discovery's stream opened again");
    alpha.addTool("after_reopen");
    await eventually(async () => (await toolNames()).includes("a_after_reopen"), 5_000, "a change after the stream was opened again");
  });

  it("keeps listening through repeated drops", async () => {
    for (const round of [1, 2]) {
      const opened = alpha.getStreamsOpened(GATEWAY_INFO.name);
      alpha.dropGetStreams();
      await eventually(() => alpha.getStreamsOpened(GATEWAY_INFO.name) > opened && alpha.getStreams(GATEWAY_INFO.name) === 1, 10_000, `stream opened again (drop ${round})`);
    }
    alpha.addTool("after_drops");
    await eventually(async () => (await toolNames()).includes("a_after_drops"), 5_000, "a change after two drops");
    expect(alpha.getStreams(GATEWAY_INFO.name), "one discovery stream, not one per drop").to.equal(1);
  });
});
