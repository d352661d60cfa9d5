// Label selector semantics (metav1.LabelSelector): matchLabels and every matchExpressions entry
// must hold; an empty selector selects everything.
import type { LabelSelector } from "../api/label-selector.js";

export function selects(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  const matchLabels = Object.entries(selector.matchLabels ?? {}).every(([label, value]) => labels[label] === value);
  return (
    matchLabels &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const present = Object.hasOwn(labels, key);
      if (operator === "Exists") return present;
      if (operator === "DoesNotExist") return !present;
      const listed = present && values.includes(labels[key]!);
      return operator === "In" ? listed : !listed;
    })
  );
}
