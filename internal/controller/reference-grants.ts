// Gateway API ReferenceGrant semantics: a reference into another namespace is allowed only when
// a grant in the target's namespace names the referring kind and namespace, and the target.

import type { ReferenceGrant } from "./resources.js";

export interface ReferenceFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface ReferenceTo {
  group: string;
  kind: string;
  name: string;
  namespace: string;
}

export function referenceAllowed(grants: ReferenceGrant[], from: ReferenceFrom, to: ReferenceTo): boolean {
  if (from.namespace === to.namespace) return true;
  return grants.some(
    (grant) =>
      grant.metadata.namespace === to.namespace &&
      grant.spec.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
      grant.spec.to.some((t) => t.group === to.group && (!t.kind || t.kind === to.kind) && (!t.name || t.name === to.name)),
  );
}
