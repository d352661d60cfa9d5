// Tool prefixes are unique and non-overlapping per broker (the registry of one extension
// namespace, whatever Gateways it serves): a prefix that starts another (so also two equal ones)
// would put one server's names into another's namespace. Two empty prefixes overlap; one empty
// prefix beside prefixed servers is allowed (the usual "one unprefixed server" setup), and a name
// clash it still allows is the broker's to settle by the registry's order, which is claim order. The
// conflict is resolved from configuration alone, never from which server became ready first:
// servers claim their prefixes in the order their registrations were created (then by
// namespace/name; a selecting registration's routes by their age), and a server whose prefix
// overlaps one claimed earlier is refused while the clash lasts.
import type { ClusterView } from "./cluster-view.js";
import { RegistrationReason, resolveRegistered, type Registered, type Resolution } from "./registration-resolution.js";
import { key, olderFirst, type MCPGatewayExtension, type MCPServerRegistration } from "./resources.js";

interface Claim {
  prefix: string;
  namespaces: string[];
  holder: string;
}

function overlaps(a: string, b: string): boolean {
  if (a === "" || b === "") return a === b;
  return a.startsWith(b) || b.startsWith(a);
}

/** Every registration (by NAMESPACE/NAME) that is not being deleted, resolved, with prefix conflicts turned into refusals. */
export function resolveAll(view: ClusterView, validExtensions: MCPGatewayExtension[]): Map<string, Registered> {
  const claims: Claim[] = [];
  const claim = (resolution: Resolution, holder: string): Resolution => {
    if (!resolution.ok) return resolution;
    const prefix = resolution.server.toolPrefix;
    const rival = claims.find((other) => other.namespaces.some((namespace) => resolution.namespaces.includes(namespace)) && overlaps(other.prefix, prefix));
    if (rival) {
      return {
        ok: false,
        reason: RegistrationReason.PrefixConflict,
        message: `tool prefix "${prefix}" overlaps the prefix "${rival.prefix}" of ${rival.holder}, registered first (by creation time, then namespace/name); prefixes on one gateway must not start one another, so this server is not served until one of them changes`,
      };
    }
    claims.push({ prefix, namespaces: resolution.namespaces, holder });
    return resolution;
  };
  const resolved = new Map<string, Registered>();
  const registrations = view.registrations().filter((registration: MCPServerRegistration) => !registration.metadata.deletionTimestamp);
  for (const registration of registrations.sort(olderFirst)) {
    const registered = resolveRegistered(registration, view, validExtensions);
    const holder = `MCPServerRegistration ${key(registration.metadata)}`;
    resolved.set(
      key(registration.metadata),
      registered.mode === "selector"
        ? { mode: "selector", servers: registered.servers.map((server) => ({ ...server, resolution: claim(server.resolution, `${holder} (HTTPRoute ${server.route})`) })) }
        : { mode: registered.mode, resolution: claim(registered.resolution, holder) },
    );
  }
  return resolved;
}

/** The resolutions of every server that is served, in claim order (oldest registration first). */
export function servedResolutions(resolved: Map<string, Registered>): Resolution[] {
  return [...resolved.values()].flatMap((registered) => (registered.mode === "selector" ? registered.servers.map((server) => server.resolution) : [registered.resolution])).filter((resolution) => resolution.ok);
}
