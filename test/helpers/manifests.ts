// The YAML of the objects operator tests create: Gateway API objects, our own resources, and the
// Services that point a route at a fixture on loopback. Text only; applying it is cluster-objects.ts'.
import { API_VERSION, GATEWAY_API_GROUP, GROUP } from "../../internal/api/group.js";

export interface ListenerSpec {
  name: string;
  from?: "All" | "Same";
}

export function gatewayYaml(namespace: string, name: string, listeners: ListenerSpec[] = [{ name: "mcp", from: "All" }]): string {
  return `apiVersion: ${GATEWAY_API_GROUP}/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  gatewayClassName: example
  listeners:
${listeners.map((listener, i) => `    - name: ${listener.name}\n      port: ${8080 + i}\n      protocol: HTTP\n      allowedRoutes:\n        namespaces:\n          from: ${listener.from ?? "All"}`).join("\n")}
`;
}

export function extensionYaml(namespace: string, name: string, gateway: { namespace: string; name: string; sectionName?: string }): string {
  return `apiVersion: ${API_VERSION}
kind: MCPGatewayExtension
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  targetRef:
    group: ${GATEWAY_API_GROUP}
    kind: Gateway
    name: ${gateway.name}
    namespace: ${gateway.namespace}${gateway.sectionName ? `\n    sectionName: ${gateway.sectionName}` : ""}
`;
}

export function extensionGrantYaml(gatewayNamespace: string, name: string, fromNamespace: string): string {
  return `apiVersion: ${GATEWAY_API_GROUP}/v1beta1
kind: ReferenceGrant
metadata:
  name: ${name}
  namespace: ${gatewayNamespace}
spec:
  from:
    - group: ${GROUP}
      kind: MCPGatewayExtension
      namespace: ${fromNamespace}
  to:
    - group: ${GATEWAY_API_GROUP}
      kind: Gateway
`;
}

/** A Service that resolves to http://localhost:PORT: how a test points a route at a fixture on loopback. */
export function externalNameServiceYaml(namespace: string, name: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  type: ExternalName
  externalName: localhost
  ports:
    - name: http
      port: ${port}
`;
}

export function routeYaml(namespace: string, name: string, gateway: { namespace: string; name: string }, hostname: string, service: string, port: number): string {
  return `apiVersion: ${GATEWAY_API_GROUP}/v1
kind: HTTPRoute
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  parentRefs:
    - name: ${gateway.name}
      namespace: ${gateway.namespace}
  hostnames:
    - ${hostname}
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /
      backendRefs:
        - name: ${service}
          port: ${port}
`;
}

export interface RegistrationOptions {
  toolPrefix?: string;
  credentialRef?: { name: string; key?: string };
  routeNamespace?: string;
}

export function registrationYaml(namespace: string, name: string, route: string, options: RegistrationOptions = {}): string {
  const lines = [`apiVersion: ${API_VERSION}`, "kind: MCPServerRegistration", "metadata:", `  name: ${name}`, `  namespace: ${namespace}`, "spec:"];
  if (options.toolPrefix !== undefined) lines.push(`  toolPrefix: ${JSON.stringify(options.toolPrefix)}`);
  lines.push("  targetRef:", `    group: ${GATEWAY_API_GROUP}`, "    kind: HTTPRoute", `    name: ${route}`);
  if (options.routeNamespace) lines.push(`    namespace: ${options.routeNamespace}`);
  if (options.credentialRef) {
    lines.push("  credentialRef:", `    name: ${options.credentialRef.name}`);
    if (options.credentialRef.key) lines.push(`    key: ${options.credentialRef.key}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A registration of every HTTPRoute of its namespace that carries these labels (spec.routeSelector). */
export function selectorRegistrationYaml(namespace: string, name: string, matchLabels: Record<string, string>, options: Pick<RegistrationOptions, "toolPrefix"> = {}): string {
  return `${JSON.stringify({
    apiVersion: API_VERSION,
    kind: "MCPServerRegistration",
    metadata: { name, namespace },
    spec: { routeSelector: { matchLabels }, ...(options.toolPrefix === undefined ? {} : { toolPrefix: options.toolPrefix }) },
  })}\n`;
}

export function virtualServerYaml(namespace: string, name: string, tools: string[], description = "tools for a test"): string {
  return `apiVersion: ${API_VERSION}
kind: MCPVirtualServer
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  description: ${JSON.stringify(description)}
  tools:
${tools.map((tool) => `    - ${tool}`).join("\n")}
`;
}
