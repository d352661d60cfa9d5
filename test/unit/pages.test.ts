// List paging in process: opaque cursors walk a list in the gateway's page size, filters narrow it,
// and pages are cached per catalog version and filter key.
import { expect } from "chai";
import { Catalog } from "../../internal/catalog/catalog.js";
import { entryKey, ListPages, type ListFilter } from "../../internal/catalog/pages.js";
import { ErrorCode, JsonRpcError } from "../../internal/mcp/jsonrpc.js";
import { registryServer, snapshot, StaticDiscovery } from "../helpers/catalog-fixtures.js";

type Page = Record<string, unknown> & { nextCursor?: string };

function catalogOf(tools: string[], options: { prefix?: string; templates?: string[]; resources?: string[]; prompts?: string[] } = {}) {
  const catalog = new Catalog();
  const discovery = new StaticDiscovery(snapshot(tools, options.templates, options.resources, options.prompts));
  catalog.setServers([{ server: registryServer("ns/one", options.prefix), discovery }]);
  catalog.rebuild();
  return { catalog, discovery };
}

const names = (page: Page, kind = "tools") => (page[kind] as Array<{ name: string }>).map((item) => item.name);

/** A filter that counts how often it is asked, to see whether a page was rendered or served from the cache. */
function countingFilter(key: string, allows: (name: string) => boolean): ListFilter & { asked: number } {
  const filter = {
    key,
    asked: 0,
    allows(name: string) {
      filter.asked++;
      return allows(name);
    },
  };
  return filter;
}

function expectInvalidCursor(pages: ListPages, cursor: unknown): void {
  let thrown: unknown;
  try {
    pages.page("tools", cursor);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `cursor ${JSON.stringify(cursor)}`).to.be.instanceOf(JsonRpcError);
  expect((thrown as JsonRpcError).toObject()).to.deep.equal({ code: ErrorCode.InvalidParams, message: "invalid cursor" });
}

