// What the local stack puts in its API server besides the seed guide's extension and
// ReferenceGrant (applied from config/samples): a `local` Gateway, and sample servers registered
// the way a platform team registers theirs. Backends are ExternalName Services pointing at loopback.
import { LOCAL_GATEWAY_CLASS } from "./gateway-standin.js";

export interface SampleServer {
  name: string;
  port: number;
  /** Registered by the stack under this prefix; unregistered samples only back the seed's documents. */
  toolPrefix?: string;
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
apiVersion: mcp.kagenti.com/v1alpha1
kind: MCPServerRegistration
metadata:
  name: ${sample.name}
  namespace: mcp-test
spec:
  toolPrefix: ${sample.toolPrefix}
  targetRef:
    name: ${sample.name}-route
`;
}

export function stackResources(samples: SampleServer[]): string {
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
    ...samples.map(backend),
    ...samples.filter((sample) => sample.toolPrefix !== undefined).map(registration),
  ];
  return documents.join("---\n");
}
