// Header checks of the Streamable HTTP transport: content negotiation and the Host/Origin
// validation that keeps a browser page from reaching a local gateway through DNS rebinding.
import type { IncomingHttpHeaders } from "node:http";

function mediaTypes(accept: string | undefined): string[] {
  return (accept ?? "*/*").split(",").map((part) => (part.split(";")[0] ?? "").trim().toLowerCase());
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

function hostnameOf(hostHeader: string): string {
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return "";
  }
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
      originHost = new URL(origin).hostname.toLowerCase();
    } catch {
      return `origin ${JSON.stringify(origin)} is not allowed`;
    }
    if (this.origins.size === 0 && originHost === host) return undefined;
    return `origin ${JSON.stringify(origin)} is not allowed`;
  }
}
