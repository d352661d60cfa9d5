// What the kube plumbing works on: any object with metadata, of any resource, addressed by group/version/plural
// so that core types, Gateway API types and our own CRDs take the same code path.
import type { V1ObjectMeta } from "@kubernetes/client-node";

export interface ResourceType {
  /** "" for the core group (ConfigMap, Secret, Service, ...). */
  group: string;
  version: string;
  /** The lower-case plural of the REST path, e.g. "configmaps", "httproutes". */
  plural: string;
}

/**
 * What the cache needs of an object. Looser than KubeObject, so that client-node's model classes (V1Secret, ...
 * with metadata made required) fit as well: being classes, they have no index signature.
 */
export interface ObjectWithMetadata {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
}

export type KubeObject = { apiVersion?: string; kind?: string; metadata: V1ObjectMeta; [key: string]: unknown };

/** The REST collection path, e.g. /api/v1/namespaces/ns/configmaps or /apis/gateway.networking.k8s.io/v1/httproutes. */
export function resourcePath(resource: ResourceType, namespace?: string): string {
  const groupVersion = resource.group === "" ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${groupVersion}${scope}/${resource.plural}`;
}
