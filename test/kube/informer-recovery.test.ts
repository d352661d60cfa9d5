// The informer across an API server restart (hack/envtest/restart-apiserver.sh; etcd keeps the data). After a
// restart the server's watch cache starts afresh, so the informer's resourceVersion is too old (410 Gone):
// it must list again, and an object deleted while the server was down (straight from etcd, so no watch event
// exists for it) must come out of that list as a delete event.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, type V1ConfigMap } from "@kubernetes/client-node";
import { expect } from "chai";
import { Informer, type KubeObject } from "../../internal/kube/informer.js";
import { kubeConfigOf, sharedEnvtest } from "../helpers/envtest.js";
import { capturingLogger, INFO, WARN } from "../helpers/logs.js";
import { expectEventually } from "../helpers/poll.js";
import { freshNamespace } from "../helpers/cluster-objects.js";

const run = promisify(execFile);
const restartScript = resolve(import.meta.dirname, "../../../hack/envtest/restart-apiserver.sh");

describe("kube Informer across an API server restart", function () {
  this.timeout(50_000);

  it("reconnects with backoff, lists again, and reports exactly what changed", async () => {
    const env = await sharedEnvtest();
    const kc = kubeConfigOf(env);
    const core = kc.makeApiClient(CoreV1Api);
    const { log, lines } = capturingLogger();
    const ns = await freshNamespace(env, "informer-restart");
    for (const name of ["survivor", "doomed"]) await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });

    const cms = new Informer<V1ConfigMap & KubeObject>(kc, { group: "", version: "v1", plural: "configmaps" }, log, { namespace: ns });
    const events: string[] = [];
    cms.onChange((event, cm) => events.push(`${event} ${cm.metadata.name}`));
    await cms.start();
    try {
      expect(events).to.have.members(["add survivor", "add doomed"]);

      // While the API server is down, remove "doomed" behind its back.
      await run("bash", [restartScript, env.dir, "sh", "-c", `etcdctl --endpoints "$ENVTEST_ETCD" del /registry/configmaps/${ns}/doomed`], { timeout: 40_000 });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "newcomer" } } });

      await expectEventually(() => expect(events).to.include.members(["delete doomed", "add newcomer"]), 20_000);
      expect(events).to.have.members(["add survivor", "add doomed", "delete doomed", "add newcomer"]);
      expect(cms.list().map((cm) => cm.metadata.name)).to.have.members(["survivor", "newcomer"]);

      const about = lines.filter((line) => line.resource === `/api/v1/namespaces/${ns}/configmaps`);
      expect(about.filter((line) => line.level === WARN).map((line) => line.msg)).to.deep.equal(["kube list/watch failed; retrying with backoff"]);
      expect(about.filter((line) => line.level === INFO).map((line) => line.msg)).to.deep.equal(["kube list/watch working again"]);
      expect(about.map((line) => line.msg)).to.include("kube watch expired; listing again");
    } finally {
      cms.stop();
    }
  });
});
