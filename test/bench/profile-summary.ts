// Summarizes a V8 .cpuprofile (from `run.js --cpu-prof-dir`, or any `node --cpu-prof`): the functions with
// the most self time and the most inclusive time, and self time by module, with positions mapped through
// source maps back to the TypeScript sources.
//   node dist/test/bench/profile-summary.js FILE.cpuprofile [--top 25] [--skip-ms MS] [--calls N | --results results.json --config plain] [--json]
// --calls (or the calls of one configuration's legs in a run.js results.json) adds CPU µs per call to each line;
// --skip-ms leaves out the profile's first MS (startup: module loading, discovery), so that only the load is summarized.
import { existsSync, readFileSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const isOurs = (name: string): boolean => / (internal|cmd)\//.test(name);

export interface Entry {
  /** functionName file:line, the file relative to the repository (TypeScript source where a source map says so). */
  name: string;
  ms: number;
  /** Share of the profile's busy (non-idle) time. */
  share: number;
  usPerCall?: number;
}

export interface Summary {
  busyMs: number;
  idleMs: number;
  calls?: number;
  busyUsPerCall?: number;
  self: Entry[];
  inclusive: Entry[];
  /** Inclusive time of the repository's own functions (internal/, cmd/): where in our code the time is spent. */
  ours: Entry[];
  modules: Entry[];
}

const repoRoot = resolve(import.meta.dirname, "../../..");
const IDLE = new Set(["(idle)", "(program)"]);

/** Source maps of dist/ files, so positions name the .ts line; a file without one keeps its own position. */
class Positions {
  private readonly maps = new Map<string, SourceMap | undefined>();

  locate(frame: CallFrame): { file: string; line: number } {
    if (!frame.url) return { file: "", line: 0 };
    const path = frame.url.startsWith("file://") ? fileURLToPath(frame.url) : frame.url;
    const map = this.mapOf(path);
    // Profile positions are 0-based; SourceMap entries too; people read 1-based lines.
    const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry && "originalSource" in entry && entry.originalSource) {
      const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : resolve(path, "..", entry.originalSource);
      return { file: shortPath(source), line: entry.originalLine + 1 };
    }
    return { file: shortPath(path), line: frame.lineNumber + 1 };
  }

  private mapOf(path: string): SourceMap | undefined {
    if (!this.maps.has(path)) {
      const mapPath = `${path}.map`;
      let map: SourceMap | undefined;
      if (path.startsWith("/") && !path.includes("/node_modules/") && existsSync(mapPath)) {
        map = new SourceMap(JSON.parse(readFileSync(mapPath, "utf8")) as SourceMapPayload);
      }
      this.maps.set(path, map);
    }
    return this.maps.get(path);
  }
}

/** Repository files relative to their checkout (a base worktree's too), dependencies by package. */
function shortPath(path: string): string {
  const dep = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  if (dep) return `${dep[1]}/${dep[2]}`;
  const inRepo = /\/((?:internal|cmd|test|hack)\/.*)$/.exec(path);
  if (inRepo?.[1]) return inRepo[1];
  return path.startsWith("/") ? relative(repoRoot, path) : path;
}

