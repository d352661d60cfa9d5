// MCP 2026-07-28 needs no session store: two broker replicas without Redis, sharing only the
// session key, serve a pinned SDK v2 client request by request through a round-robin proxy that
// alternates every POST between them, an MRTR retry included (its first leg on one replica, the
// retry on the other); and a listen stream the client cuts mid-way disturbs neither the replica
// nor its other clients.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { MODERN_VERSION, modernPost, openListen } from "../helpers/per-request.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";
import { roundRobin, type RoundRobin } from "../helpers/round-robin.js";
import { startModernUpstream, type ModernUpstream } from "./modern-upstream.js";

function keyFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), "session-key-")), "key");
  writeFileSync(path, randomBytes(32));
  return path;
}

/** A client pinned to 2026-07-28 that answers elicitation with the name Ada (so MRTR rounds complete inside callTool). */
async function pinnedClient(url: string): Promise<Client> {
  const client = new Client({ name: "pinned-replicas", version: "1.0.0" }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN_VERSION } } });
  client.setRequestHandler("elicitation/create", () => ({ action: "accept", content: { name: "Ada" } }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

describe("MCP 2026-07-28 on two replicas without Redis, request by request", function () {
  this.timeout(60_000);
  let modern: ModernUpstream;
  let legacy: UpstreamServer;
  const replicas: GatewayProcess[] = [];
  let proxy: RoundRobin;

  before(async () => {
    modern = await startModernUpstream("modern");
    legacy = await startUpstreamServer({ name: "legacy" });
    const registry = registryYaml([
      { name: "test/modern", url: modern.url, prefix: "m_" },
      { name: "test/legacy", url: legacy.url, prefix: "l_" },
    ]);
    const key = keyFile();
    replicas.push(...(await Promise.all([startGateway(registry, ["--session-key-file", key]), startGateway(registry, ["--session-key-file", key])])));
    for (const replica of replicas) await eventually(async () => (await fetchStatus(replica.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
    proxy = await roundRobin(replicas);
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all(replicas.map((replica) => replica.stop()));
    await modern?.stop();
    await legacy?.stop();
  });

  it("lists, calls, reads and gets prompts with every POST on the other replica", async () => {
    const client = await pinnedClient(proxy.url);
    try {
      expect(client.getNegotiatedProtocolVersion()).to.equal(MODERN_VERSION);
      proxy.routed.length = 0;
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).to.include.members(["m_echo", "m_greet", "l_echo"]);
      expect((await client.callTool({ name: "m_echo", arguments: { text: "modern" } })).content).to.deep.equal([{ type: "text", text: "modern" }]);
      expect((await client.callTool({ name: "l_echo", arguments: { text: "legacy" } })).content).to.deep.equal([{ type: "text", text: "legacy" }]);
      expect((await client.readResource({ uri: "fixture://legacy/readme" })).contents[0]).to.include({ text: "readme of legacy" });
      const prompt = await client.getPrompt({ name: "l_greeting", arguments: { name: "Ada" } });
      expect(JSON.stringify(prompt.messages)).to.contain("Hello, Ada! (from legacy)");
    } finally {
      await client.close();
    }
    const served = proxy.routed.filter((routed) => routed.method !== undefined);
    expect(served.map(({ method }) => method)).to.deep.equal(["tools/list", "tools/call", "tools/call", "resources/read", "prompts/get"]);
    expect(new Set(served.map(({ replica }) => replica)).size, "both replicas served").to.equal(2);
    for (let i = 1; i < served.length; i++) expect(served[i]!.replica, `${served[i]!.method} on the other replica`).to.not.equal(served[i - 1]!.replica);
  });

  it("an MRTR retry lands on the other replica and completes: the signed requestState is all it needs", async () => {
    const client = await pinnedClient(proxy.url);
    try {
      proxy.routed.length = 0;
      modern.seen.length = 0;
      const greeted = await client.callTool({ name: "m_greet", arguments: {} });
      expect(greeted.content).to.deep.equal([{ type: "text", text: "hello Ada" }]);
    } finally {
      await client.close();
    }
    const legs = proxy.routed.filter((routed) => routed.method === "tools/call" && routed.name === "m_greet");
    expect(legs).to.have.length(2);
    expect(legs[0]!.replica, "the retry on the other replica").to.not.equal(legs[1]!.replica);
    // The upstream got its own state back on the retry, from the replica that did not mint the gateway's.
    const upstreamLegs = modern.seen.filter((seen) => seen.body.method === "tools/call");
    expect(upstreamLegs.map((seen) => seen.body.params?.requestState)).to.deep.equal([undefined, "modern-state"]);
  });

  it("a listen stream the client cuts mid-way: the replica and its other clients carry on, and a new listen works", async () => {
    const client = await pinnedClient(proxy.url);
    let changes = 0;
    client.setNotificationHandler("notifications/tools/list_changed", () => {
      changes++;
    });
    try {
      proxy.routed.length = 0;
      const cut = await client.listen({ toolsListChanged: true });
      const replica = replicas[proxy.routed.find((routed) => routed.method === "subscriptions/listen")!.replica]!;
      // Another client on the same replica, listening the whole time.
      const bystander = await openListen(replica.mcpUrl, { toolsListChanged: true }, "bystander");
      try {
        await bystander.next((message) => message.method === "notifications/subscriptions/acknowledged");
        legacy.addTool("first_change");
        await eventually(async () => changes === 1, 10_000, "the first list change on the stream to be cut");
        await cut.close();
        expect(await cut.closed).to.equal("local");

        legacy.addTool("second_change");
        await eventually(async () => bystander.messages.filter((message) => (message as { method?: string }).method === "notifications/tools/list_changed").length === 2, 10_000, "both changes on the bystander's stream");
        expect(changes, "nothing after the cut").to.equal(1);
        const { status } = await modernPost(replica.mcpUrl, "tools/call", { name: "m_echo", arguments: { text: "still" } });
        expect(status).to.equal(200);

        const again = await client.listen({ toolsListChanged: true });
        try {
          legacy.addTool("third_change");
          await eventually(async () => changes === 2, 10_000, "the list change on the new stream");
        } finally {
          await again.close();
        }
      } finally {
        bystander.close();
        for (const name of ["first_change", "second_change", "third_change"]) legacy.removeTool(name);
      }
    } finally {
      await client.close();
    }
    for (const replica of replicas) expect((await fetch(`${replica.baseUrl}/healthz`)).status).to.equal(200);
  });
});
