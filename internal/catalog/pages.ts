// tools/list, prompts/list and resources lists answered from the catalog in pages of the
// gateway's own size, with opaque cursors. Pages are serialized once per catalog version, so a
// list of 10,000 tools costs a string concatenation, not a JSON.stringify, per request.
import { ErrorCode, JsonRpcError } from "../mcp/jsonrpc.js";
import type { Catalog, ListKind } from "./catalog.js";

/** Narrows a list to what one caller may see (a virtual server, later an authorization claim). */
export interface ListFilter {
  /** Identifies the filter in the page cache. */
  key: string;
  allows(name: string): boolean;
}

const MAX_CACHED_PAGES = 1024;

export class ListPages {
  private cache = new Map<string, string>();
  private cachedVersion = -1;

  constructor(
    private readonly catalog: Catalog,
    private readonly pageSize: number,
  ) {}

  /** The `result` object of a list request, as JSON text. */
  page(kind: ListKind, cursor: unknown, filter?: ListFilter): string {
    const offset = decodeCursor(cursor);
    if (this.cachedVersion !== this.catalog.version) {
      this.cache.clear();
      this.cachedVersion = this.catalog.version;
    }
    const key = `${kind}|${filter?.key ?? ""}|${offset}`;
    let json = this.cache.get(key);
    if (json === undefined) {
      json = this.render(kind, offset, filter);
      // Clients choose offsets: past the bound, pages are rendered but not kept.
      if (this.cache.size < MAX_CACHED_PAGES) this.cache.set(key, json);
    }
    return json;
  }

  private render(kind: ListKind, offset: number, filter?: ListFilter): string {
    let items = this.catalog.list(kind);
    if (filter) items = items.filter((item) => filter.allows(entryKey(kind, item)));
    const end = this.pageSize > 0 ? offset + this.pageSize : items.length;
    const result: Record<string, unknown> = { [kind]: items.slice(offset, end) };
    if (end < items.length) result.nextCursor = encodeCursor(end);
    return JSON.stringify(result);
  }
}

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString("base64url");
}

function decodeCursor(cursor: unknown): number {
  if (cursor === undefined) return 0;
  const match = typeof cursor === "string" ? /^o:(\d{1,9})$/.exec(Buffer.from(cursor, "base64url").toString()) : null;
  if (!match) throw new JsonRpcError(ErrorCode.InvalidParams, "invalid cursor");
  return Number(match[1]);
}

/** What filters and grants name an entry of a list by: tools and prompts by exposed name, resources by URI, templates by URI template. */
export function entryKey(kind: ListKind, item: Record<string, unknown>): string {
  if (kind === "resources") return String(item.uri);
  if (kind === "resourceTemplates") return String(item.uriTemplate);
  return String(item.name);
}
