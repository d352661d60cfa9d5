// EventRecorder writes core/v1 Events that kubectl shows, for namespaced and cluster-scoped objects.
import { CoreV1Api, type CoreV1Event } from "@kubernetes/client-node";
import { expect } from "chai";
import { EventRecorder } from "../../internal/kube/events.js";
import { kubeConfigOf, sharedEnvtest } from "../helpers/envtest.js";
import { capturingLogger } from "../helpers/logs.js";
import { expectEventually } from "../helpers/poll.js";
import { freshNamespace } from "../helpers/cluster-objects.js";

describe("kube EventRecorder", function () {
  this.timeout(30_000);

  async function eventsAbout(kubectl: (args: string[]) => Promise<string>, namespace: string, uid: string): Promise<CoreV1Event[]> {
    const list = JSON.parse(await kubectl(["-n", namespace, "get", "events", "--field-selector", `involvedObject.uid=${uid}`, "-o", "json"])) as { items: CoreV1Event[] };
    return list.items;
  }

  it("records Events that kubectl lists for the object", async () => {
    const env = await sharedEnvtest();
    const kc = kubeConfigOf(env);
    const ns = await freshNamespace(env, "events");
    const cm = await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "subject" } } });
    const recorder = new EventRecorder(kc, "mcp-gateway-test", capturingLogger().log);

    recorder.record({ ...cm, apiVersion: "v1", kind: "ConfigMap", metadata: cm.metadata ?? {} }, "Warning", "Invalid", "spec.x is missing");
    recorder.record({ ...cm, apiVersion: "v1", kind: "ConfigMap", metadata: cm.metadata ?? {} }, "Normal", "Ready", "all good");

    let events: CoreV1Event[] = [];
    await expectEventually(async () => {
      events = await eventsAbout(env.kubectl, ns, cm.metadata?.uid ?? "");
      expect(events).to.have.length(2);
    });
    const invalid = events.find((event) => event.reason === "Invalid");
    expect(invalid).to.deep.include({ type: "Warning", message: "spec.x is missing", count: 1, source: { component: "mcp-gateway-test" } });
    expect(invalid?.involvedObject).to.deep.equal({ apiVersion: "v1", kind: "ConfigMap", name: "subject", namespace: ns, uid: cm.metadata?.uid, resourceVersion: cm.metadata?.resourceVersion });
    expect(invalid?.metadata?.name).to.match(/^subject\.[0-9a-f]{16}$/);
    expect(invalid?.firstTimestamp).to.be.a("string").and.equal(invalid?.lastTimestamp);
    expect(events.find((event) => event.reason === "Ready")).to.deep.include({ type: "Normal", message: "all good" });

    const described = await env.kubectl(["-n", ns, "describe", "configmap", "subject"]);
    expect(described).to.match(/Warning\s+Invalid\s+.*mcp-gateway-test\s+spec\.x is missing/);
  });

  it("records Events about cluster-scoped objects in the default namespace", async () => {
    const env = await sharedEnvtest();
    const kc = kubeConfigOf(env);
    const nsName = await freshNamespace(env, "events-cluster");
    const namespace = await kc.makeApiClient(CoreV1Api).readNamespace({ name: nsName });
    new EventRecorder(kc, "mcp-gateway-test", capturingLogger().log).record({ ...namespace, apiVersion: "v1", kind: "Namespace", metadata: namespace.metadata ?? {} }, "Normal", "Seen", "hello");
    await expectEventually(async () => {
      const events = await eventsAbout(env.kubectl, "default", namespace.metadata?.uid ?? "");
      expect(events.map((event) => `${event.involvedObject.kind}/${event.involvedObject.name} ${event.reason}`)).to.deep.equal([`Namespace/${nsName} Seen`]);
    });
  });

  it("logs a failed write at debug and throws nothing", async () => {
    const env = await sharedEnvtest();
    const { log, lines } = capturingLogger();
    // A namespace that does not exist: the API server refuses the Event.
    new EventRecorder(kubeConfigOf(env), "mcp-gateway-test", log).record({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "no-such-namespace" } }, "Normal", "Seen", "hello");
    await expectEventually(() => expect(lines.map((line) => `${line.level} ${line.msg}`)).to.deep.equal(["20 could not record a Kubernetes Event"]));
  });
});
