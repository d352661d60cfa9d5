// A watch on which nothing happens: the API server sends nothing, and client-node's Watch aborts a request
// that received nothing for 30 s. The informer has the server end its watches before that and watches again;
// this checks that a quiet half minute passes without a failure and without missing what comes after.
import { CoreV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { Informer } from "../../internal/kube/informer.js";
import { kubeConfigOf, sharedEnvtest } from "../helpers/envtest.js";
import { capturingLogger, WARN } from "../helpers/logs.js";
import { expectEventually, sleep } from "../helpers/poll.js";
import { freshNamespace } from "../helpers/cluster-objects.js";

describe("kube Informer on a quiet resource", function () {
  this.timeout(50_000);

  it("outlives the 30 s idle limit of client-node's Watch", async () => {
    const env = await sharedEnvtest();
    const kc = kubeConfigOf(env);
    const { log, lines } = capturingLogger();
    const ns = await freshNamespace(env, "informer-quiet");
    const cms = new Informer(kc, { group: "", version: "v1", plural: "configmaps" }, log, { namespace: ns });
    const events: string[] = [];
    cms.onChange((event, cm) => events.push(`${event} ${cm.metadata.name}`));
    await cms.start();
    try {
      await sleep(32_000);
      await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "late" } } });
      await expectEventually(() => expect(events).to.deep.equal(["add late"]), 2_000);
      expect(lines.filter((line) => line.level >= WARN)).to.deep.equal([]);
    } finally {
      cms.stop();
    }
  });
});
