// Where the kubeconfig comes from.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { loadKubeConfig } from "../../internal/kube/config.js";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://k8s.example.com:6443" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: ctx, context: { cluster: c, user: u } }]
current-context: ctx
`;

describe("kube loadKubeConfig", () => {
  const saved = process.env.KUBECONFIG;
  afterEach(() => {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });

  it("reads the file KUBECONFIG names", () => {
    const file = join(mkdtempSync(join(tmpdir(), "kubeconfig-")), "config");
    writeFileSync(file, KUBECONFIG);
    process.env.KUBECONFIG = file;
    expect(loadKubeConfig().getCurrentCluster()?.server).to.equal("https://k8s.example.com:6443");
  });

  it("fails loudly when KUBECONFIG names a missing file", () => {
    process.env.KUBECONFIG = "/nonexistent/kubeconfig";
    expect(() => loadKubeConfig()).to.throw();
  });
});
