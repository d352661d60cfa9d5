// The registry fields of the transport kinds: what each transport needs, and a clear refusal of
// fields that belong to another one.
import { expect } from "chai";
import { parseRegistry } from "../../internal/registry/parse.js";
import { registry } from "./peers.js";

function refusal(server: Record<string, unknown>): string {
  try {
    parseRegistry(registry([{ name: "ns/s", ...server }]));
  } catch (err) {
    return (err as Error).message;
  }
  return "accepted";
}

describe("kinds: registry fields", () => {
  it("accepts each transport with its own fields", () => {
    const parsed = parseRegistry(
      registry([
        { name: "ns/plain", url: "http://a/mcp" },
        { name: "ns/sse", transport: "sse", url: "http://a/sse" },
        { name: "ns/stdio", transport: "stdio", command: "npx", args: ["-y", "server"], env: { A: "1" } },
        { name: "ns/openapi", transport: "openapi", url: "http://a/api", openapi: { document: { openapi: "3.1.0" } } },
        { name: "ns/served", transport: "openapi", url: "http://a/api", openapi: { documentPath: "/openapi.json" } },
      ]),
    );
    expect(parsed.servers.map((server) => server.transport ?? "streamable-http")).to.deep.equal(["streamable-http", "sse", "stdio", "openapi", "openapi"]);
    expect(parsed.servers[2]).to.deep.include({ command: "npx", args: ["-y", "server"], env: { A: "1" } });
  });

  it("refuses what a transport lacks or what belongs to another, naming the field", () => {
    expect(refusal({ transport: "stdio" })).to.match(/a stdio server needs a command[\s\S]*at servers\[0\]\.command/);
    expect(refusal({ transport: "stdio", command: "x", url: "http://a/mcp" })).to.match(/a stdio server has no url/);
    expect(refusal({ transport: "sse" })).to.match(/transport sse needs a url/);
    expect(refusal({ url: "http://a/mcp", command: "x" })).to.match(/command is only for stdio servers/);
    expect(refusal({ transport: "openapi", url: "http://a" })).to.match(/an openapi server needs openapi.document or openapi.documentPath/);
    expect(refusal({ transport: "openapi", url: "http://a", openapi: { document: "/x.json", documentPath: "/openapi.json" } })).to.match(/set exactly one of document and documentPath/);
    expect(refusal({ url: "http://a/mcp", openapi: { document: "/x.json" } })).to.match(/openapi is only for openapi servers/);
    expect(refusal({ transport: "websocket", url: "http://a/mcp" })).to.match(/transport/);
  });
});
