// How fast a registration's status follows its upstream: the broker publishes its discovery status to a
// ConfigMap, the controller watches it, so the Ready condition should trail the broker by about two watch events
// and one status write, with no polling (docs/architecture.md, "the hand-off"). Measured against the broker's
// own log of when it noticed, and bounded end to end.
import { expect } from "chai";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { type Condition, getObject, readyCondition, waitForReady } from "../helpers/cluster-objects.js";
import { type OperatorEnv } from "../helpers/operator-env.js";
import { operatorSuite, type Stack, startStack } from "../helpers/operator-suite.js";
import { sleep, within } from "../helpers/poll.js";
import { errorLines } from "../helpers/processes.js";
import { recordTiming } from "../helpers/timing.js";

/**
 * The Ready condition of one registration as it changes, with when each version was first seen (epoch ms),
 * polled every 20 ms (a watch through client-node delivered events late here).
 */
class RegistrationRecorder {
  readonly seen: Array<{ at: number; ready?: Condition }> = [];
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly op: OperatorEnv,
    private readonly namespace: string,
    private readonly name: string,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let lastVersion = "";
      while (this.running) {
        const object = await getObject(this.op, "mcpserverregistrations", this.namespace, this.name).catch(() => undefined);
        if (object && object.metadata.resourceVersion !== lastVersion) {
          lastVersion = object.metadata.resourceVersion;
          this.seen.push({ at: Date.now(), ready: readyCondition(object) });
        }
        await sleep(20);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** When the first version after `since` whose Ready condition satisfies the predicate arrived. */
  async first(since: number, predicate: (ready: Condition) => boolean, timeoutMs: number, what: string): Promise<{ at: number; ready: Condition }> {
    const { value } = await within(what, timeoutMs, () => {
      const hit = this.seen.find((entry) => entry.at >= since && entry.ready && predicate(entry.ready));
      return hit ? { at: hit.at, ready: hit.ready as Condition } : undefined;
    });
    return value;
  }
}

/** When the broker logged msg for the server, after `since` (epoch ms). */
function brokerLogged(stack: Stack, server: string, msg: string, since: number): number | undefined {
  const line = stack.broker.logs().find((entry) => entry.msg === msg && entry.server === server && typeof entry.time === "string" && Date.parse(entry.time) >= since);
  return line ? Date.parse(line.time as string) : undefined;
}

describe("operator: a registration's status follows its upstream", function () {
  this.timeout(60_000);
  let stack: Stack;
  let pulse: UpstreamServer;
  let client: TestClient | undefined;
  let recorder: RegistrationRecorder | undefined;
  const suite = operatorSuite({
    afterController: async (op) => {
      stack = await startStack(op, "timing");
      pulse = await startUpstreamServer({ name: "pulse" });
    },
    beforeStop: async () => {
      await recorder?.stop();
      await client?.close().catch(() => undefined);
      await stack?.cleanup().catch(() => undefined);
    },
    afterStop: async () => {
      await pulse?.stop();
    },
  });

  async function setUp(): Promise<void> {
    await stack.register("pulse", pulse.port, { toolPrefix: "p_" });
    await waitForReady(suite.op, "mcpserverregistrations", stack.namespace, "pulse");
    recorder = new RegistrationRecorder(suite.op, stack.namespace, "pulse");
    recorder.start();
    client = await connectClient(stack.broker.mcpUrl);
    expect((await client.client.listTools()).tools.map((tool) => tool.name)).to.include("p_echo");
  }

  /** Stops the upstream, keeps it down for downMs after the registration said so, restarts it; checks the bounds. */
  async function cycle(downMs: number): Promise<void> {
    const server = `${stack.namespace}/pulse`;
    const label = `[down ${downMs} ms]`;
    // Down: the broker loses the upstream; the registration says why.
    const stopped = Date.now();
    const notified = client!.count("notifications/tools/list_changed");
    await pulse.stop();
    const down = await recorder!.first(stopped, (ready) => ready.status === "False", 10_000, "Ready=False after the upstream stopped");
    expect(down.ready).to.include({ reason: "NotReady", message: "connection refused" });
    const brokerDown = brokerLogged(stack, server, "upstream server unavailable", stopped) ?? down.at;
    recordTiming(`${label} upstream stopped -> broker noticed`, brokerDown - stopped);
    recordTiming(`${label} broker noticed -> registration NotReady (connection refused)`, down.at - brokerDown);
    recordTiming(`${label} upstream stopped -> registration NotReady (end to end)`, down.at - stopped);
    // Clients are told, and the tools are gone.
    await within("list_changed after the upstream stopped", 5_000, () => client!.count("notifications/tools/list_changed") > notified);
    expect((await client!.client.listTools()).tools.map((tool) => tool.name)).to.not.include("p_echo");
    const afterDown = await waitForReady(suite.op, "mcpserverregistrations", stack.namespace, "pulse", (ready) => ready.status === "False");
    expect(afterDown.status?.discoveredTools).to.equal(0);
    await sleep(downMs);

    // Up again: the broker reconnects (with backoff), and the registration follows.
    const restarted = Date.now();
    await pulse.restart();
    const up = await recorder!.first(restarted, (ready) => ready.status === "True", 15_000, "Ready=True after the upstream came back");
    const brokerUp = brokerLogged(stack, server, "Discovered tools", restarted) ?? up.at;
    recordTiming(`${label} upstream restarted -> broker discovered it`, brokerUp - restarted);
    recordTiming(`${label} broker discovered -> registration Ready`, up.at - brokerUp);
    recordTiming(`${label} upstream restarted -> registration Ready (end to end)`, up.at - restarted);
    expect(textOf(await client!.client.callTool({ name: "p_echo", arguments: { text: "back" } }))).to.equal("back");

    expect(down.at - brokerDown, "broker noticed -> NotReady").to.be.below(2_000);
    expect(up.at - brokerUp, "broker discovered -> Ready").to.be.below(2_000);
    expect(down.at - stopped, "stop -> NotReady").to.be.below(5_000);
    expect(up.at - restarted, "restart -> Ready").to.be.below(5_000);
  }

  it("goes NotReady (connection refused) and back to Ready within 2 s of the broker noticing, < 5 s end to end", async () => {
    await setUp();
    await cycle(0);
  });

  it("the same after the upstream stayed down for 2 s (the broker's reconnect backoff has grown)", async () => {
    await cycle(2_000);
  });

  it("kept the controller running without errors in its log", () => {
    expect(suite.controller.child.exitCode).to.equal(null);
    expect(errorLines(suite.controller)).to.deep.equal([]);
  });
});
