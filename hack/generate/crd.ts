// One CustomResourceDefinition per resource in internal/api/resources.ts.
import { API_VERSION, GROUP, VERSION } from "../../internal/api/group.js";
import type { ResourceDefinition } from "../../internal/api/resources.js";
import { type Schema, sortKeys, structuralSchema } from "./structural.js";

export const CATEGORIES = ["mcp"];

export function crdName(resource: ResourceDefinition): string {
  return `${resource.plural}.${GROUP}`;
}

export function crdFileName(resource: ResourceDefinition): string {
  return `${GROUP}_${resource.plural}.yaml`;
}

/** The whole openAPIV3Schema of a resource: the usual apiVersion/kind/metadata, then spec (required) and status. */
export function resourceSchema(resource: ResourceDefinition): Schema {
  const spec = structuralSchema(resource.spec, `${resource.kind}.spec`);
  const status = structuralSchema(resource.status, `${resource.kind}.status`);
  return {
    description: resource.description,
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: {
        description: `APIVersion defines the versioned schema of this representation of an object: ${API_VERSION}.`,
        type: "string",
      },
      kind: {
        description: `Kind is the REST resource this object represents: ${resource.kind}.`,
        type: "string",
      },
      metadata: { type: "object" },
      spec: { description: `Desired state of the ${resource.kind}.`, ...spec },
      status: { description: `Observed state of the ${resource.kind}, written by the controller.`, ...status },
    },
  };
}

export function customResourceDefinition(resource: ResourceDefinition): Schema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(resource) },
    spec: {
      group: GROUP,
      names: {
        categories: CATEGORIES,
        kind: resource.kind,
        listKind: `${resource.kind}List`,
        plural: resource.plural,
        shortNames: resource.shortNames,
        singular: resource.singular,
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: resource.columns.map((column) => ({
            name: column.name,
            type: column.type,
            jsonPath: column.jsonPath,
            ...(column.description === undefined ? {} : { description: column.description }),
            ...(column.priority ? { priority: column.priority } : {}),
          })),
          schema: { openAPIV3Schema: sortKeys(resourceSchema(resource)) },
          subresources: { status: {} },
        },
      ],
    },
  };
}
