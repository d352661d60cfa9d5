// Registry errors name a place, never the text there: the text holds credentials.
import { expect } from "chai";
import { parseRegistry } from "../../internal/registry/parse.js";

describe("unit: parseRegistry", () => {
  const secret = "Bearer TOPSECRET-91f2";
  const broken = [
    `servers:\n  - name: a/b\n    url: http://x\n    credential: ${secret}: [\n`,
    `servers:\n  - name: a/b\n    credential: "${secret}\n`,
    `servers:\n  - name: a/b\n    url: http://x\n    credential: ${secret}\n   bad: indent\n`,
    `servers:\n  - name: a/b\n    url: ${secret}\n`,
  ];
  for (const text of broken) {
    it(`refuses ${JSON.stringify(text.split("\n").at(-2))} naming where, not what`, () => {
      let message = "";
      try {
        parseRegistry(text);
      } catch (err) {
        message = (err as Error).message;
        expect((err as Error).cause, "no cause carrying the text").to.equal(undefined);
      }
      expect(message).to.match(/^registry is (not valid YAML|invalid): /);
      expect(message).to.match(/at line \d+, column \d+|at servers\[0\]/);
      expect(message).to.not.include("TOPSECRET");
    });
  }

  it("defaults a virtual server's prompts and resources to none", () => {
    const registry = parseRegistry("virtualServers:\n  - name: a/v\n    tools: [x]\n");
    expect(registry.virtualServers[0]).to.include.keys("prompts", "resources");
    expect(registry.virtualServers[0]?.prompts).to.deep.equal([]);
  });
});
