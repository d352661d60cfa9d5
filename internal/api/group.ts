// The API group our resources live in, and the Gateway API group they point at.
export const GROUP = "mcp.kagenti.com";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
