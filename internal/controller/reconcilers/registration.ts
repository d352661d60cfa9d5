// MCPServerRegistration: a finalizer, so the broker stops serving a server before its
// registration goes; Ready from the broker's word on each server (or why it is not served: an
// unresolved route, a prefix conflict); with routeSelector one status.servers entry per selected
// route; a warning condition for tool names too long for common clients.
import type { Condition } from "../../api/condition.js";
import { GROUP } from "../../api/group.js";
import type { ServerStatus } from "../../api/mcp-server-registration.js";
import { MAX_CLIENT_NAME_LENGTH } from "../../contract/tool-names.js";
import type { Verdict } from "../cluster-view.js";
import { removeCondition, setCondition } from "../conditions.js";
import { validExtensions } from "../extension-validation.js";
import { resolveAll } from "../prefix-claims.js";
import { registrationReadiness, type Readiness } from "../registration-readiness.js";
import { RegistrationReason, type SelectedServer } from "../registration-resolution.js";
import { DONE, type ObjectRequest, type Result } from "../requests.js";
import { key, type MCPServerRegistration } from "../resources.js";
import { readyCondition } from "../status-writer.js";
import type { ReconcileContext, Reconciler } from "./reconciler.js";
import type { RegistriesReconciler } from "./registries.js";

export const FINALIZER = `${GROUP}/finalizer`;
export const TOOL_NAMES_CONDITION = "ToolNamesValid";
export const NO_MATCHING_ROUTES = "NoMatchingRoutes";

/** What the status says about the registration as a whole. */
interface Outcome {
  readiness: Readiness;
  servers?: ServerStatus[];
  readyServers?: string;
}

export class RegistrationReconciler implements Reconciler<ObjectRequest> {
  constructor(
    private readonly context: ReconcileContext,
    /** Run before a finalizer is removed: the registry must no longer hold the server. */
    private readonly registries: RegistriesReconciler,
  ) {}

  async reconcile({ namespace, name }: ObjectRequest): Promise<Result> {
    const { view, client, status } = this.context;
    const registration = view.registration(namespace, name);
    if (!registration) return DONE;
    const finalizers = registration.metadata.finalizers ?? [];
    if (registration.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return DONE;
      await this.registries.reconcile();
      await client.finalizers("MCPServerRegistration", registration, finalizers.filter((finalizer) => finalizer !== FINALIZER));
      return DONE;
    }
    if (!finalizers.includes(FINALIZER)) {
      await client.finalizers("MCPServerRegistration", registration, [...finalizers, FINALIZER]);
      return DONE; // the update comes back through the cache and is reconciled then
    }
    const { readiness, servers, readyServers } = this.outcome(registration);
    const generation = registration.metadata.generation;
    // A warning rides along as its own condition, so Ready keeps meaning "in use".
    const nameWarning = (conditions: Condition[] | undefined) =>
      readiness.longNames.length > 0
        ? setCondition(conditions, { type: TOOL_NAMES_CONDITION, status: "False", reason: "ToolNameTooLong", message: `tool names longer than ${MAX_CLIENT_NAME_LENGTH} characters break common clients: ${readiness.longNames.join(", ")}` }, generation)
        : removeCondition(conditions, TOOL_NAMES_CONDITION);
    await status.write("MCPServerRegistration", registration, { verdict: readiness, fields: { discoveredTools: readiness.discoveredTools ?? 0, transport: readiness.transport, protocolVersions: readiness.protocolVersions, servers, readyServers }, conditions: nameWarning });
    return DONE;
  }

  private outcome(registration: MCPServerRegistration): Outcome {
    const { view } = this.context;
    const registered = resolveAll(view, validExtensions(view)).get(key(registration.metadata));
    if (!registered) throw new Error(`registration ${key(registration.metadata)} not resolved`);
    if (registered.mode === "invalid") return { readiness: registrationReadiness(registered.resolution, view) };
    if (registered.mode === "target") {
      const readiness = registrationReadiness(registered.resolution, view);
      return { readiness, readyServers: `${readiness.ready ? 1 : 0}/1` };
    }
    const generation = registration.metadata.generation;
    const previous = new Map((registration.status?.servers ?? []).map((server) => [server.name, server]));
    const each = registered.servers.map((server) => ({ server, readiness: registrationReadiness(server.resolution, view) }));
    const servers = each.map(({ server, readiness }) => ({
      name: server.route,
      toolPrefix: server.toolPrefix,
      discoveredTools: readiness.discoveredTools ?? 0,
      ...(readiness.transport === undefined ? {} : { transport: readiness.transport }),
      ...(readiness.protocolVersions === undefined ? {} : { protocolVersions: readiness.protocolVersions }),
      conditions: setCondition(previous.get(server.route)?.conditions, readyCondition(readiness), generation),
    }));
    const ready = each.filter(({ readiness }) => readiness.ready).length;
    return {
      readiness: {
        ...summary(registration, each),
        discoveredTools: each.reduce((sum, { readiness }) => sum + (readiness.discoveredTools ?? 0), 0),
        longNames: each.flatMap(({ readiness }) => readiness.longNames),
      },
      servers,
      readyServers: `${ready}/${each.length}`,
    };
  }
}

/** Ready for a selecting registration: every selected server in use; otherwise which are not, and why. */
function summary(registration: MCPServerRegistration, each: Array<{ server: SelectedServer; readiness: Readiness }>): Verdict {
  if (each.length === 0) {
    return { ready: false, reason: NO_MATCHING_ROUTES, message: `no HTTPRoute in namespace ${registration.metadata.namespace} matches the routeSelector` };
  }
  const waiting = each.filter(({ readiness }) => !readiness.ready);
  if (waiting.length === 0) return { ready: true, reason: RegistrationReason.Ready, message: `all ${each.length} selected servers are ready` };
  const conflict = waiting.some(({ readiness }) => readiness.reason === RegistrationReason.PrefixConflict);
  return {
    ready: false,
    reason: conflict ? RegistrationReason.PrefixConflict : RegistrationReason.NotReady,
    message: `${each.length - waiting.length} of ${each.length} selected servers ready; ${waiting.map(({ server, readiness }) => `${server.route}: ${readiness.message}`).join("; ")}`,
  };
}

