// The controller's life: a restart converges without rewriting anything, an API server restart is ridden out,
// and of two replicas with leader election exactly one reconciles, the other taking over when it stops.
import { CoordinationV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { connectClient, textOf } from "../helpers/mcp-client.js";
import { apply, type CustomObject, getObject, isReady, type Plural, readyCondition, registryText, waitForReady, waitGone } from "../helpers/cluster-objects.js";
import { listToolNames } from "../helpers/http.js";
import { virtualServerYaml } from "../helpers/manifests.js";
import { LEASE_NAME, operatorEnv, type OperatorEnv, restartApiserver, SYSTEM_NAMESPACE } from "../helpers/operator-env.js";
import { startController, sumMetric } from "../helpers/operator-processes.js";
import { Cleanups, type Stack } from "../helpers/operator-suite.js";
import { sleep, within } from "../helpers/poll.js";
import { errorLines, stopAllProcesses } from "../helpers/processes.js";
import { recordTiming } from "../helpers/timing.js";
import { REGISTRY_SECRET_NAME } from "../../internal/contract/registry.js";
import { FINALIZER } from "../../internal/controller/reconcilers/registration.js";

describe("operator: controller lifecycle", function () {
  this.timeout(90_000);
  let op: OperatorEnv;
  const cleanups = new Cleanups();

  before(async () => {
    op = await operatorEnv();
  });

  afterEach(async () => {
    await cleanups.run();
    await stopAllProcesses();
  });

  const stack = (prefix: string): Promise<Stack> => cleanups.stack(op, prefix);

  async function upstream(name: string): Promise<UpstreamServer> {
    const server = await startUpstreamServer({ name });
    cleanups.add(() => server.stop());
    return server;
  }

  it("a change of one server's tools writes only that registration's status", async () => {
    const controller = await startController(op);
    const s = await stack("writes");
    const one = await upstream("one");
    const two = await upstream("two");
    await s.register("one", one.port, { toolPrefix: "one_" });
    await s.register("two", two.port, { toolPrefix: "two_" });
    await apply(op, virtualServerYaml(s.namespace, "vs", ["one_echo", "two_echo"]));
    for (const name of ["one", "two"]) await waitForReady(op, "mcpserverregistrations", s.namespace, name);
    await waitForReady(op, "mcpvirtualservers", s.namespace, "vs");
    await controller.settled();
    const twoBefore = await getObject(op, "mcpserverregistrations", s.namespace, "two");
    const before = await controller.metricsText();

    one.addTool("extra", "one more tool");
    await waitForReady(op, "mcpserverregistrations", s.namespace, "one", (_ready, object) => object.status?.discoveredTools === 10);
    await controller.settled();
    const after = await controller.metricsText();
    const delta = (kind: string) => sumMetric(after, "mcp_controller_writes_total", { kind, what: "status" }) - sumMetric(before, "mcp_controller_writes_total", { kind, what: "status" });
    expect((await getObject(op, "mcpserverregistrations", s.namespace, "two"))?.metadata.resourceVersion, "two is unchanged").to.equal(twoBefore?.metadata.resourceVersion);
    expect(
      { mcpserverregistrations: delta("mcpserverregistrations"), mcpvirtualservers: delta("mcpvirtualservers"), mcpgatewayextensions: delta("mcpgatewayextensions") },
      "status writes for one server's new tool (only registration one changed)",
    ).to.deep.equal({ mcpserverregistrations: 1, mcpvirtualservers: 0, mcpgatewayextensions: 0 });
  });

  it("a restarted controller converges without writing anything: statuses and lastTransitionTime unchanged", async () => {
    const first = await startController(op);
    const s = await stack("restart");
    const one = await upstream("one");
    const two = await upstream("two");
    await s.register("one", one.port, { toolPrefix: "one_" });
    await s.register("two", two.port, { toolPrefix: "two_" });
    await apply(op, virtualServerYaml(s.namespace, "vs", ["one_echo", "two_echo"]));
    const objects: Array<[Plural, string]> = [
      ["mcpserverregistrations", "one"],
      ["mcpserverregistrations", "two"],
      ["mcpvirtualservers", "vs"],
      ["mcpgatewayextensions", s.extension],
    ];
    for (const [plural, name] of objects) await waitForReady(op, plural, s.namespace, name);
    await first.settled();
    const before = new Map<string, CustomObject>();
    for (const [plural, name] of objects) before.set(`${plural}/${name}`, (await getObject(op, plural, s.namespace, name))!);
    const registryVersion = await op.kubectl(["get", "secret", REGISTRY_SECRET_NAME, "-n", s.namespace, "-o", "jsonpath={.metadata.resourceVersion}"]);
    expect(await first.stop(), "controller exit code on SIGTERM").to.equal(0);

    const started = performance.now();
    const second = await startController(op);
    await second.settled(1_500);
    recordTiming("controller restart -> ready and settled", performance.now() - started);
    expect(await second.counter("mcp_controller_reconciles_total", { kind: "MCPServerRegistration" }), "it did reconcile").to.be.greaterThan(0);

    for (const [plural, name] of objects) {
      const previous = before.get(`${plural}/${name}`)!;
      const now = (await getObject(op, plural, s.namespace, name))!;
      expect(readyCondition(now), `${plural}/${name}`).to.deep.equal(readyCondition(previous));
      expect(readyCondition(now)?.status).to.equal("True");
      expect(now.metadata.resourceVersion, `${plural}/${name} resourceVersion`).to.equal(previous.metadata.resourceVersion);
    }
    expect(await op.kubectl(["get", "secret", REGISTRY_SECRET_NAME, "-n", s.namespace, "-o", "jsonpath={.metadata.resourceVersion}"])).to.equal(registryVersion);
    const metrics = await second.metricsText();
    const writes = metrics.split("\n").filter((line) => line.startsWith("mcp_controller_writes_total"));
    expect(await second.counter("mcp_controller_writes_total"), `API writes after a restart over an unchanged cluster:\n${writes.join("\n")}`).to.equal(0);
  });

  it("a registration deleted while no controller runs stays (finalizer) until a controller removes it from the broker", async () => {
    const first = await startController(op);
    const s = await stack("finalizer");
    const gone = await upstream("gone");
    const stay = await upstream("stay");
    await s.register("gone", gone.port, { toolPrefix: "gone_" });
    await s.register("stay", stay.port, { toolPrefix: "stay_" });
    for (const name of ["gone", "stay"]) await waitForReady(op, "mcpserverregistrations", s.namespace, name);
    expect(await first.stop()).to.equal(0);

    await op.kubectl(["delete", "mcpsr", "gone", "-n", s.namespace, "--wait=false"]);
    await sleep(1_000);
    const pending = await getObject(op, "mcpserverregistrations", s.namespace, "gone");
    expect(pending?.metadata.deletionTimestamp, "deletion pending").to.be.a("string");
    expect(pending?.metadata.finalizers).to.deep.equal([FINALIZER]);
    expect(await listToolNames(s.broker.mcpUrl), "still served: nobody took it out of the registry").to.include("gone_echo");

    const started = performance.now();
    await startController(op);
    await waitGone(op, "mcpserverregistrations", s.namespace, "gone", 15_000);
    recordTiming("controller back -> deleted registration finalized", performance.now() - started);
    expect(await registryText(op, s.namespace)).to.not.include(`${s.namespace}/gone`);
    const names = await listToolNames(s.broker.mcpUrl);
    expect(names.filter((name) => name.startsWith("gone_"))).to.deep.equal([]);
    expect(names).to.include("stay_echo");
    expect(readyCondition(await getObject(op, "mcpserverregistrations", s.namespace, "stay"))?.status).to.equal("True");
  });

  it("rides out an API server restart: a new registration still becomes Ready and the broker still serves", async () => {
    const controller = await startController(op);
    const s = await stack("apirestart");
    const before = await upstream("before");
    const after = await upstream("after");
    await s.register("before", before.port, { toolPrefix: "b_" });
    await waitForReady(op, "mcpserverregistrations", s.namespace, "before");
    const client = await connectClient(s.broker.mcpUrl);
    cleanups.add(() => client.close());

    let started = performance.now();
    const restartLog = await restartApiserver(op);
    recordTiming(`API server restart (restart-apiserver.sh${restartLog.includes("SIGKILL") ? ", SIGKILL after the grace period" : ""})`, performance.now() - started);

    started = performance.now();
    await s.register("after", after.port, { toolPrefix: "a_" });
    await waitForReady(op, "mcpserverregistrations", s.namespace, "after", isReady, 30_000);
    recordTiming("after the API server restart: registration applied -> Ready", performance.now() - started);
    const names = await listToolNames(s.broker.mcpUrl);
    expect(names).to.include.members(["b_echo", "a_echo"]);
    // The session opened before the restart still works, and sees the new server.
    await within("the new tools on the old session", 5_000, async () => (await client.client.listTools()).tools.some((tool) => tool.name === "a_echo"));
    expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "after" } }))).to.equal("after");
    expect(readyCondition(await getObject(op, "mcpserverregistrations", s.namespace, "before"))?.status).to.equal("True");
    expect(controller.child.exitCode).to.equal(null);
    expect(s.broker.child.exitCode).to.equal(null);
    expect(errorLines(controller)).to.deep.equal([]);
    expect(errorLines(s.broker)).to.deep.equal([]);
  });

  it("two replicas with leader election: exactly one reconciles; when it stops the other takes over", async () => {
    const leases = op.kc.makeApiClient(CoordinationV1Api);
    const holder = async () => (await leases.readNamespacedLease({ namespace: SYSTEM_NAMESPACE, name: LEASE_NAME }).catch(() => undefined))?.spec?.holderIdentity;
    const [a, b] = await Promise.all([
      startController(op, { leaderElect: true, identity: "replica-a" }),
      startController(op, { leaderElect: true, identity: "replica-b" }),
    ]);
    const { value: leader } = await within("one replica leading", 30_000, async () => {
      const [ra, rb] = await Promise.all([a.readyz(), b.readyz()]);
      if (ra.leading && rb.leading) throw new Error("both replicas say they lead");
      return ra.leading ? a : rb.leading ? b : undefined;
    });
    const follower = leader === a ? b : a;
    expect(await holder()).to.equal(leader.identity);
    expect((await follower.readyz()).status, "a follower is ready (caches synced)").to.equal(200);

    const s = await stack("leader");
    const first = await upstream("first");
    await s.register("first", first.port, { toolPrefix: "f_" });
    await waitForReady(op, "mcpserverregistrations", s.namespace, "first");
    expect(await leader.counter("mcp_controller_writes_total")).to.be.greaterThan(0);
    expect(await follower.counter("mcp_controller_reconciles_total"), "the follower reconciled").to.equal(0);
    expect(await follower.counter("mcp_controller_writes_total"), "the follower wrote").to.equal(0);
    expect((await leader.readyz()).leading).to.equal(true);
    expect((await follower.readyz()).leading).to.equal(false);

    // The leader stops (SIGTERM, as on a rollout): the follower takes over and reconciles what comes next.
    const stopped = performance.now();
    const exitCode = await leader.stop();
    const { ms: takeover } = await within("the follower leading", 40_000, async () => (await follower.readyz()).leading === true, { intervalMs: 100 });
    recordTiming("leader SIGTERM -> follower leading", performance.now() - stopped);
    expect(await holder()).to.equal(follower.identity);
    const second = await upstream("second");
    const applied = performance.now();
    await s.register("second", second.port, { toolPrefix: "s_" });
    await waitForReady(op, "mcpserverregistrations", s.namespace, "second");
    recordTiming("new leader: registration applied -> Ready", performance.now() - applied);
    expect(await follower.counter("mcp_controller_writes_total")).to.be.greaterThan(0);
    expect(await listToolNames(s.broker.mcpUrl)).to.include.members(["f_echo", "s_echo"]);

    // A leader told to stop hands over: it exits cleanly and releases the Lease, so the successor need not wait
    // for the Lease to expire (15 s).
    const leaderLog = leader.output();
    const problems = [
      ...(exitCode === 0 ? [] : [`the leader exited with ${exitCode} on SIGTERM`]),
      ...(leaderLog.includes("leader election: released the lease") ? [] : ["the leader did not release the Lease"]),
      ...(takeover < 5_000 ? [] : [`the follower took ${takeover} ms to take over (lease expiry instead of hand-over)`]),
    ];
    expect(problems, `hand-over on SIGTERM; the leader's log:\n${leaderLog}`).to.deep.equal([]);
  });
});
