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
  /** Origins (scheme://host[:port]) browsers may call from, or "*"; empty means pages of the gateway's own origin only. */
  allowedOrigins: string[];
}

const DEFAULT_PORTS: Record<string, string> = { "http:": "80", "https:": "443" };

/** "host:port" with the scheme's default port made explicit, so that equal origins compare equal. */
function hostWithPort(host: string, protocol: string): string {
  const lower = host.trim().toLowerCase();
  const hostname = hostnameOf(lower);
  return lower.length > hostname.length ? lower : `${hostname}:${DEFAULT_PORTS[protocol] ?? ""}`;
}

/** The serialized origin (scheme://host:port, default port explicit), or undefined when it is not an http(s) origin. */
function normalizedOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (!(url.protocol in DEFAULT_PORTS)) return undefined;
    return `${url.protocol}//${hostWithPort(url.host, url.protocol)}`;
  } catch {
    return undefined;
  }
}

/** The origin this request was sent to: its Host, over the scheme a TLS-terminating proxy names, else http. */
function ownOrigin(headers: IncomingHttpHeaders): string {
  const forwarded = headers["x-forwarded-proto"];
  const scheme = (typeof forwarded === "string" ? (forwarded.split(",")[0] ?? "") : "").trim().toLowerCase();
  const protocol = scheme === "https" ? "https:" : "http:";
  return `${protocol}//${hostWithPort(headers.host ?? "", protocol)}`;
}

/**
 * DNS rebinding: a page on evil.example whose name now resolves to the gateway sends Host and
 * Origin both naming evil.example. With no allowed hosts (any Host passes), "same host" proves
 * nothing, so browsers (any Origin) are refused unless their origin is allowed by name. With
 * allowed hosts, a page of the gateway's own origin (same host and port) may call it too.
 */
export class HostGuard {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  private readonly anyOrigin: boolean;

  constructor(options: HostGuardOptions) {
    this.hosts = new Set(options.allowedHosts.map((host) => hostnameOf(host)).filter(Boolean));
    this.anyOrigin = options.allowedOrigins.includes("*");
    this.origins = new Set(options.allowedOrigins.map((origin) => normalizedOrigin(origin)).filter((origin) => origin !== undefined));
  }

  /** Why this request must be refused, or undefined when it may pass. */
  check(headers: IncomingHttpHeaders): string | undefined {
    const hostHeader = headers.host ?? "";
    if (this.hosts.size > 0 && !this.hosts.has(hostnameOf(hostHeader))) return `host ${JSON.stringify(hostHeader)} is not allowed`;
    const origin = headers.origin;
    if (origin === undefined || this.anyOrigin) return undefined;
    const normalized = normalizedOrigin(origin);
    if (normalized !== undefined && this.origins.has(normalized)) return undefined;
    if (normalized !== undefined && this.hosts.size > 0 && normalized === ownOrigin(headers)) return undefined;
    return this.hosts.size > 0
      ? `origin ${JSON.stringify(origin)} is not allowed`
      : `origin ${JSON.stringify(origin)} is not allowed: with no --allowed-hosts, browser requests need --allowed-origins`;
  }
}
