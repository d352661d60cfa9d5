// `make bench-compare BASE=<git ref>`: an A/B of the load phase between a base commit and this checkout.
// Builds the base in a throw-away git worktree, then runs `run.js --only load` for base and head alternately
// (A B A B ...) on this machine, and reports every figure's median and spread (min-max) for both, with the
// ratio head/base of the medians, as markdown on stdout and JSON in .cache/bench/compare/compare.json.
//   node dist/test/bench/compare.js --base REF [--rounds 3] [--keep-worktree] [-- run.js flags, e.g. --leg-seconds 4 --clients 8,32]
// Both sides are driven by this checkout's bench (load generator, upstream, report): only the gateway differs,
// the base's own build run through --gateway-main. A base's own bench may lack flags (6e0ab14's has no --only)
// or measure differently, which would show as a difference that is not the gateway's.
// "head" is this checkout's dist/, i.e. the working tree as last built, committed or not.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { round } from "./stats.js";

const { values: flags, positionals: runArgs } = parseArgs({
  options: {
    base: { type: "string" },
    rounds: { type: "string", default: "3" },
    "keep-worktree": { type: "boolean", default: false },
    out: { type: "string" },
  },
  allowPositionals: true,
  strict: true,
});
if (!flags.base) throw new Error("--base REF is required (make bench-compare BASE=<git ref>)");
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number >= 1, got ${flags.rounds}`);
for (const arg of runArgs) if (["--only", "--gateway-main", "--out-dir"].includes(arg)) throw new Error(`${arg} is set by bench-compare itself`);

const repoRoot = resolve(import.meta.dirname, "../../..");
const runJs = join(import.meta.dirname, "run.js");
const outRoot = join(repoRoot, ".cache/bench/compare");
const log = (msg: string): void => console.error(`[bench-compare] ${msg}`);
const git = (...args: string[]): string => execFileSync("git", ["-C", repoRoot, ...args], { encoding: "utf8" }).trim();

// ---- the base: a throw-away worktree with its own node_modules and build ----

/** Runs a command to completion, its stderr (and stdout unless quiet) on our stderr; resolves with its exit code. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, quiet = false): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", quiet ? "ignore" : process.stderr, process.stderr] });
    child.once("error", fail);
    child.once("exit", (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

async function buildBase(sha: string, dir: string): Promise<string> {
  git("worktree", "add", "--detach", dir, sha);
  const baseLock = git("show", `${sha}:package-lock.json`);
  const headLock = readFileSync(join(repoRoot, "package-lock.json"), "utf8").trim();
  if (baseLock === headLock && existsSync(join(repoRoot, "node_modules"))) {
    log("package-lock.json is the same: copying node_modules");
    cpSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), { recursive: true, verbatimSymlinks: true });
  } else {
    log("package-lock.json differs: npm ci in the base worktree");
    if ((await run("npm", ["ci", "--no-audit", "--no-fund"], dir)) !== 0) throw new Error("npm ci failed in the base worktree");
  }
  // The base's own Node and tsc, as its Makefile would use them.
  const env = { ...process.env, PATH: `${join(dir, "node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}` };
  log("building the base (tsc)");
  if ((await run("tsc", ["-p", "tsconfig.json"], dir, env)) !== 0) throw new Error("tsc failed in the base worktree");
  const main = join(dir, "dist/cmd/broker-router/main.js");
  if (!existsSync(main)) throw new Error(`the base build has no ${relative(dir, main)}`);
  return main;
}

// ---- the runs ----

interface Leg {
  throughput: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
  serverCpuUsPerCall: number;
}
interface Row {
  clients: number;
  direct?: Leg;
  gateway?: Leg;
  configs?: Record<string, Leg | undefined>;
}
interface RunResults {
  load?: Row[];
  problems?: string[];
}

type Side = "base" | "head";
/** One figure's value in each run, by side, in run order. */
type Figures = Map<string, Record<Side, (number | undefined)[]>>;

const num = (v: number | null | undefined): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const minus = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined ? a - b : undefined);

/** The figures of one run, in the order they are reported. */
function figuresOf(results: RunResults): [string, number | undefined][] {
  const out: [string, number | undefined][] = [];
  for (const { clients, direct: d, gateway: g, configs = {} } of results.load ?? []) {
    const c = `${clients} client${clients === 1 ? "" : "s"}`;
    out.push(
      [`gateway CPU/call (µs), ${c}`, num(g?.serverCpuUsPerCall)],
      [`gateway calls/s, ${c}`, num(g?.throughput)],
      [`throughput vs direct, ${c}`, ratio(num(g?.throughput), num(d?.throughput))],
      [`added p50 (ms), ${c}`, minus(num(g?.p50Ms), num(d?.p50Ms))],
      [`added p99 (ms), ${c}`, minus(num(g?.p99Ms), num(d?.p99Ms))],
      [`upstream CPU/call direct (µs), ${c}`, num(d?.serverCpuUsPerCall)],
      [`direct calls/s, ${c}`, num(d?.throughput)],
      [`errors, ${c}`, g && d ? g.errors + d.errors : undefined],
    );
    const names = Object.keys(configs);
    for (const name of names.slice(1)) {
      out.push(
        [`${name}: CPU/call (µs), ${c}`, num(configs[name]?.serverCpuUsPerCall)],
        [`${name}: throughput vs ${names[0]}, ${c}`, ratio(num(configs[name]?.throughput), num(configs[names[0]!]?.throughput))],
      );
    }
  }
  return out;
}

