// What the local stack puts in its API server besides the seed guide's extension and
// ReferenceGrant (applied from config/samples): a `local` Gateway, and sample servers registered
// the way a platform team registers theirs, with the objects they name. Backends are
// ExternalName Services pointing at loopback.
import { stringify } from "yaml";
import { LOCAL_GATEWAY_CLASS } from "./gateway-standin.js";

export interface SampleServer {
  name: string;
  port: number;
  /** Registered by the stack under this prefix; unregistered samples only back the seed's documents. */
  toolPrefix?: string;
  /** The registration's other spec fields, e.g. transport and path for a legacy SSE or an OpenAPI server. */
  spec?: Record<string, unknown>;
}

function backend(sample: SampleServer): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${sample.name}
  namespace: mcp-test
spec:
  type: ExternalName
  externalName: localhost
  ports:
  - name: mcp
    port: ${sample.port}
`;
}

function registration(sample: SampleServer): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${sample.name}-route
  namespace: mcp-test
spec:
  parentRefs:
  - name: mcp-gateway
    namespace: gateway-system
  hostnames:
  - ${sample.name}.mcp.local
  rules:
  - backendRefs:
    - name: ${sample.name}
      port: ${sample.port}
---
${stringify({
  apiVersion: "mcp.kagenti.com/v1alpha1",
  kind: "MCPServerRegistration",
  metadata: { name: sample.name, namespace: "mcp-test" },
  spec: { toolPrefix: sample.toolPrefix, targetRef: { name: `${sample.name}-route` }, ...sample.spec },
})}`;
}

/** `objects`: what registrations name besides their routes (an OpenAPI document's ConfigMap, a credential's Secret), as API objects. */
export function stackResources(samples: SampleServer[], objects: Array<Record<string, unknown>> = []): string {
  const documents = [
    `apiVersion: v1
kind: Namespace
metadata:
  name: gateway-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: mcp-test
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: ${LOCAL_GATEWAY_CLASS}
spec:
  controllerName: mcp-gateway.local/stand-in
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: mcp-gateway
  namespace: gateway-system
spec:
  gatewayClassName: ${LOCAL_GATEWAY_CLASS}
  listeners:
  - name: http
    protocol: HTTP
    port: 8001
    allowedRoutes:
      namespaces:
        from: All

`,
    ...objects.map((object) => stringify(object)),
    ...samples.map(backend),
    ...samples.filter((sample) => sample.toolPrefix !== undefined).map(registration),
  ];
  return documents.join("---\n");
}
