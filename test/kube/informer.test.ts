// The informer against a real API server: initial list, watch events, namespace and field-selector scoping,
// group resources, cluster-scoped objects, failing handlers, and a start() that cannot sync.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { expect } from "chai";
import { Informer, type InformerEvent, type KubeObject } from "../../internal/kube/informer.js";
import { kubeConfigOf, sharedEnvtest, type Envtest } from "../helpers/envtest.js";
import { capturingLogger, WARN } from "../helpers/logs.js";
import { expectEventually, sleep } from "../helpers/poll.js";
import { freshNamespace } from "../helpers/cluster-objects.js";

type ConfigMap = V1ConfigMap & KubeObject;
const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps" };

/** Every event the informer reports, as [event, namespace/name, data.value]. */
function recordEvents(informer: Informer<ConfigMap>): Array<[InformerEvent, string, string | undefined]> {
  const events: Array<[InformerEvent, string, string | undefined]> = [];
  informer.onChange((event, cm) => events.push([event, `${cm.metadata.namespace}/${cm.metadata.name}`, cm.data?.value]));
  return events;
}

describe("kube Informer", function () {
  this.timeout(30_000);
  let env: Envtest;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const informers: Informer<ConfigMap>[] = [];
  const { log, lines } = capturingLogger();

  before(async () => {
    env = await sharedEnvtest();
    kc = kubeConfigOf(env);
    core = kc.makeApiClient(CoreV1Api);
  });

  after(() => informers.forEach((informer) => informer.stop()));

  function informer(options?: { namespace?: string; fieldSelector?: string }): Informer<ConfigMap> {
    const created = new Informer<ConfigMap>(kc, CONFIGMAPS, log, options);
    informers.push(created);
    return created;
  }

  const createConfigMap = (namespace: string, name: string, value: string) => core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { value } } });

  it("lists what exists, then reports add, update and delete as they happen", async () => {
    const ns = await freshNamespace(env, "informer");
    await createConfigMap(ns, "before", "1");
    const cms = informer({ namespace: ns });
    const events = recordEvents(cms);
    expect(cms.synced).to.equal(false);

    await cms.start();
    expect(cms.synced).to.equal(true);
    expect(events).to.deep.equal([["add", `${ns}/before`, "1"]]);
    // List items come without apiVersion/kind; the informer fills them in.
    expect(cms.get(ns, "before")).to.include({ apiVersion: "v1", kind: "ConfigMap" });

    await createConfigMap(ns, "later", "1");
    await expectEventually(() => expect(events).to.deep.include(["add", `${ns}/later`, "1"]));
    expect(cms.get(ns, "later")?.data?.value).to.equal("1");

    await core.patchNamespacedConfigMap({ namespace: ns, name: "later", body: [{ op: "replace", path: "/data/value", value: "2" }] });
    await expectEventually(() => expect(events).to.deep.include(["update", `${ns}/later`, "2"]));
    expect(cms.get(ns, "later")?.data?.value).to.equal("2");

    await core.deleteNamespacedConfigMap({ namespace: ns, name: "later" });
    await expectEventually(() => expect(events).to.deep.include(["delete", `${ns}/later`, "2"]));
    expect(cms.get(ns, "later")).to.equal(undefined);
    expect(cms.list(ns).map((cm) => cm.metadata.name)).to.deep.equal(["before"]);
    expect(events.map(([event, name]) => `${event} ${name}`)).to.deep.equal([`add ${ns}/before`, `add ${ns}/later`, `update ${ns}/later`, `delete ${ns}/later`]);
  });

  it("sees only its namespace and field selector", async () => {
    const [nsA, nsB] = await Promise.all([freshNamespace(env, "informer-a"), freshNamespace(env, "informer-b")]);
    await Promise.all([createConfigMap(nsA, "keep", "1"), createConfigMap(nsA, "other", "1"), createConfigMap(nsB, "keep", "1")]);
    const cms = informer({ namespace: nsA, fieldSelector: "metadata.name=keep" });
    const events = recordEvents(cms);
    await cms.start();
    expect(cms.list().map((cm) => `${cm.metadata.namespace}/${cm.metadata.name}`)).to.deep.equal([`${nsA}/keep`]);

    const bump = (namespace: string, name: string) => core.patchNamespacedConfigMap({ namespace, name, body: [{ op: "replace", path: "/data/value", value: "2" }] });
    await Promise.all([bump(nsA, "other"), bump(nsB, "keep"), createConfigMap(nsA, "new", "1")]);
    await bump(nsA, "keep");
    await expectEventually(() => expect(events).to.deep.include(["update", `${nsA}/keep`, "2"]));
    expect(events).to.deep.equal([
      ["add", `${nsA}/keep`, "1"],
      ["update", `${nsA}/keep`, "2"],
    ]);
  });

  it("lists and watches a cluster-wide, cluster-scoped resource of an API group", async () => {
    const name = `informer-${Date.now()}`;
    await env.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name }, spec: { controllerName: "example.com/informer-test" } }));
    const classes = new Informer(kc, { group: "gateway.networking.k8s.io", version: "v1", plural: "gatewayclasses" }, log, { fieldSelector: `metadata.name=${name}` });
    const events: string[] = [];
    classes.onChange((event, obj) => events.push(`${event} ${obj.metadata.name}`));
    try {
      await classes.start();
      expect(classes.get("", name)).to.deep.include({ apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass" });
      expect(classes.get("", name)?.spec).to.deep.equal({ controllerName: "example.com/informer-test" });
      await env.kubectl(["delete", "gatewayclass", name]);
      await expectEventually(() => expect(events).to.deep.equal([`add ${name}`, `delete ${name}`]));
    } finally {
      classes.stop();
    }
  });

  it("keeps going when a handler throws", async () => {
    const ns = await freshNamespace(env, "informer-throw");
    const cms = informer({ namespace: ns });
    cms.onChange(() => {
      throw new Error("handler bug");
    });
    const events = recordEvents(cms);
    await cms.start();
    await createConfigMap(ns, "one", "1");
    await createConfigMap(ns, "two", "1");
    await expectEventually(() => expect(events.map(([event, name]) => `${event} ${name}`)).to.deep.equal([`add ${ns}/one`, `add ${ns}/two`]));
    expect(lines.filter((line) => line.msg === "informer handler failed" && line.name === "one")).to.have.length(1);
  });

  it("retries a list that fails, logging once, and rejects start() when stopped before its first list", async () => {
    const missing = new Informer(kc, { group: "example.invalid", version: "v1", plural: "nothings" }, log);
    const started = missing.start();
    const rejection = started.then(
      () => expect.fail("start() resolved"),
      (err: Error) => err,
    );
    await sleep(2_500); // 404, then retries after ~0.5 s, ~1 s, ...
    missing.stop();
    expect((await rejection).message).to.match(/stopped before its first list/);
    expect(missing.synced).to.equal(false);
    const about = lines.filter((line) => line.resource === "/apis/example.invalid/v1/nothings");
    expect(about.filter((line) => line.level === WARN)).to.have.length(1);
    expect(about.filter((line) => line.msg === "kube list/watch failed again").length).to.be.at.least(1);
  });
});
