// Issue 13: tool prefixes are unique and non-overlapping per gateway, and who keeps one follows from
// configuration (the registration created first), never from which upstream became ready first. A tenant that
// registers its victim's prefix is refused, stays refused while the victim's upstream restarts, and takes the
// prefix over only once the victim's registration is gone.
import { expect } from "chai";
import { connectClient, textOf } from "../helpers/mcp-client.js";
import { getObject, isReady, notReadyWith, readyCondition, registryText, waitForReady } from "../helpers/cluster-objects.js";
import { listToolNames } from "../helpers/http.js";
import { cleanupsAfterEach, operatorSuite, type Stack } from "../helpers/operator-suite.js";
import { sleep, within } from "../helpers/poll.js";
import { recordTiming } from "../helpers/timing.js";

describe("operator: tool prefixes unique per gateway (issue 13)", function () {
  this.timeout(90_000);
  const suite = operatorSuite();
  const cleanups = cleanupsAfterEach();

  const upstream = (name: string) => cleanups.upstream(name);
  const ready = (s: Stack, name: string) => waitForReady(suite.op, "mcpserverregistrations", s.namespace, name, isReady);
  const refused = (s: Stack, name: string, holder: string) =>
    waitForReady(suite.op, "mcpserverregistrations", s.namespace, name, (condition) => notReadyWith("overlaps the prefix")(condition) && condition.reason === "PrefixConflict" && condition.message.includes(`${s.namespace}/${holder}`));
  const whoami = async (url: string, tool: string) => {
    const c = await connectClient(url);
    try {
      return JSON.parse(textOf(await c.client.callTool({ name: tool, arguments: {} }))).server as string;
    } finally {
      await c.close();
    }
  };

  it("the registration created first keeps its prefix; the later, equal or overlapping, is refused through a restart of the first's upstream, and served once the first is gone", async () => {
    const s = await cleanups.stack(suite.op, "prefix");
    const victim = await upstream("victim");
    const tenant = await upstream("tenant");
    const nested = await upstream("nested");
    await s.register("victim", victim.port, { toolPrefix: "team_" });
    await ready(s, "victim");

    // creationTimestamp has whole seconds: a second apart, age alone decides (a tie would go by name).
    await sleep(1_100);
    await s.register("tenant", tenant.port, { toolPrefix: "team_" });
    const equal = await refused(s, "tenant", "victim");
    expect(readyCondition(equal)?.message).to.equal(
      `tool prefix "team_" overlaps the prefix "team_" of MCPServerRegistration ${s.namespace}/victim, registered first (by creation time, then namespace/name); prefixes on one gateway must not start one another, so this server is not served until one of them changes`,
    );
    expect(equal.status?.discoveredTools).to.equal(0);
    // A prefix that extends another's overlaps it too.
    await sleep(1_100);
    await s.register("nested", nested.port, { toolPrefix: "team_x" });
    await refused(s, "nested", "victim");
    let registry = await registryText(suite.op, s.namespace);
    expect(registry).to.include(`name: ${s.namespace}/victim`);
    expect(registry).to.not.include(`${s.namespace}/tenant`);
    expect(registry).to.not.include(`${s.namespace}/nested`);
    expect(await whoami(s.broker.mcpUrl, "team_whoami")).to.equal("victim");

    // The victim's upstream dies and comes back: readiness order changes nothing.
    await victim.stop();
    await waitForReady(suite.op, "mcpserverregistrations", s.namespace, "victim", (condition) => condition.status === "False");
    expect(readyCondition(await getObject(suite.op, "mcpserverregistrations", s.namespace, "tenant"))?.reason).to.equal("PrefixConflict");
    expect(await registryText(suite.op, s.namespace)).to.not.include(`${s.namespace}/tenant`);
    await victim.restart();
    await ready(s, "victim");
    expect(await whoami(s.broker.mcpUrl, "team_whoami")).to.equal("victim");
    expect(readyCondition(await getObject(suite.op, "mcpserverregistrations", s.namespace, "tenant"))?.reason).to.equal("PrefixConflict");

    // Once the victim is gone the next oldest claims the prefix by itself; the newest still overlaps it.
    const started = performance.now();
    await suite.op.kubectl(["delete", "mcpsr", "victim", "-n", s.namespace, "--wait=true", "--timeout=20s"]);
    await ready(s, "tenant");
    recordTiming("prefix holder deleted -> the refused registration Ready", performance.now() - started);
    await refused(s, "nested", "tenant");
    registry = await registryText(suite.op, s.namespace);
    expect(registry).to.include(`name: ${s.namespace}/tenant`);
    expect(registry).to.not.include(`${s.namespace}/nested`);
    await within("team_whoami served by the tenant", 5_000, async () => (await whoami(s.broker.mcpUrl, "team_whoami")) === "tenant");
    expect((await listToolNames(s.broker.mcpUrl)).every((name) => name.startsWith("team_") && !name.startsWith("team_x"))).to.equal(true);
  });

  it("prefixes only conflict within one gateway: the same prefix on two gateways is served on both", async () => {
    const a = await cleanups.stack(suite.op, "prefix-a");
    const b = await cleanups.stack(suite.op, "prefix-b");
    const one = await upstream("one");
    const two = await upstream("two");
    await a.register("same", one.port, { toolPrefix: "same_" });
    await b.register("same", two.port, { toolPrefix: "same_" });
    await ready(a, "same");
    await ready(b, "same");
    expect(await whoami(a.broker.mcpUrl, "same_whoami")).to.equal("one");
    expect(await whoami(b.broker.mcpUrl, "same_whoami")).to.equal("two");
  });
});
