// The catalog in process: clashes settled by registry order and held through an outage, the most
// specific resource template winning, overlaps reported.
import { expect } from "chai";
import { Catalog } from "../../internal/catalog/catalog.js";
import { registryServer as server, snapshot, StaticDiscovery as Discovery } from "../helpers/catalog-fixtures.js";

describe("unit: Catalog", () => {
  it("the server earlier in the registry keeps a clashing name, and keeps it while it is down", () => {
    const catalog = new Catalog();
    const victim = new Discovery(snapshot(["echo"]));
    const attacker = new Discovery(snapshot(["echo", "extra"]));
    catalog.setServers([
      { server: server("a/victim"), discovery: victim },
      { server: server("b/attacker"), discovery: attacker },
    ]);
    catalog.rebuild();
    expect(catalog.findTool("echo")?.server.name).to.equal("a/victim");
    expect(catalog.status().find((s) => s.name === "b/attacker")?.message).to.match(/conflicting tools discovered: echo \(already served by a\/victim\)/);

    victim.fail();
    catalog.rebuild();
    expect(catalog.findTool("echo"), "not handed to the attacker").to.equal(undefined);
    expect(catalog.findTool("extra"), "the attacker stays refused whole").to.equal(undefined);

    // Removed from the registry, its claim goes.
    catalog.setServers([{ server: server("b/attacker"), discovery: attacker }]);
    catalog.rebuild();
    expect(catalog.findTool("echo")?.server.name).to.equal("b/attacker");
  });

  it("the same servers in the other registry order give the other outcome: order, not readiness, decides", () => {
    const catalog = new Catalog();
    const late = new Discovery();
    late.phase = "connecting";
    const early = new Discovery(snapshot(["echo"]));
    catalog.setServers([
      { server: server("b/first"), discovery: late },
      { server: server("a/second"), discovery: early },
    ]);
    catalog.rebuild();
    expect(catalog.findTool("echo")?.server.name, "served while the first has never been ready").to.equal("a/second");
    late.phase = "ready";
    late.snapshot = snapshot(["echo"]);
    catalog.rebuild();
    expect(catalog.findTool("echo")?.server.name).to.equal("b/first");
  });

  it("a URI goes to the most specific matching template; a listed resource beats any template; overlaps are reported", () => {
    const catalog = new Catalog();
    catalog.setServers([
      { server: server("b/greedy", "g_"), discovery: new Discovery(snapshot([], ["{+uri}"])) },
      { server: server("a/files", "f_"), discovery: new Discovery(snapshot([], ["file:///logs/{name}", "file:///{+path}"], ["file:///logs/exact"])) },
    ]);
    catalog.rebuild();
    expect(catalog.findResource("file:///logs/today")?.upstreamName).to.equal("file:///logs/{name}");
    expect(catalog.findResource("file:///etc/hosts")?.upstreamName).to.equal("file:///{+path}");
    expect(catalog.findResource("file:///logs/exact")?.upstreamName).to.equal("file:///logs/exact");
    expect(catalog.findResource("https://example.com/")?.server.name).to.equal("b/greedy");
    const warnings = catalog.status().find((s) => s.name === "a/files")?.warnings ?? [];
    expect(warnings.join("\n")).to.include("file:///logs/{name} overlaps {+uri} of b/greedy");
  });

  it("a new prefix drops the old claim", () => {
    const catalog = new Catalog();
    const first = new Discovery(snapshot(["echo"]));
    catalog.setServers([{ server: server("a/one"), discovery: first }]);
    catalog.rebuild();
    first.fail();
    catalog.setServers([
      { server: server("a/one", "one_"), discovery: first },
      { server: server("b/two"), discovery: new Discovery(snapshot(["echo"])) },
    ]);
    catalog.rebuild();
    expect(catalog.findTool("echo")?.server.name).to.equal("b/two");
  });
});