describe("unit: list paging", () => {
  const tools = ["a", "b", "c", "d", "e"];

  it("walks a list in pages of the configured size; the last page has no nextCursor", () => {
    const pages = new ListPages(catalogOf(tools, { prefix: "p_" }).catalog, 2);
    const seen: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = JSON.parse(pages.page("tools", cursor)) as Page;
      seen.push(names(page));
      cursor = page.nextCursor;
      expect(cursor === undefined || typeof cursor === "string").to.equal(true);
    } while (cursor !== undefined);
    expect(seen).to.deep.equal([["p_a", "p_b"], ["p_c", "p_d"], ["p_e"]]);
  });

  it("a page size of 0 answers the whole list at once; an exact multiple ends without a cursor", () => {
    expect(JSON.parse(new ListPages(catalogOf(tools).catalog, 0).page("tools", undefined))).to.deep.equal({
      tools: tools.map((name) => ({ name, inputSchema: { type: "object" } })),
    });
    const exact = new ListPages(catalogOf(["a", "b", "c", "d"]).catalog, 2);
    const second = JSON.parse(exact.page("tools", (JSON.parse(exact.page("tools", undefined)) as Page).nextCursor)) as Page;
    expect(second).to.deep.equal({ tools: [{ name: "c", inputSchema: { type: "object" } }, { name: "d", inputSchema: { type: "object" } }] });
  });

  it("an empty list is one empty page; a cursor past the end gives an empty page", () => {
    expect(new ListPages(catalogOf([]).catalog, 2).page("prompts", undefined)).to.equal('{"prompts":[]}');
    const past = Buffer.from("o:99").toString("base64url");
    expect(new ListPages(catalogOf(tools).catalog, 2).page("tools", past)).to.equal('{"tools":[]}');
  });

  it("refuses a cursor it did not make: another type, not base64url of an offset, or an offset of ten digits", () => {
    const pages = new ListPages(catalogOf(tools).catalog, 2);
    for (const cursor of [5, null, {}, "", "not a cursor", Buffer.from("o:").toString("base64url"), Buffer.from("o:-1").toString("base64url"), Buffer.from("o:1x").toString("base64url"), Buffer.from("o:1234567890").toString("base64url"), Buffer.from("x:1").toString("base64url")]) {
      expectInvalidCursor(pages, cursor);
    }
    expect(JSON.parse(pages.page("tools", Buffer.from("o:123456789").toString("base64url")))).to.deep.equal({ tools: [] });
  });

  it("a filter narrows the list before paging: pages stay full and cursors count filtered entries", () => {
    const pages = new ListPages(catalogOf(tools).catalog, 2);
    const filter = countingFilter("no-b", (name) => name !== "b");
    const first = JSON.parse(pages.page("tools", undefined, filter)) as Page;
    expect(names(first)).to.deep.equal(["a", "c"]);
    expect(names(JSON.parse(pages.page("tools", first.nextCursor, filter)) as Page)).to.deep.equal(["d", "e"]);
  });

  it("filters name resources by URI, templates by URI template, tools and prompts by exposed name", () => {
    const { catalog } = catalogOf(["t"], { prefix: "p_", prompts: ["q"], resources: ["file:///a", "file:///b"], templates: ["file:///{x}", "db://{y}"] });
    const pages = new ListPages(catalog, 0);
    const only = (allowed: string[]): ListFilter => ({ key: allowed.join(","), allows: (name) => allowed.includes(name) });
    expect((JSON.parse(pages.page("resources", undefined, only(["file:///b"]))) as { resources: Array<{ uri: string }> }).resources.map((r) => r.uri)).to.deep.equal(["file:///b"]);
    expect((JSON.parse(pages.page("resourceTemplates", undefined, only(["db://{y}"]))) as { resourceTemplates: Array<{ uriTemplate: string }> }).resourceTemplates.map((t) => t.uriTemplate)).to.deep.equal(["db://{y}"]);
    expect(names(JSON.parse(pages.page("tools", undefined, only(["p_t"]))) as Page)).to.deep.equal(["p_t"]);
    expect(names(JSON.parse(pages.page("prompts", undefined, only(["p_q"]))) as Page, "prompts")).to.deep.equal(["p_q"]);
    expect(entryKey("resources", { uri: "u", name: "n" })).to.equal("u");
    expect(entryKey("resourceTemplates", { uriTemplate: "t", name: "n" })).to.equal("t");
    expect(entryKey("tools", { name: "n" })).to.equal("n");
  });

  it("caches a page per kind, filter key and offset until the catalog's version changes", () => {
    const { catalog, discovery } = catalogOf(tools);
    const pages = new ListPages(catalog, 2);
    const filter = countingFilter("all", () => true);
    const first = pages.page("tools", undefined, filter);
    const asked = filter.asked;
    expect(asked).to.equal(tools.length);
    expect(pages.page("tools", undefined, filter)).to.equal(first);
    expect(filter.asked, "the second request is served from the cache").to.equal(asked);

    // Another filter with the same key shares the cached page: the key is what identifies a filter.
    const sameKey = countingFilter("all", () => false);
    expect(pages.page("tools", undefined, sameKey)).to.equal(first);
    expect(sameKey.asked).to.equal(0);
    const otherKey = countingFilter("none", () => false);
    expect(pages.page("tools", undefined, otherKey)).to.equal('{"tools":[]}');

    // A rebuild that changes nothing keeps the version, and the cache.
    catalog.rebuild();
    pages.page("tools", undefined, filter);
    expect(filter.asked).to.equal(asked);

    discovery.snapshot = snapshot(["z", ...tools]);
    catalog.rebuild();
    expect(names(JSON.parse(pages.page("tools", undefined, filter)) as Page)).to.deep.equal(["z", "a"]);
    expect(filter.asked, "a new catalog version renders again").to.equal(asked + tools.length + 1);
  });

  it("keeps at most 1024 pages: past the bound, pages are rendered every time", () => {
    const { catalog } = catalogOf(tools);
    const pages = new ListPages(catalog, 2);
    for (let i = 0; i < 1024; i++) pages.page("tools", undefined, { key: `k${i}`, allows: () => true });
    const late = countingFilter("late", () => true);
    pages.page("tools", undefined, late);
    pages.page("tools", undefined, late);
    expect(late.asked, "rendered twice, kept never").to.equal(2 * tools.length);
    const early = countingFilter("k0", () => true);
    pages.page("tools", undefined, early);
    expect(early.asked, "pages cached before the bound stay").to.equal(0);
  });
});
