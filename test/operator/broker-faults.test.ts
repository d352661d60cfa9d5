// A broker reading its registry from a Secret through the real API server (as its own ServiceAccount, no
// controller: the test writes the Secret) when that Secret goes bad and when the API server restarts. Either
// way the last good registry stays in force, the sessions using it never notice (no upstream session is
// re-opened), and once things are right again the next registry applies.
import { expect } from "chai";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { endSessionsExpectNoLeak, GatewaySessions, HEALTHY_PREFIX, HEALTHY_SERVER, startBystanders, textResult, toolCall, type CountingUpstream } from "../helpers/fault-harness.js";
import { createNamespace, uniqueName } from "../helpers/cluster-objects.js";
import { operatorEnv, type OperatorEnv, restartApiserver } from "../helpers/operator-env.js";
import { type BrokerProcess, startBroker } from "../helpers/operator-processes.js";
import { within } from "../helpers/poll.js";
import { errorLines, stopAllProcesses } from "../helpers/processes.js";
import { recordTiming } from "../helpers/timing.js";
import { registryYaml, type TestServer } from "../helpers/registry.js";
import { BROKER_STATUS_CONFIGMAP, BROKER_STATUS_KEY } from "../../internal/contract/broker-status.js";
import { REGISTRY_SECRET_KEY, REGISTRY_SECRET_NAME } from "../../internal/contract/registry.js";

const ADDED_SERVER = "faults/added";
const ADDED_PREFIX = "new_";

