// metav1.Condition, as every Kubernetes status uses it (KEP-1623).
import { z } from "zod";

export const ConditionSchema = z.object({
  type: z.string().min(1).max(316).meta({ description: "Type of condition in CamelCase, e.g. Ready." }),
  status: z.enum(["True", "False", "Unknown"]).meta({ description: "Status of the condition." }),
  observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation the condition was set for." }),
  lastTransitionTime: z.string().meta({ description: "Last time the condition's status changed (RFC 3339)." }),
  reason: z.string().min(1).max(1024).meta({ description: "Machine-readable reason for the last transition, in CamelCase." }),
  message: z.string().max(32768).meta({ description: "Human-readable details of the last transition." }),
});

export type Condition = z.infer<typeof ConditionSchema>;

export const ConditionsSchema = z.array(ConditionSchema).meta({
  description: "Current state of the resource; Ready says whether it is in use.",
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
});
