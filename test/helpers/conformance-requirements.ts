// Runs the MCP conformance suite 0.2.0-alpha.12 (installed as conformance-alpha beside 0.1.16) with
// `--requirements <revision>`: exactly the scenarios a spec revision requires. The suite prints one
// line per scenario and then names the scenarios that do not count for the revision; both are read
// here. Also starts one of the suite's reference servers, copies of ../shared/conformance-reference.
import { spawn, type ChildProcess } from "node:child_process";
import { cp, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { freePort } from "./gateway-process.js";

const require = createRequire(import.meta.url);
const suitePackage = require.resolve("conformance-alpha/package.json");
const suiteCli = join(dirname(suitePackage), (require(suitePackage) as { bin: { conformance: string } }).bin.conformance);

export interface RequirementsResult {
  /** Scenarios that count for the revision. */
  scored: string[];
  /** Scored scenarios the suite marked failed. */
  failed: string[];
  output: string;
}

const SCENARIO_LINE = /^([✓✗]) (\S+): \d+ passed, \d+ failed$/gm;

export async function runRequirements(url: string, revision: string, timeoutMs: number): Promise<RequirementsResult> {
  const output = await new Promise<string>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [suiteCli, "server", "--url", url, "--requirements", revision], { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", () => {
      clearTimeout(timer);
      resolvePromise(text);
    });
  });
  const notScoredAt = output.indexOf("Not scored for");
  const scoredPart = notScoredAt < 0 ? output : output.slice(0, notScoredAt);
  const notScored = new Set(notScoredAt < 0 ? [] : [...output.slice(notScoredAt).matchAll(/^\s+[✓✗] (\S+) \(/gm)].map((m) => m[1] ?? ""));
  const scored: string[] = [];
  const failed: string[] = [];
  for (const [, mark, name = ""] of scoredPart.matchAll(SCENARIO_LINE)) {
    if (notScored.has(name)) continue;
    scored.push(name);
    if (mark === "✗") failed.push(name);
  }
  return { scored, failed, output };
}

export interface ReferenceServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A folder of ../shared/conformance-reference: `v0.1.16` goes with suite 0.1.16 (2025 revisions),
 * `c321dd3` with 0.2.0-alpha (2025 revisions and 2026-07-28 on one endpoint).
 */
export type ReferenceFolder = "v0.1.16" | "c321dd3";

const repoRoot = resolve(import.meta.dirname, "../../..");

/**
 * One of the suite's reference servers. The shared folder is read-only, so it is copied to the
 * temp directory once and its packages installed there.
 */
export async function startReferenceServer(folder: ReferenceFolder): Promise<ReferenceServer> {
  const dir = join(tmpdir(), `mcp-conformance-reference-${folder}`);
  const installed = await stat(join(dir, "node_modules/.bin/tsx")).then(
    () => true,
    () => false,
  );
  if (!installed) {
    await cp(resolve(repoRoot, "../shared/conformance-reference", folder), dir, { recursive: true });
    await run("npm", ["ci", "--no-audit", "--no-fund"], dir);
  }
  const port = await freePort();
  const child = spawn(join(dir, "node_modules/.bin/tsx"), ["everything-server.ts"], { cwd: dir, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolvePromise, reject) => {
    let text: string | undefined = "";
    const onData = (chunk: Buffer) => {
      if (text === undefined) return;
      text += chunk.toString();
      if (/running on/i.test(text)) {
        text = undefined;
        resolvePromise();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`reference server exited with ${code}: ${text ?? ""}`)));
  });
  return { url: `http://localhost:${port}/mcp`, stop: () => stop(child) };
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolvePromise() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))));
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    child.once("exit", () => resolvePromise());
    child.kill();
  });
}