/** What a file belongs to: one of our modules, a dependency package, or Node itself. */
function moduleOf(file: string, functionName: string): string {
  if (!file) return functionName.startsWith("(") ? functionName : "(native)";
  if (file.startsWith("node:")) return "node: (Node's own JS)";
  if (/^(internal|cmd)\//.test(file)) return file;
  const pkg = /^((?:@[^/]+\/)?[^/]+)\//.exec(file);
  return pkg?.[1] ?? file;
}

export function summarize(profile: CpuProfile, top: number, calls?: number, skipMs = 0): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  // Each sample's time is the delta to the next sample (V8's timeDeltas[i + 1]); the last sample gets none.
  let elapsedUs = 0;
  profile.samples.forEach((id, i) => {
    elapsedUs += profile.timeDeltas[i] ?? 0;
    if (elapsedUs >= skipMs * 1000) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });

  const positions = new Positions();
  const keyOf = new Map<number, { name: string; module: string }>();
  for (const n of profile.nodes) {
    const { file, line } = positions.locate(n.callFrame);
    const fn = n.callFrame.functionName || "(anonymous)";
    keyOf.set(n.id, { name: file ? `${fn} ${file}:${line}` : fn, module: moduleOf(file, fn) });
  }

  let idleUs = 0;
  let busyUs = 0;
  const self = new Map<string, number>();
  const modules = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const key = keyOf.get(id)!;
    if (IDLE.has(key.name)) {
      idleUs += us;
      continue;
    }
    busyUs += us;
    self.set(key.name, (self.get(key.name) ?? 0) + us);
    modules.set(key.module, (modules.get(key.module) ?? 0) + us);
    // Inclusive: every distinct function on the sample's stack, once however often it recurs.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = keyOf.get(at)!.name;
      if (seen.has(name) || byId.get(at)?.callFrame.functionName === "(root)") continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  const entries = (m: Map<string, number>, keep: (name: string) => boolean = () => true): Entry[] =>
    [...m]
      .filter(([name]) => keep(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 100) / 10,
        share: busyUs > 0 ? us / busyUs : 0,
        ...(calls ? { usPerCall: Math.round((us / calls) * 10) / 10 } : {}),
      }));
  return {
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    ...(calls ? { calls, busyUsPerCall: Math.round((busyUs / calls) * 10) / 10 } : {}),
    self: entries(self),
    inclusive: entries(inclusive),
    ours: entries(inclusive, isOurs),
    modules: entries(modules),
  };
}

function markdown(file: string, s: Summary): string {
  const perCall = s.calls !== undefined;
  const table = (title: string, rows: Entry[]): string[] => [
    "",
    `### ${title}`,
    "",
    `| ms | share of busy | ${perCall ? "µs/call | " : ""}function |`,
    `|---:|---:|${perCall ? "---:|" : ""}---|`,
    ...rows.map((e) => `| ${e.ms.toFixed(1)} | ${(e.share * 100).toFixed(1)} % | ${perCall ? `${e.usPerCall} | ` : ""}\`${e.name}\` |`),
  ];
  return [
    `## ${file}`,
    "",
    `Busy ${s.busyMs} ms, idle ${s.idleMs} ms${perCall ? `; ${s.calls} calls, ${s.busyUsPerCall} µs busy per call` : ""}.`,
    ...table("Self time by module", s.modules),
    ...table("Self time", s.self),
    ...table("Inclusive time", s.inclusive),
    ...table("Inclusive time of our functions (internal/, cmd/)", s.ours),
  ].join("\n");
}

interface ResultsFile {
  load?: { configs?: Record<string, { calls: number; warmupCalls: number } | undefined>; gateway?: { calls: number; warmupCalls: number } }[];
}

/** The calls one configuration's gateway served in a run.js results.json (warm-up included, as the profile covers it). */
function callsInResults(path: string, config: string): number {
  const results = JSON.parse(readFileSync(path, "utf8")) as ResultsFile;
  return (results.load ?? []).reduce((sum, row) => {
    const leg = row.configs?.[config] ?? (config === "plain" ? row.gateway : undefined);
    return sum + (leg ? leg.calls + leg.warmupCalls : 0);
  }, 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    options: {
      top: { type: "string", default: "25" },
      "skip-ms": { type: "string", default: "0" },
      calls: { type: "string" },
      results: { type: "string" },
      config: { type: "string", default: "plain" },
      json: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) throw new Error("usage: profile-summary.js FILE.cpuprofile... [--top N] [--calls N | --results results.json --config NAME] [--json]");
  const calls = values.calls ? Number(values.calls) : values.results ? callsInResults(values.results, values.config) : undefined;
  const summaries = positionals.map((file) => ({ file, ...summarize(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, Number(values.top), calls, Number(values["skip-ms"])) }));
  process.stdout.write(values.json ? JSON.stringify(summaries, null, 2) + "\n" : summaries.map((s) => markdown(s.file, s)).join("\n\n") + "\n");
}
