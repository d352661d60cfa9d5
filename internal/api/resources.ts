// The three custom resources: names, printer columns and schemas, from which the CRDs are generated.
import type { z } from "zod";
import { MCPGatewayExtensionSpecSchema, MCPGatewayExtensionStatusSchema } from "./mcp-gateway-extension.js";
import { MCPServerRegistrationSpecSchema, MCPServerRegistrationStatusSchema } from "./mcp-server-registration.js";
import { MCPVirtualServerSpecSchema, MCPVirtualServerStatusSchema } from "./mcp-virtual-server.js";

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "date";
  jsonPath: string;
  description?: string;
  /** 0 (default): in `kubectl get`; 1: only with `-o wide`. */
  priority?: 0 | 1;
}

export interface ResourceDefinition<Kind extends string = string> {
  kind: Kind;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
}

const READY: PrinterColumn = { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: "Whether the resource is in use" };
const AGE: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

export const MCP_GATEWAY_EXTENSION: ResourceDefinition<"MCPGatewayExtension"> = {
  kind: "MCPGatewayExtension",
  plural: "mcpgatewayextensions",
  singular: "mcpgatewayextension",
  shortNames: ["mcpgwext"],
  description: "Tells the MCP gateway controller which Gateway this MCP gateway instance serves.",
  spec: MCPGatewayExtensionSpecSchema,
  status: MCPGatewayExtensionStatusSchema,
  columns: [READY, AGE],
};

export const MCP_SERVER_REGISTRATION: ResourceDefinition<"MCPServerRegistration"> = {
  kind: "MCPServerRegistration",
  plural: "mcpserverregistrations",
  singular: "mcpserverregistration",
  shortNames: ["mcpsr"],
  description: "Registers the MCP server behind an HTTPRoute, or every HTTPRoute a label selector picks, with the MCP gateway.",
  spec: MCPServerRegistrationSpecSchema,
  status: MCPServerRegistrationStatusSchema,
  columns: [
    { name: "Prefix", type: "string", jsonPath: ".spec.toolPrefix", description: "Prefix of the server's tools" },
    { name: "Target", type: "string", jsonPath: ".spec.targetRef.name", description: "The HTTPRoute" },
    { name: "Path", type: "string", jsonPath: ".spec.path", description: "Path of the MCP endpoint" },
    READY,
    { name: "Tools", type: "integer", jsonPath: ".status.discoveredTools", description: "Tools discovered" },
    { name: "Credentials", type: "string", jsonPath: ".spec.credentialRef.name", description: "Secret with the server's credential" },
    AGE,
    { name: "Servers", type: "string", jsonPath: ".status.readyServers", description: "Servers in use of those registered (one per selected HTTPRoute)", priority: 1 },
    { name: "Selector", type: "string", jsonPath: ".spec.routeSelector", description: "The label selector picking HTTPRoutes", priority: 1 },
    { name: "Transport", type: "string", jsonPath: ".status.transport", description: "The transport the broker talks to the server (for auto: the one detected)", priority: 1 },
    { name: "Protocol", type: "string", jsonPath: ".status.protocolVersions", description: "The MCP revisions the broker speaks with the server, newest first", priority: 1 },
  ],
};

export const MCP_VIRTUAL_SERVER: ResourceDefinition<"MCPVirtualServer"> = {
  kind: "MCPVirtualServer",
  plural: "mcpvirtualservers",
  singular: "mcpvirtualserver",
  shortNames: ["mcpvs"],
  description: "A named subset of the gateway's tools that clients select with the X-Mcp-Virtualserver header.",
  spec: MCPVirtualServerSpecSchema,
  status: MCPVirtualServerStatusSchema,
  columns: [READY, AGE],
};

/** The kinds of our own resources. */
export type OwnKind = typeof MCP_GATEWAY_EXTENSION.kind | typeof MCP_SERVER_REGISTRATION.kind | typeof MCP_VIRTUAL_SERVER.kind;

export const RESOURCES: Array<ResourceDefinition<OwnKind>> = [MCP_GATEWAY_EXTENSION, MCP_SERVER_REGISTRATION, MCP_VIRTUAL_SERVER];

export const RESOURCE_OF: Record<OwnKind, ResourceDefinition<OwnKind>> = {
  MCPGatewayExtension: MCP_GATEWAY_EXTENSION,
  MCPServerRegistration: MCP_SERVER_REGISTRATION,
  MCPVirtualServer: MCP_VIRTUAL_SERVER,
};
