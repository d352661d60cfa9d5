// Header checks of the Streamable HTTP transport: content negotiation and the Host/Origin
// validation that keeps a browser page from reaching a local gateway through DNS rebinding.
import type { IncomingHttpHeaders } from "node:http";

// Clients send the same few Accept values over and over; parse each once.
const parsedAccept = new Map<string, string[]>();

function mediaTypes(accept: string | undefined): string[] {
  const header = accept ?? "*/*";
  let types = parsedAccept.get(header);
  if (!types) {
    types = header.split(",").map((part) => (part.split(";")[0] ?? "").trim().toLowerCase());
    if (parsedAccept.size < 256) parsedAccept.set(header, types);
  }
  return types;
}

/** True when the Accept header allows JSON; a missing header allows anything (RFC 9110). */
export function acceptsJson(accept: string | undefined): boolean {
  return mediaTypes(accept).some((type) => type === "application/json" || type === "application/*" || type === "*/*");
}

export function acceptsEventStream(accept: string | undefined): boolean {
  return mediaTypes(accept).some((type) => type === "text/event-stream" || type === "text/*" || type === "*/*");
}

export function isJsonContentType(contentType: string | undefined): boolean {
  return (contentType?.split(";")[0] ?? "").trim().toLowerCase() === "application/json";
}

/** The hostname of a Host header value ("[::1]:8001" -> "[::1]"), without the cost of new URL(). */
function hostnameOf(hostHeader: string): string {
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.indexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

export interface HostGuardOptions {
  /** Hostnames (optionally host:port) clients may use; empty means any. */
  allowedHosts: string[];
  /** Origins browsers may call from; empty means the page must be served from the gateway's own host. */
  allowedOrigins: string[];
}

export class HostGuard {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;

  constructor(options: HostGuardOptions) {
    this.hosts = new Set(options.allowedHosts.map((host) => hostnameOf(host)).filter(Boolean));
    this.origins = new Set(options.allowedOrigins.map((origin) => origin.toLowerCase().replace(/\/$/, "")));
  }

  /** Why this request must be refused, or undefined when it may pass. */
  check(headers: IncomingHttpHeaders): string | undefined {
    const host = hostnameOf(headers.host ?? "");
    if (this.hosts.size > 0 && !this.hosts.has(host)) return `host ${JSON.stringify(headers.host ?? "")} is not allowed`;
    const origin = headers.origin;
    if (origin === undefined || origin === "null") return undefined;
    if (this.origins.has("*") || this.origins.has(origin.toLowerCase())) return undefined;
    let originHost: string;
    try {
      originHost = hostnameOf(new URL(origin).host);
    } catch {
      return `origin ${JSON.stringify(origin)} is not allowed`;
    }
    if (this.origins.size === 0 && originHost === host) return undefined;
    return `origin ${JSON.stringify(origin)} is not allowed`;
  }
}
