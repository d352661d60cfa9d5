// The tools one request may see, as granted by a token claim. Grants from several sources (the
// client's token, the x-authorized-tools header) intersect; the result narrows lists and calls.
import { createHash } from "node:crypto";
import type { ListFilter } from "../catalog/pages.js";

export class ToolGrant {
  /** Page-cache key: callers with the same allowed set share pages, and names never appear in it. */
  readonly key: string;

  constructor(readonly tools: ReadonlySet<string>) {
    const digest = createHash("sha256").update(JSON.stringify([...tools].sort())).digest("base64url");
    this.key = `grant:${digest.slice(0, 22)}`;
  }

  allows(name: string): boolean {
    return this.tools.has(name);
  }

  intersect(other: ToolGrant | undefined): ToolGrant {
    if (!other) return this;
    return new ToolGrant(new Set([...this.tools].filter((tool) => other.tools.has(tool))));
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
