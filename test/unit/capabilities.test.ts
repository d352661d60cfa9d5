// Capability objects of MCP peers: a both-era server's two declarations merged at every depth.
import { expect } from "chai";
import { unionCapabilities } from "../../internal/mcp/capabilities.js";

describe("unit: capabilities", () => {
  it("keeps every extension either declaration names, and every feature", () => {
    const initialize = { tools: { listChanged: false }, logging: {}, extensions: { "io.example/other": { mode: "a" } } };
    const discover = { tools: { listChanged: true }, resources: { subscribe: true }, extensions: { "io.modelcontextprotocol/tasks": {} } };
    expect(unionCapabilities(initialize, discover)).to.deep.equal({
      tools: { listChanged: true },
      logging: {},
      resources: { subscribe: true },
      extensions: { "io.example/other": { mode: "a" }, "io.modelcontextprotocol/tasks": {} },
    });
  });

  it("a flag is on when either says so; other leaves are the first's; the inputs stay as they were", () => {
    const first = { resources: { subscribe: true, listChanged: false }, experimental: { level: "one" } };
    const second = { resources: { subscribe: false, listChanged: true }, experimental: { level: "two" } };
    expect(unionCapabilities(first, second)).to.deep.equal({ resources: { subscribe: true, listChanged: true }, experimental: { level: "one" } });
    expect(first.resources).to.deep.equal({ subscribe: true, listChanged: false });
    expect(unionCapabilities({}, second)).to.deep.equal(second);
  });
});
