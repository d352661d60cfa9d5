// Leader election on a real Lease: one leader of two, hand-over on stop(), stepping down when the lease is
// taken or cannot be renewed. Short timings (lease 3 s, renew deadline 2 s, retry 0.5 s) keep it quick.
import { CoordinationV1Api, KubeConfig, V1MicroTime } from "@kubernetes/client-node";
import { expect } from "chai";
import { LeaderElector } from "../../internal/kube/leader-election.js";
import { kubeConfigOf, sharedEnvtest, type Envtest } from "../helpers/envtest.js";
import { capturingLogger } from "../helpers/logs.js";
import { expectEventually, sleep } from "../helpers/poll.js";
import { freshNamespace } from "../helpers/cluster-objects.js";

const TIMINGS = { leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.5 };

interface Candidate {
  elector: LeaderElector;
  identity: string;
  /** "started"/"stopped", one per callback, in order. */
  transitions: string[];
}

describe("kube LeaderElector", function () {
  this.timeout(30_000);
  let env: Envtest;
  let kc: KubeConfig;
  let leases: CoordinationV1Api;
  let ns: string;
  let leaseCount = 0;
  let candidates: Candidate[] = [];
  const { log, lines } = capturingLogger();

  before(async () => {
    env = await sharedEnvtest();
    kc = kubeConfigOf(env);
    leases = kc.makeApiClient(CoordinationV1Api);
    ns = await freshNamespace(env, "leader");
  });

  afterEach(async () => {
    await Promise.all(candidates.map((candidate) => candidate.elector.stop()));
    candidates = [];
  });

  function candidate(identity: string, lease: string, config: KubeConfig = kc): Candidate {
    const elector = new LeaderElector(config, { namespace: ns, name: lease, identity, ...TIMINGS }, log);
    const transitions: string[] = [];
    elector.run({ onStartedLeading: () => transitions.push("started"), onStoppedLeading: () => transitions.push("stopped") });
    const created = { elector, identity, transitions };
    candidates.push(created);
    return created;
  }

  const leaseName = () => `lease-${++leaseCount}`;
  const holderOf = async (lease: string) => (await leases.readNamespacedLease({ namespace: ns, name: lease })).spec?.holderIdentity;

  it("makes exactly one of two candidates leader, and hands over quickly when the leader stops", async () => {
    const lease = leaseName();
    const a = candidate("a", lease);
    const b = candidate("b", lease);
    await expectEventually(() => expect([a, b].filter((c) => c.elector.isLeader)).to.have.length(1));
    for (let i = 0; i < 30; i++) {
      expect(a.elector.isLeader && b.elector.isLeader, "two leaders at once").to.equal(false);
      await sleep(50);
    }
    const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
    expect(await holderOf(lease)).to.equal(leader.identity);
    expect(leader.transitions).to.deep.equal(["started"]);
    expect(follower.transitions).to.deep.equal([]);

    const stoppedAt = Date.now();
    await leader.elector.stop();
    expect(leader.transitions).to.deep.equal(["started", "stopped"]);
    expect(leader.elector.isLeader).to.equal(false);
    // The lease was released: without that, the follower would wait for it to expire (>= 2.5 s here).
    await expectEventually(() => expect(follower.elector.isLeader).to.equal(true), 5_000);
    expect(Date.now() - stoppedAt).to.be.below(2_000);
    expect(follower.transitions).to.deep.equal(["started"]);
    const spec = (await leases.readNamespacedLease({ namespace: ns, name: lease })).spec;
    expect(spec).to.include({ holderIdentity: follower.identity, leaseTransitions: 1, leaseDurationSeconds: 3 });
  });

  it("steps down at once when another holder takes the lease, and takes it back only after it expired", async () => {
    const lease = leaseName();
    const a = candidate("a", lease);
    await expectEventually(() => expect(a.elector.isLeader).to.equal(true));

    const current = await leases.readNamespacedLease({ namespace: ns, name: lease });
    current.spec = { ...current.spec, holderIdentity: "intruder", renewTime: new V1MicroTime(), leaseDurationSeconds: 3 };
    await leases.replaceNamespacedLease({ namespace: ns, name: lease, body: current });
    const stolenAt = Date.now();

    await expectEventually(() => expect(a.elector.isLeader).to.equal(false), 2_000);
    expect(a.transitions).to.deep.equal(["started", "stopped"]);
    expect(Date.now() - stolenAt).to.be.below(1_500);
    // The intruder never renews: its lease expires 3 s after it was taken, and a takes over again.
    await expectEventually(() => expect(a.elector.isLeader).to.equal(true), 6_000);
    expect(Date.now() - stolenAt).to.be.at.least(2_900);
    expect(a.transitions).to.deep.equal(["started", "stopped", "started"]);
    expect(await holderOf(lease)).to.equal("a");
  });

  it("steps down when it cannot renew within the renew deadline", async () => {
    // A candidate whose right to write Leases can be taken away: a ServiceAccount with a RoleBinding.
    const lease = leaseName();
    await env.kubectl(["-n", ns, "create", "serviceaccount", "elector"]);
    await env.kubectl(["-n", ns, "create", "role", "lease-writer", "--verb=get,create,update", "--resource=leases.coordination.k8s.io"]);
    await env.kubectl(["-n", ns, "create", "rolebinding", "lease-writer", "--role=lease-writer", `--serviceaccount=${ns}:elector`]);
    const token = (await env.kubectl(["-n", ns, "create", "token", "elector"])).trim();
    const limited = new KubeConfig();
    limited.loadFromOptions({
      clusters: [{ name: "envtest", server: env.server, caFile: env.caFile }],
      users: [{ name: "elector", token }],
      contexts: [{ name: "elector", cluster: "envtest", user: "elector" }],
      currentContext: "elector",
    });

    const a = candidate("a", lease, limited);
    await expectEventually(() => expect(a.elector.isLeader).to.equal(true));
    await env.kubectl(["-n", ns, "delete", "rolebinding", "lease-writer"]);
    const revokedAt = Date.now();

    await expectEventually(() => expect(a.elector.isLeader).to.equal(false), 5_000);
    // The last renewal was at most a retry period (0.5 s) before the revocation; the deadline is 2 s after it.
    expect(Date.now() - revokedAt).to.be.within(1_400, 3_000);
    expect(a.transitions).to.deep.equal(["started", "stopped"]);
    expect(lines.map((line) => line.msg)).to.include("leader election: could not renew the lease in time; stepping down");
    expect(await holderOf(lease)).to.equal("a");
  });

  it("rejects timings with which a leader could outlive its lease", () => {
    const options = { namespace: "ns", name: "lease", identity: "a" };
    expect(() => new LeaderElector(kc, { ...options, leaseDurationSeconds: 10, renewDeadlineSeconds: 10 }, log)).to.throw(/greater than renewDeadline/);
    expect(() => new LeaderElector(kc, { ...options, renewDeadlineSeconds: 2, retryPeriodSeconds: 2 }, log)).to.throw(/1.2 \* retryPeriod/);
    expect(() => new LeaderElector(kc, { ...options, leaseDurationSeconds: 2.5, renewDeadlineSeconds: 2, retryPeriodSeconds: 1 }, log)).to.throw(/whole number/);
  });
});
