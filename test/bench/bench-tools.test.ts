// The bench's own tools: the load phase in every configuration against real gateways (and a real
// redis-server), and the profile summary of a real V8 CPU profile.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { CONFIGS, parseConfigs } from "./configs.js";
import { summarize } from "./profile-summary.js";

const run = promisify(execFile);
const here = import.meta.dirname;

describe("bench tools", function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "bench-tools-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("run.js --configs measures a gateway leg for every configuration, each call answered", async () => {
    await run(process.execPath, [
      join(here, "run.js"),
      ...["--only", "load", "--clients", "2", "--leg-seconds", "0.5", "--warmup-seconds", "0"],
      ...["--configs", CONFIGS.join(","), "--out-dir", dir],
    ]);
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as {
      configs: string[];
      problems: string[];
      load: { clients: number; direct: { calls: number }; gateway: { calls: number }; configs: Record<string, { calls: number; errors: number; upstreamCpuUsPerCall: number }> }[];
    };
    expect(results.problems).to.deep.equal([]);
    expect(results.configs).to.deep.equal([...CONFIGS]);
    const [row] = results.load;
    expect(row?.clients).to.equal(2);
    expect(row?.direct.calls).to.be.greaterThan(0);
    for (const name of CONFIGS) {
      expect(row?.configs[name]?.calls, name).to.be.greaterThan(0);
      expect(row?.configs[name]?.errors, name).to.equal(0);
    }
    // The first configuration is the main table's gateway leg.
    expect(row?.gateway).to.deep.equal(row?.configs.plain);
    expect(readFileSync(join(dir, "report.md"), "utf8")).to.include("| 2 | jwt |");
  });

  it("run.js --only kinds measures a Streamable HTTP, a stdio and a legacy SSE server, direct and through the gateway, each call answered", async () => {
    await run(process.execPath, [join(here, "run.js"), ...["--only", "kinds", "--kinds-clients", "1,2", "--kinds-leg-seconds", "0.5", "--warmup-seconds", "0", "--out-dir", dir]]);
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as {
      problems: string[];
      kinds: { kind: string; clients: number; direct?: { calls: number; errors: number }; gateway?: { calls: number; errors: number } }[];
    };
    expect(results.problems).to.deep.equal([]);
    expect(results.kinds.map((row) => `${row.kind}@${row.clients}`)).to.deep.equal(["streamable-http@1", "stdio@1", "sse@1", "streamable-http@2", "stdio@2", "sse@2"]);
    for (const row of results.kinds) {
      for (const [what, leg] of [["direct", row.direct], ["gateway", row.gateway]] as const) {
        expect(leg?.calls, `${row.kind} ${what} at ${row.clients}`).to.be.greaterThan(0);
        expect(leg?.errors, `${row.kind} ${what} at ${row.clients}`).to.equal(0);
      }
    }
    expect(readFileSync(join(dir, "report.md"), "utf8")).to.match(/\| sse \| 2 \| \d+ \| \d+ \|/);
  });

  it("run.js and sdk-loadgen refuse bad server-kinds flags", async () => {
    const stderrOf = (args: string[]): Promise<string | undefined> =>
      run(process.execPath, args).then(
        () => undefined,
        (err: { stderr: string }) => err.stderr,
      );
    expect(await stderrOf([join(here, "run.js"), "--only", "kinds", "--kinds-clients", "0", "--out-dir", dir])).to.include("--kinds-clients: expected whole numbers, got 0");
    expect(await stderrOf([join(here, "sdk-loadgen.js"), "--transport", "websocket", "--url", "http://127.0.0.1:9/"])).to.include("--transport: expected streamable-http, sse, modern or stdio, got websocket");
    expect(await stderrOf([join(here, "sdk-loadgen.js"), "--transport", "stdio"])).to.include("--transport stdio needs --command");
  });

  it("run.js refuses an unknown configuration", async () => {
    const failed = await run(process.execPath, [join(here, "run.js"), "--only", "load", "--configs", "plain,turbo", "--out-dir", dir]).then(
      () => undefined,
      (err: { stderr: string }) => err,
    );
    expect(failed?.stderr).to.include("--configs: unknown configuration turbo");
    expect(() => parseConfigs("jwt,jwt")).to.throw("names a configuration twice");
  });

  it("profile-summary finds a busy function of a real CPU profile, by self and inclusive time", async () => {
    const script = join(dir, "busy.js");
    writeFileSync(
      script,
      [
        "function spin(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }",
        "function outer() { return spin(300); }",
        "outer();",
      ].join("\n"),
    );
    await run(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, script]);
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    expect(file).to.be.a("string");
    // Top 50: the frames between the script and spin() all share its time, and ties sort in any order.
    const summary = summarize(JSON.parse(readFileSync(join(dir, file!), "utf8")), 50, 10);
    expect(summary.busyMs).to.be.within(200, 2_000);
    expect(summary.self[0]?.name).to.match(/^spin .*busy\.js:1$/);
    expect(summary.self[0]?.share).to.be.greaterThan(0.5);
    // outer() spends its time in spin(): inclusive, both are there with most of the time.
    const outer = summary.inclusive.find((e) => /^outer .*busy\.js:2$/.test(e.name));
    expect(outer?.share).to.be.greaterThan(0.5);
    // 10 calls: µs per call is the busy time spread over them.
    expect(summary.busyUsPerCall).to.be.closeTo((summary.busyMs * 1000) / 10, summary.busyMs * 2);
    // Skipping past the end leaves nothing.
    expect(summarize(JSON.parse(readFileSync(join(dir, file!), "utf8")), 5, undefined, 60_000).busyMs).to.equal(0);
  });
});
