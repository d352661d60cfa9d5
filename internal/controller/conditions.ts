// Kubernetes API conventions for conditions: one entry per type, lastTransitionTime moves only
// when the status changes, observedGeneration says which spec the condition speaks of.
import type { Condition } from "../api/condition.js";

export interface DesiredCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/** The conditions after setting `desired`, keeping the others and the transition time when the status holds. */
export function setCondition(current: Condition[] | undefined, desired: DesiredCondition, generation: number | undefined, now: Date = new Date()): Condition[] {
  const previous = current?.find((condition) => condition.type === desired.type);
  const next: Condition = {
    ...desired,
    // Absent rather than undefined, so a condition compares equal to itself after a round trip through JSON.
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    lastTransitionTime: previous && previous.status === desired.status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  return [...(current ?? []).filter((condition) => condition.type !== desired.type), next].sort((a, b) => a.type.localeCompare(b.type));
}

export function removeCondition(current: Condition[] | undefined, type: string): Condition[] {
  return (current ?? []).filter((condition) => condition.type !== type);
}

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}
