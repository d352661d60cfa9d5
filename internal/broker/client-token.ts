// Which Authorization an upstream gets of the client's: its own, for a server that takes it and
// has no credential of its own; never a stored one (each request brings its own).
import type { IncomingHttpHeaders } from "node:http";
import type { RegistryServer } from "../contract/registry.js";

export function clientToken(server: RegistryServer | undefined, headers: IncomingHttpHeaders | undefined): string | undefined {
  return server?.forwardClientAuthorization && !server.credential ? headers?.authorization : undefined;
}
