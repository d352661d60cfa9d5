// The shared envtest API server as the operator's binaries meet it: the RBAC of manifests/ applied,
// and a kubeconfig per ServiceAccount (so a test that passes proves those rules are enough).
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { kubeConfigOf, sharedEnvtest, type Envtest } from "./envtest.js";

const repoRoot = resolve(import.meta.dirname, "../../..");
const restartApiserverScript = join(repoRoot, "hack/envtest/restart-apiserver.sh");
const manifestsDir = join(repoRoot, "manifests");

// Names manifests/ gives the operator's identities.
export const SYSTEM_NAMESPACE = "mcp-system";
export const CONTROLLER_SA = "mcp-gateway-controller";
export const BROKER_SA = "mcp-gateway-broker-router";
export const BROKER_CLUSTER_ROLE = "mcp-gateway-broker-router";
export const LEASE_NAME = "mcp-gateway-controller";

/** The kinds of manifests/ that make up identities and permissions (not the Deployments and Services). */
const RBAC_KINDS = new Set(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);

export interface OperatorEnv {
  env: Envtest;
  kubectl: Envtest["kubectl"];
  /** Admin client, for reading objects quickly in polls and watches. */
  kc: KubeConfig;
  custom: CustomObjectsApi;
  /** Kubeconfigs holding a token of the controller's / broker's ServiceAccount. */
  controllerKubeconfig: string;
  brokerKubeconfig: string;
}

let installed: Promise<OperatorEnv> | undefined;

/** The shared envtest with the RBAC of manifests/ applied and a kubeconfig per ServiceAccount; once per process. */
export function operatorEnv(): Promise<OperatorEnv> {
  installed ??= install();
  return installed;
}

/** The Namespace, ServiceAccounts, (Cluster)Roles and bindings in manifests/*.yaml, as YAML documents. */
export function rbacManifests(): string[] {
  const documents: Array<{ kind: string; text: string }> = [];
  for (const file of readdirSync(manifestsDir).filter((name) => /\.ya?ml$/.test(name) && name !== "kustomization.yaml").sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(manifestsDir, file), "utf8"))) {
      const object = doc.toJS() as { kind?: string } | null;
      if (object?.kind && RBAC_KINDS.has(object.kind)) documents.push({ kind: object.kind, text: doc.toString() });
    }
  }
  // Namespaces first, so that one apply can create what goes into them.
  return [...documents.filter((d) => d.kind === "Namespace"), ...documents.filter((d) => d.kind !== "Namespace")].map((d) => d.text);
}

async function install(): Promise<OperatorEnv> {
  const env = await sharedEnvtest();
  await env.kubectl(["apply", "-f", "-"], rbacManifests().join("---\n"));
  const kubeconfigFor = async (serviceAccount: string): Promise<string> => {
    const token = (await env.kubectl(["create", "token", serviceAccount, "-n", SYSTEM_NAMESPACE, "--duration", "2h"])).trim();
    const path = join(env.dir, `kubeconfig-${serviceAccount}`);
    writeFileSync(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: envtest",
        "  cluster:",
        `    server: ${env.server}`,
        `    certificate-authority: ${env.caFile}`,
        "users:",
        `- name: ${serviceAccount}`,
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: envtest",
        "  context:",
        "    cluster: envtest",
        `    user: ${serviceAccount}`,
        "current-context: envtest",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    return path;
  };
  const [controllerKubeconfig, brokerKubeconfig] = await Promise.all([kubeconfigFor(CONTROLLER_SA), kubeconfigFor(BROKER_SA)]);
  const kc = kubeConfigOf(env);
  return { env, kubectl: env.kubectl, kc, custom: kc.makeApiClient(CustomObjectsApi), controllerKubeconfig, brokerKubeconfig };
}

/**
 * Runs hack/envtest/restart-apiserver.sh on the shared envtest; resolves (with the script's log) once the new API
 * server is ready. The old one gets SIGTERM and, after graceSeconds, SIGKILL: with clients holding watches open
 * kube-apiserver does not finish its graceful shutdown within the script's default 10 s.
 */
export function restartApiserver(op: OperatorEnv, graceSeconds = 3): Promise<string> {
  return new Promise((done, reject) => {
    execFile("bash", [restartApiserverScript, op.env.dir], { timeout: 120_000, env: { ...process.env, ENVTEST_STOP_GRACE: String(graceSeconds) } }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : done(stderr),
    );
  });
}
