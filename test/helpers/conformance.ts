// Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against a server URL
// and reads the per-scenario checks.json files it writes, rather than scraping its pretty output.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";

export interface ConformanceResult {
  /** Number of scenarios in the suite's active set, as the suite announced it. */
  total: number;
  /** Scenarios with at least one SUCCESS check and no FAILURE check. */
  passed: number;
  /**
   * Names of the scenarios that did not pass, in run order. If the run was cut short or the suite's
   * exit code disagrees with its results, one extra entry (not a scenario name) says so.
   */
  failed: string[];
  /** Why each entry of `failed` failed: its failed checks, or why it has no result. */
  reasons: Record<string, string[]>;
  /** Everything the suite printed to stdout and stderr. */
  output: string;
}

export interface ConformanceOptions {
  /** The whole suite is killed after this long; scenarios it did not finish count as failed. */
  timeoutMs?: number;
}

const require = createRequire(import.meta.url);
const suitePackage = require.resolve("@modelcontextprotocol/conformance/package.json");
const suiteCli = join(dirname(suitePackage), (require(suitePackage) as { bin: { conformance: string } }).bin.conformance);

const ChecksSchema = z.array(
  z.object({
    name: z.string(),
    description: z.string().optional(),
    status: z.string(),
    errorMessage: z.string().optional(),
  }),
);

// The suite saves each scenario's checks in <out>/server-<scenario>-<ISO time with ":" and "." as "-">/.
const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

export async function runConformance(url: string, opts: ConformanceOptions = {}): Promise<ConformanceResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const outDir = await mkdtemp(join(tmpdir(), "mcp-conformance-"));
  try {
    const { output, exitCode, timedOut } = await runSuite(["server", "--url", url, "--suite", "active", "--output-dir", outDir], timeoutMs);

    const announced = /Running active suite \((\d+) scenarios\)/.exec(output);
    if (!announced?.[1]) {
      throw new Error(`conformance suite did not start (${timedOut ? `killed after ${timeoutMs} ms` : `exit ${exitCode}`}):\n${output}`);
    }
    const total = Number(announced[1]);
    const started = [...output.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1] ?? "");

    const resultDirs = new Map<string, string>();
    for (const entry of await readdir(outDir)) {
      const scenario = RESULT_DIR.exec(entry)?.[1];
      if (scenario) resultDirs.set(scenario, join(outDir, entry));
    }

    const noResult = timedOut ? `no result: the suite was killed after ${timeoutMs} ms` : "no result: the scenario threw (see output)";
    const reasons: Record<string, string[]> = {};
    for (const scenario of started) {
      const dir = resultDirs.get(scenario);
      const why = await scenarioFailures(dir === undefined ? undefined : join(dir, "checks.json"), noResult);
      if (why.length > 0) reasons[scenario] = why;
    }
    const passed = started.length - Object.keys(reasons).length;

    const notRun = total - started.length;
    if (notRun > 0) reasons[`${notRun} scenario(s) not run`] = [timedOut ? `the suite was killed after ${timeoutMs} ms` : `the suite exited early with code ${exitCode}`];
    else if (exitCode !== 0 && Object.keys(reasons).length === 0) reasons[`suite exit code ${exitCode}`] = ["the suite reported a failure its result files do not show"];

    return { total, passed, failed: Object.keys(reasons), reasons, output };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** The failed checks of one scenario; empty when it passed. */
async function scenarioFailures(checksFile: string | undefined, noResult: string): Promise<string[]> {
  // The suite creates the result directory before running the scenario and writes checks.json after.
  const text = checksFile === undefined ? undefined : await readFile(checksFile, "utf8").catch(() => undefined);
  if (text === undefined) return [noResult];
  let checks: z.infer<typeof ChecksSchema>;
  try {
    checks = ChecksSchema.parse(JSON.parse(text));
  } catch (err) {
    return [`unreadable ${checksFile}: ${String(err)}`];
  }
  const failures = checks.filter((c) => c.status === "FAILURE").map((c) => `${c.name}: ${oneLine(c.errorMessage ?? c.description ?? "failed")}`);
  // The suite counts a scenario with only warnings as passed; here it has to have verified something.
  if (failures.length === 0 && !checks.some((c) => c.status === "SUCCESS")) {
    return [`no check succeeded: ${checks.map((c) => `${c.name}=${c.status}${c.errorMessage ? ` (${oneLine(c.errorMessage)})` : ""}`).join(", ")}`];
  }
  return failures;
}

/** Error messages can embed whole HTTP bodies; keep each reason to one readable line. */
function oneLine(message: string): string {
  const flat = message.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

function runSuite(args: string[], timeoutMs: number): Promise<{ output: string; exitCode: number | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [suiteCli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ output, exitCode, timedOut });
    });
  });
}

/** A multi-line summary of a result, for assertion messages. */
export function formatConformance(result: ConformanceResult): string {
  const lines = [`${result.passed}/${result.total} conformance scenarios passed`];
  for (const name of result.failed) {
    lines.push(`  ✗ ${name}`);
    for (const reason of result.reasons[name] ?? []) lines.push(`      ${reason}`);
  }
  return lines.join("\n");
}
