// Is an MCPGatewayExtension usable? Its Gateway (and listener) must exist and accept routes from
// the extension's namespace, a cross-namespace reference needs a ReferenceGrant, and only the
// oldest extension may claim a Gateway. Its protected-resource URLs must parse: the broker would
// refuse a registry carrying one that does not.
import { GATEWAY_API_GROUP, GROUP } from "../api/group.js";
import { OAuthProtectedResourceSchema } from "../contract/oauth-protected-resource.js";
import type { ClusterView, Verdict } from "./cluster-view.js";
import { selects } from "./label-selector.js";
import { referenceAllowed } from "./reference-grants.js";
import { key, olderFirst, type Listener, type MCPGatewayExtension } from "./resources.js";

export const ExtensionReason = {
  Valid: "ValidMCPGatewayExtension",
  Invalid: "InvalidMCPGatewayExtension",
  ReferenceGrantRequired: "ReferenceGrantRequired",
} as const;

export function gatewayKeyOf(extension: MCPGatewayExtension): string {
  return `${extension.spec.targetRef.namespace ?? extension.metadata.namespace}/${extension.spec.targetRef.name}`;
}

function invalid(message: string): Verdict {
  return { ready: false, reason: ExtensionReason.Invalid, message };
}

function listenerAllows(listener: Listener, gatewayNamespace: string, namespace: string, view: ClusterView): boolean {
  const allowed = listener.allowedRoutes?.namespaces;
  const from = allowed?.from ?? "Same";
  if (from === "All") return true;
  if (from === "Same") return namespace === gatewayNamespace;
  return selects(allowed?.selector ?? {}, view.namespace(namespace)?.metadata.labels);
}

/** The CRD's patterns catch most bad URLs on apply; this catches the rest (e.g. a port above 65535). */
function protectedResourceProblem(extension: MCPGatewayExtension): string | undefined {
  const parsed = OAuthProtectedResourceSchema.optional().safeParse(extension.spec.oauthProtectedResource);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return `spec.oauthProtectedResource.${issue?.path.join(".")}: ${issue?.message}`;
}

export function validateExtension(extension: MCPGatewayExtension, view: ClusterView): Verdict {
  const problem = protectedResourceProblem(extension);
  if (problem) return invalid(problem);
  const namespace = extension.metadata.namespace ?? "";
  const target = extension.spec.targetRef;
  const gatewayNamespace = target.namespace ?? namespace;
  const gatewayName = `${gatewayNamespace}/${target.name}`;
  const granted = referenceAllowed(
    view.referenceGrants(),
    { group: GROUP, kind: "MCPGatewayExtension", namespace },
    { group: GATEWAY_API_GROUP, kind: "Gateway", name: target.name, namespace: gatewayNamespace },
  );
  if (!granted) {
    return {
      ready: false,
      reason: ExtensionReason.ReferenceGrantRequired,
      message: `a ReferenceGrant in namespace ${gatewayNamespace} must allow MCPGatewayExtension from namespace ${namespace} to reference Gateway ${target.name}`,
    };
  }
  const gateway = view.gateway(gatewayNamespace, target.name);
  if (!gateway) return invalid(`Gateway ${gatewayName} not found`);
  const listeners = (gateway.spec.listeners ?? []).filter((listener) => !target.sectionName || listener.name === target.sectionName);
  if (listeners.length === 0) return invalid(target.sectionName ? `listener ${target.sectionName} not found on Gateway ${gatewayName}` : `Gateway ${gatewayName} has no listeners`);
  if (!listeners.some((listener) => listenerAllows(listener, gatewayNamespace, namespace, view))) {
    return invalid(`listener ${target.sectionName ?? "(any)"} of Gateway ${gatewayName} does not allow routes from namespace ${namespace}`);
  }
  const rival = view
    .extensions()
    .filter((other) => other.metadata.uid !== extension.metadata.uid && !other.metadata.deletionTimestamp && gatewayKeyOf(other) === gatewayName)
    .find((other) => olderFirst(other, extension) < 0);
  if (rival) return invalid(`conflict: Gateway ${gatewayName} is already targeted by MCPGatewayExtension ${key(rival.metadata)}`);
  return { ready: true, reason: ExtensionReason.Valid, message: `serving Gateway ${gatewayName}` };
}

/** The extensions in use: valid and not being deleted. */
export function validExtensions(view: ClusterView): MCPGatewayExtension[] {
  return view.extensions().filter((extension) => !extension.metadata.deletionTimestamp && validateExtension(extension, view).ready);
}
