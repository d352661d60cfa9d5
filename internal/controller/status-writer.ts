// Writes our resources' status the Kubernetes way: through the status subresource, Ready set from
// the reconciler's verdict with the conventions of conditions.ts, observedGeneration saying which
// spec the status speaks of, and nothing written when nothing changed (a restart over an unchanged
// cluster writes nothing). A change of Ready is also an Event, the trail `kubectl describe` shows.
import { isDeepStrictEqual } from "node:util";
import type { Condition } from "../api/condition.js";
import type { OwnKind } from "../api/resources.js";
import type { Verdict } from "./cluster-view.js";
import { findCondition, setCondition } from "./conditions.js";
import type { OwnResource } from "./resources.js";
import type { ClusterWriter } from "./writers.js";

export const READY = "Ready";

export interface StatusUpdate {
  verdict: Verdict;
  /** Status fields besides conditions and observedGeneration; an undefined one is removed. */
  fields?: Record<string, unknown>;
  /** The other conditions, from the current ones. */
  conditions?: (current: Condition[] | undefined) => Condition[] | undefined;
}

/** The Ready condition a verdict means. */
export function readyCondition(verdict: Verdict): { type: string; status: "True" | "False"; reason: string; message: string } {
  return { type: READY, status: verdict.ready ? "True" : "False", reason: verdict.reason, message: verdict.message };
}

export class StatusWriter {
  constructor(private readonly client: ClusterWriter) {}

  /** Writes the status if anything in it changed; true when it wrote. */
  async write(kind: OwnKind, object: OwnResource, update: StatusUpdate): Promise<boolean> {
    const generation = object.metadata.generation;
    const current = object.status as ({ conditions?: Condition[] } & Record<string, unknown>) | undefined;
    const previous = findCondition(current?.conditions, READY);
    const ready = readyCondition(update.verdict);
    const others = update.conditions ? update.conditions(current?.conditions) : current?.conditions;
    const merged: Record<string, unknown> = { ...current, ...update.fields, conditions: setCondition(others, ready, generation), observedGeneration: generation };
    const status = Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
    // The API server returns keys in its own order: compare values, not serializations.
    if (isDeepStrictEqual(status, current)) return false;
    await this.client.status(kind, object, status);
    if (previous?.status !== ready.status || previous.reason !== ready.reason || previous.message !== ready.message) {
      this.client.event(object, update.verdict.ready ? "Normal" : "Warning", ready.reason, ready.message);
    }
    return true;
  }
}