describe("broker faults: its registry Secret goes bad, its API server restarts", function () {
  this.timeout(120_000);
  let op: OperatorEnv;
  let healthy: UpstreamServer;
  let added: UpstreamServer;
  let namespace: string;
  let broker: BrokerProcess;
  let sessions: GatewaySessions;
  let counted: Map<string, CountingUpstream>;

  const healthyOnly = (): TestServer[] => [{ name: HEALTHY_SERVER, url: healthy.url, prefix: HEALTHY_PREFIX }];
  const withAdded = (): TestServer[] => [...healthyOnly(), { name: ADDED_SERVER, url: added.url, prefix: ADDED_PREFIX }];

  /** Replaces the registry Secret's data (kubectl apply drops keys the previous apply set and this one does not). */
  async function writeSecret(data: Record<string, string>): Promise<void> {
    const encoded = Object.fromEntries(Object.entries(data).map(([key, text]) => [key, Buffer.from(text).toString("base64")]));
    await op.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: REGISTRY_SECRET_NAME, namespace }, data: encoded }));
  }

  const toolNames = () => sessions.toolNames();

  /** Waits until the broker serves the added server's tool, and calls it; returns how long that took. */
  async function addedServed(timeoutMs: number): Promise<number> {
    const { ms } = await within(`${ADDED_PREFIX}echo served`, timeoutMs, async () => (await toolNames()).includes(`${ADDED_PREFIX}echo`));
    const res = await sessions.post(await sessions.open(), toolCall("added", `${ADDED_PREFIX}echo`, { text: "added" }));
    expect(res.messages).to.deep.equal([textResult("added", "added")]);
    return ms;
  }

  before(async () => {
    op = await operatorEnv();
    [healthy, added] = await Promise.all([startUpstreamServer({ name: "ok" }), startUpstreamServer({ name: "added" })]);
    counted = new Map([
      [HEALTHY_SERVER, healthy],
      [ADDED_SERVER, added],
    ]);
  });

  beforeEach(async () => {
    namespace = uniqueName("broker-faults");
    await createNamespace(op, namespace);
    await writeSecret({ [REGISTRY_SECRET_KEY]: registryYaml(healthyOnly()) });
    broker = await startBroker(op, namespace, ["--retry-max-seconds", "1"]);
    sessions = new GatewaySessions(broker.mcpUrl);
    await within(`${HEALTHY_PREFIX}echo served`, 10_000, async () => (await toolNames()).includes(`${HEALTHY_PREFIX}echo`));
  });

  afterEach(async () => {
    await stopAllProcesses();
    await op.kubectl(["delete", "namespace", namespace, "--wait=false"]).catch(() => undefined);
  });

  after(async () => {
    await Promise.all([healthy?.stop(), added?.stop()]);
  });

  it("keeps the last good registry while the Secret is invalid YAML, fails the schema, lacks config.yaml or is gone; a fixed Secret applies", async () => {
    const bystanders = await startBystanders(sessions);
    const opened = healthy.sessionsOpened();
    const rejected = (err: string) => ({ msg: "registry rejected; keeping the last good registry", err });
    /** The error line each corruption must produce; err is the start of the reason. */
    const corruptions: Array<{ what: string; write: () => Promise<unknown>; logged: { msg: string; err?: string } }> = [
      { what: "invalid YAML", write: () => writeSecret({ [REGISTRY_SECRET_KEY]: "servers: [\n" }), logged: rejected("registry is not valid YAML: ") },
      {
        what: "invalid schema",
        write: () => writeSecret({ [REGISTRY_SECRET_KEY]: "servers:\n  - name: faults/ok\n    url: not a url\n" }),
        logged: rejected("registry is invalid: "),
      },
      { what: "no config.yaml", write: () => writeSecret({ "other.yaml": registryYaml(withAdded()) }), logged: rejected("registry Secret has no key config.yaml") },
      { what: "deleted", write: () => op.kubectl(["delete", "secret", REGISTRY_SECRET_NAME, "-n", namespace]), logged: { msg: "registry Secret deleted; keeping the last good registry" } },
    ];
    expect(errorLines(broker)).to.deep.equal([]);
    for (const [i, { what, write, logged }] of corruptions.entries()) {
      await write();
      const lines = await within(`the broker to log the ${what} Secret`, 10_000, () => {
        const errors = errorLines(broker);
        return errors.length === i + 1 ? errors : undefined;
      });
      const line = JSON.parse(lines.value.at(-1)!) as Record<string, unknown>;
      const err = typeof line.err === "string" ? line.err : undefined;
      expect({ what, msg: line.msg, secret: line.secret, err: err?.slice(0, logged.err?.length ?? 0) || undefined }).to.deep.equal({ what, secret: `${namespace}/${REGISTRY_SECRET_NAME}`, err: undefined, ...logged });
      expect(await toolNames(), `tools while the Secret is ${what}`).to.include(`${HEALTHY_PREFIX}echo`).and.not.include(`${ADDED_PREFIX}echo`);
    }
    expect(errorLines(broker).find((line) => line.includes("servers[0].url")), "the schema error names the field").to.be.a("string");

    await writeSecret({ [REGISTRY_SECRET_KEY]: registryYaml(withAdded()) });
    await addedServed(10_000);
    await bystanders.expectUnaffected();
    // Nothing re-opened an upstream session on the healthy server: no bad registry ever reached the sessions.
    expect(healthy.sessionsOpened()).to.equal(opened);
    await endSessionsExpectNoLeak(sessions, counted);
    expect(errorLines(broker)).to.have.length(corruptions.length);
  });

  it("rides out an API server restart: sessions unaffected meanwhile, the watch recovers and a later Secret change applies", async () => {
    const bystanders = await startBystanders(sessions);
    const opened = healthy.sessionsOpened();
    let started = performance.now();
    await restartApiserver(op);
    recordTiming("broker: API server restart (sessions kept calling)", performance.now() - started);

    started = performance.now();
    await writeSecret({ [REGISTRY_SECRET_KEY]: registryYaml(withAdded()) });
    // The informer's reconnect backoff is capped at 10 s.
    const ms = await addedServed(20_000);
    recordTiming("broker: after the API server restart, Secret changed -> new server served", performance.now() - started);
    expect(ms).to.be.lessThan(20_000);
    // Publishing the status for the controller recovered too.
    await within("the published status to list the added server", 10_000, async () => {
      const text = await op.kubectl(["get", "configmap", BROKER_STATUS_CONFIGMAP, "-n", namespace, "-o", `jsonpath={.data.${BROKER_STATUS_KEY.replaceAll(".", "\\.")}}`]).catch(() => "{}");
      return (JSON.parse(text || "{}") as { servers?: Array<{ name: string; ready: boolean }> }).servers?.some((server) => server.name === ADDED_SERVER && server.ready);
    });
    await bystanders.expectUnaffected();
    expect(healthy.sessionsOpened()).to.equal(opened);
    await endSessionsExpectNoLeak(sessions, counted);
    // The outage is logged as a warning, not an error; the broker kept running.
    expect(errorLines(broker)).to.deep.equal([]);
    expect(broker.child.exitCode).to.equal(null);
  });
});
