// metav1.LabelSelector, as Deployments, NetworkPolicies and Gateway listeners take it.
import { z } from "zod";

export const LabelSelectorRequirementSchema = z.object({
  key: z.string().min(1).max(317).meta({ description: "The label key the requirement applies to." }),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).meta({ description: "How the key's value is matched: In, NotIn, Exists or DoesNotExist." }),
  values: z.array(z.string().max(63)).max(64).optional().meta({ description: "Values for In and NotIn (at least one); empty for Exists and DoesNotExist." }),
});

export const LabelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string().max(63)).optional().meta({ description: "Labels an object must carry with exactly these values." }),
    matchExpressions: z.array(LabelSelectorRequirementSchema).max(16).optional().meta({ description: "Requirements an object's labels must all meet." }),
  })
  .meta({
    description: "A Kubernetes label selector; its requirements are ANDed. An empty selector selects everything.",
    "x-kubernetes-validations": [
      {
        rule: "!has(self.matchExpressions) || self.matchExpressions.all(e, (e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0))",
        message: "In and NotIn need values; Exists and DoesNotExist take none",
      },
    ],
  });

export type LabelSelector = z.infer<typeof LabelSelectorSchema>;