async function runOnce(side: Side, round: number, baseMain: string): Promise<RunResults> {
  const outDir = join(outRoot, `${side}-${round}`);
  rmSync(outDir, { recursive: true, force: true });
  const args = [runJs, "--only", "load", "--out-dir", outDir, ...(side === "base" ? ["--gateway-main", baseMain] : []), ...runArgs];
  log(`round ${round}/${rounds}: ${side}`);
  // Its report is in outDir; its progress lines go to stderr.
  const code = await run(process.execPath, args, repoRoot, process.env, true);
  const resultsPath = join(outDir, "results.json");
  if (!existsSync(resultsPath)) throw new Error(`run.js (${side}, round ${round}) exited ${code} without results`);
  return JSON.parse(readFileSync(resultsPath, "utf8")) as RunResults;
}

// ---- the report ----

interface Spread {
  median?: number;
  min?: number;
  max?: number;
  values: (number | undefined)[];
}

function spread(values: (number | undefined)[]): Spread {
  const known = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (known.length === 0) return { values };
  const mid = known.length / 2;
  const median = known.length % 2 ? known[Math.floor(mid)]! : (known[mid - 1]! + known[mid]!) / 2;
  return { median, min: known[0], max: known[known.length - 1], values };
}

function fmt(v: number | undefined): string {
  if (v === undefined) return "—";
  if (Number.isInteger(v)) return String(v);
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toFixed(digits);
}

const cell = (s: Spread): string => (s.median === undefined ? "—" : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`);

function markdown(heading: string[], table: { figure: string; base: Spread; head: Spread; ratio?: number }[], problems: string[]): string {
  const out = [
    ...heading,
    "",
    "| figure | base: median (min–max) | head: median (min–max) | head / base |",
    "|---|---:|---:|---:|",
    ...table.map(({ figure, base, head, ratio }) => `| ${figure} | ${cell(base)} | ${cell(head)} | ${ratio === undefined ? "—" : ratio.toFixed(2)} |`),
  ];
  if (problems.length) out.push("", "## Problems", "", ...problems.map((p) => `- ${p.replaceAll("\n", " ").slice(0, 600)}`));
  return out.join("\n") + "\n";
}

// ---- main ----

const sha = git("rev-parse", "--verify", `${flags.base}^{commit}`);
const headSha = git("rev-parse", "HEAD");
const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
const worktree = join(mkdtempSync(join(tmpdir(), "mcp-bench-base-")), "base");
const removeWorktree = (): void => {
  if (flags["keep-worktree"]) return log(`base worktree kept in ${worktree}`);
  try {
    git("worktree", "remove", "--force", worktree);
  } catch {
    // not added yet, or already gone
  }
  rmSync(resolve(worktree, ".."), { recursive: true, force: true });
};
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => {
    removeWorktree();
    process.exit(code);
  });
}

const started = new Date();
const figures: Figures = new Map();
const problems: string[] = [];
try {
  mkdirSync(outRoot, { recursive: true });
  log(`base ${flags.base} = ${sha.slice(0, 12)}, head ${headSha.slice(0, 12)}${dirty ? " + uncommitted changes" : ""}`);
  const baseMain = await buildBase(sha, worktree);
  for (let r = 1; r <= rounds; r++) {
    for (const side of ["base", "head"] as const) {
      const results = await runOnce(side, r, baseMain);
      for (const p of results.problems ?? []) problems.push(`${side}, round ${r}: ${p}`);
      for (const [figure, value] of figuresOf(results)) {
        const entry = figures.get(figure) ?? { base: [], head: [] };
        entry[side][r - 1] = value;
        figures.set(figure, entry);
      }
    }
  }
} finally {
  removeWorktree();
}

const table = [...figures].map(([figure, values]) => {
  const base = spread(values.base);
  const head = spread(values.head);
  return { figure, base, head, ratio: ratio(head.median, base.median) };
});
const command = ["make bench-compare", `BASE=${flags.base}`, ...(runArgs.length ? [`BENCH_ARGS="${runArgs.join(" ")}"`] : [])].join(" ");
const heading = [
  `# bench-compare: ${flags.base} (${sha.slice(0, 12)}) vs head (${headSha.slice(0, 12)}${dirty ? " + uncommitted changes" : ""})`,
  "",
  `- Command: \`${command}\`${rounds === 3 ? "" : ` with ROUNDS=${rounds}`}`,
  `- Date: ${started.toISOString()}; ${rounds} round${rounds === 1 ? "" : "s"} of base then head, each \`run.js --only load ${runArgs.join(" ")}\`.`.replace(/ \./, "."),
  "- Each cell: the median of the rounds, and (min–max) over them. Ratios near 1 within overlapping spreads are noise.",
];
const markdownReport = markdown(heading, table, problems);
const outFile = flags.out ? resolve(flags.out) : join(outRoot, "compare.json");
const json = { command, date: started.toISOString(), base: { ref: flags.base, sha }, head: { sha: headSha, dirty }, rounds, runArgs, figures: table, problems };
writeFileSync(outFile, JSON.stringify(json, (_, v: unknown) => (typeof v === "number" ? round(v, 3) : v), 2) + "\n");
writeFileSync(join(outRoot, "compare.md"), markdownReport);
process.stdout.write(markdownReport);
log(`done; ${relative(repoRoot, outFile)}`);
