// What the kube plumbing works on: any object with metadata, of any resource, addressed by group/version/plural
// so that core types, Gateway API types and our own CRDs take the same code path.

export interface ResourceType {
  /** "" for the core group (ConfigMap, Secret, Service, ...). */
  group: string;
  version: string;
  /** The lower-case plural of the REST path, e.g. "configmaps", "httproutes". */
  plural: string;
}

/** metav1.ObjectMeta as it arrives on the wire (JSON: timestamps are RFC 3339 strings), to the fields we read. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * What the cache and the event recorder need of an object: the address fields only, so that our resource
 * types and client-node's model classes (V1Secret, ... whose metadata is optional and typed with Dates) fit alike.
 */
export interface ObjectWithMetadata {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** An object of a resource the code has no type for. */
export type KubeObject = { apiVersion?: string; kind?: string; metadata: ObjectMeta; [key: string]: unknown };

/** The REST collection path, e.g. /api/v1/namespaces/ns/configmaps or /apis/gateway.networking.k8s.io/v1/httproutes. */
export function resourcePath(resource: ResourceType, namespace?: string): string {
  const groupVersion = resource.group === "" ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${groupVersion}${scope}/${resource.plural}`;
}
