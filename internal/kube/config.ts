// Which cluster the operator talks to: an explicit KUBECONFIG wins (local runs, tests), then the pod's
// ServiceAccount (in-cluster), then the usual ~/.kube/config.
import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  if (!process.env.KUBECONFIG && runningInPod()) {
    kc.loadFromCluster();
  } else {
    // Reads KUBECONFIG (a path list, merged like kubectl does) when set, else ~/.kube/config.
    kc.loadFromDefault();
  }
  return kc;
}

function runningInPod(): boolean {
  return process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(SERVICE_ACCOUNT_TOKEN);
}
