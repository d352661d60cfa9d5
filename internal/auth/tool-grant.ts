// The tools and prompts one request may see, as granted by a token claim. A claim lists exposed
// names (toolPrefix + name) and a name grants the tool or prompt of that name: claims keep their
// established names (allowed-tools, tools) and one list says everything a caller may use. Grants
// from several sources (the client's token, the x-authorized-tools header) intersect; the result
// narrows tools/list, tools/call, prompts/list, prompts/get and prompt completions.
import { createHash } from "node:crypto";
import type { ListFilter } from "../catalog/pages.js";

export class ToolGrant {
  /** Page-cache key: callers with the same allowed set share pages, and names never appear in it. */
  readonly key: string;

  constructor(readonly names: ReadonlySet<string>) {
    const digest = createHash("sha256").update(JSON.stringify([...names].sort())).digest("base64url");
    this.key = `grant:${digest.slice(0, 22)}`;
  }

  allows(name: string): boolean {
    return this.names.has(name);
  }

  intersect(other: ToolGrant | undefined): ToolGrant {
    if (!other) return this;
    return new ToolGrant(new Set([...this.names].filter((name) => other.names.has(name))));
  }
}

/** A claim naming tools: an array of names, or (as some issuers write it) that array as JSON text. */
export function toolsFromClaim(value: unknown): string[] | undefined {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "string")) return undefined;
  return parsed;
}

/** Both filters must allow a name; the key names the combination so cached pages stay apart. */
export function combineFilters(first: ListFilter | undefined, second: ListFilter | undefined): ListFilter | undefined {
  if (!first) return second;
  if (!second) return first;
  return { key: `${first.key}&${second.key}`, allows: (name) => first.allows(name) && second.allows(name) };
}

/**
 * Grants by the verified claims they come from. A cached token's claims (VerifiedTokens) are the
 * same object on every request, so its grant, and the digest that keys its pages, is built once
 * instead of per request.
 */
export class GrantsByClaims {
  private readonly grants = new WeakMap<object, ToolGrant>();

  of(claims: object, names: () => string[]): ToolGrant {
    let grant = this.grants.get(claims);
    if (!grant) {
      grant = new ToolGrant(new Set(names()));
      this.grants.set(claims, grant);
    }
    return grant;
  }
}
