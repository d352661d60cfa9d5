// `make bench`: what the gateway costs compared with calling the upstream directly, measured in the same
// run on the same machine. Starts a synthetic upstream and the real broker-router, drives both with the
// same out-of-process load generator, and prints (and saves) a markdown report with PASS/FAIL per target.
//   node dist/test/bench/run.js [--quick]
// Exits 1 only when something could not be measured; missed targets are reported, not fatal.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { brokerMain, freePort } from "../helpers/gateway-process.js";
import { createPool, McpSession } from "./mcp-client.js";
import { round } from "./stats.js";

const { values: flags } = parseArgs({ options: { quick: { type: "boolean", default: false } }, strict: true });
const quick = flags.quick;

const CONCURRENCIES = [1, 8, 32, 128];
const LEG_MS = quick ? 2_000 : 10_000;
const WARMUP_MS = quick ? 300 : 1_000;
const LOAD_TOOLS = 10;
const IDLE_SESSIONS = 10_000;
const LIST_SERVERS = 100;
const LIST_TOOLS = 100;
const LIST_ITERATIONS = quick ? 10 : 50;
const READY_TIMEOUT_MS = 60_000;
const TARGET = { addedP50Ms: 1, addedP99Ms: 5, throughputRatio: 0.7, idleRssMb: 500, listP50Ms: 20, atClients: 32 };

const here = import.meta.dirname;
const repoRoot = resolve(here, "../../..");
const outDir = join(repoRoot, ".cache/bench");
const loadgenJs = join(here, "loadgen.js");
const upstreamJs = join(here, "synthetic-upstream.js");
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

// ---- child processes: every one is tracked so nothing outlives the run, whatever ends it ----

const live = new Set<Child>();
const STDOUT_LINES_KEPT = 200;

class Child {
  readonly proc: ChildProcess;
  private tail = "";
  private partial = "";
  private readonly lines: string[] = [];

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ) {
    this.proc = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    live.add(this);
    this.proc.once("exit", () => live.delete(this));
    this.proc.stdout?.on("data", (chunk: Buffer) => {
      this.keep(chunk);
      const parts = (this.partial + chunk.toString()).split("\n");
      this.partial = parts.pop() ?? "";
      this.lines.push(...parts);
      this.lines.splice(0, Math.max(0, this.lines.length - STDOUT_LINES_KEPT));
    });
    this.proc.stderr?.on("data", (chunk: Buffer) => this.keep(chunk));
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.proc.pid;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  assertRunning(during: string): void {
    if (this.exited) throw new Error(`${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}) during ${during}:\n${this.output()}`);
  }

  /** The last few KB of output, for error messages. */
  output(): string {
    return this.tail;
  }

  /** Our own tools announce themselves with one stdout line (`listening P`, a JSON result). */
  line(pattern: RegExp, timeoutMs: number): Promise<string> {
    return waitFor(`${this.name} to print ${pattern}`, timeoutMs, [this], async () => this.lines.find((l) => pattern.test(l)));
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((done) => this.proc.once("exit", done));
    this.proc.kill("SIGTERM");
    if (await Promise.race([gone.then(() => true), sleep(5_000, false)])) return;
    this.proc.kill("SIGKILL");
    await gone;
  }

  private keep(chunk: Buffer): void {
    this.tail = (this.tail + chunk.toString()).slice(-4_000);
  }
}

function killAll(): void {
  for (const child of live) child.proc.kill("SIGKILL");
}
process.on("exit", killAll);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(code);
  });
}

/** Polls check() until it yields a value; fails fast if a process it depends on dies. */
async function waitFor<T>(what: string, timeoutMs: number, dependsOn: Child[], check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    for (const child of dependsOn) child.assertRunning(`the wait for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await sleep(100);
  }
}

// ---- /proc readings ----

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm) " start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

// ---- the system under test: synthetic upstream + gateway in front of it ----

interface Stack {
  upstream: Child;
  gateway: Child;
  directUrl: string;
  gatewayUrl: string;
}

/** Starts upstream + gateway for `servers` x `tools`, runs `body` once the gateway serves them all, then stops both. */
async function withStack<T>(servers: number, tools: number, body: (stack: Stack) => Promise<T>): Promise<T> {
  const started: Child[] = [];
  try {
    const upstream = new Child("synthetic upstream", upstreamJs, ["--port", "0", "--servers", String(servers), "--tools", String(tools)]);
    started.push(upstream);
    const port = Number((await upstream.line(/^listening \d+$/, 10_000)).split(" ")[1]);
    const names = Array.from({ length: servers }, (_, i) => `s${i}`);
    const registryPath = join(outDir, "registry.yaml");
    const registry = {
      servers: names.map((n, i) => ({
        name: `bench/${n}`,
        url: `http://127.0.0.1:${port}/mcp/${i}`,
        hostname: `${n}.mcp.local`,
        toolPrefix: `${n}_`,
        enabled: true,
      })),
      virtualServers: [],
    };
    writeFileSync(registryPath, stringify(registry));
    const gatewayPort = await freePort();
    // Quiet logs: per-request logging would be measured as gateway cost.
    const gateway = new Child(
      "gateway",
      brokerMain,
      ["--mcp-gateway-config", registryPath, "--mcp-broker-public-address", `127.0.0.1:${gatewayPort}`],
      { LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    );
    started.push(gateway);
    const stack = { upstream, gateway, directUrl: `http://127.0.0.1:${port}/mcp`, gatewayUrl: `http://127.0.0.1:${gatewayPort}/mcp` };
    await waitUntilServing(stack, names, servers * tools);
    return await body(stack);
  } finally {
    await Promise.all(started.map((c) => c.stop()));
  }
}

/** True when each server appears in the /status document with ready: true, as a key or as a field of the same object. */
function statusShowsReady(doc: unknown, names: string[]): boolean {
  const ready = new Set<string>();
  const visit = (node: unknown, key: string | undefined): void => {
    if (typeof node !== "object" || node === null) return;
    const entries = Object.entries(node);
    if (!Array.isArray(node) && (node as { ready?: unknown }).ready === true) {
      for (const v of [key, ...entries.map(([, v]) => v)]) if (typeof v === "string") ready.add(v);
    }
    for (const [k, v] of entries) visit(v, Array.isArray(node) ? undefined : k);
  };
  visit(doc, undefined);
  return names.every((n) => ready.has(`bench/${n}`) || ready.has(n));
}

/** /status says every server is ready, or (tolerating other /status shapes) their tools show up; then at least minTools are listed. */
async function waitUntilServing(stack: Stack, names: string[], minTools: number): Promise<number> {
  const deps = [stack.gateway, stack.upstream];
  const statusUrl = new URL("/status", stack.gatewayUrl);
  const pool = createPool(stack.gatewayUrl, 1);
  let session: McpSession | undefined;
  const listed = async (): Promise<string[]> => {
    try {
      session ??= await McpSession.open(pool, stack.gatewayUrl);
      return await session.listTools();
    } catch (err) {
      session = undefined;
      throw err;
    }
  };
  try {
    await waitFor("the gateway to report its servers ready", READY_TIMEOUT_MS, deps, async () => {
      const status = await fetch(statusUrl).then((r) => (r.ok ? r.json() : undefined)).catch(() => undefined);
      if (statusShowsReady(status, names)) return true;
      const tools = new Set(await listed());
      return names.every((n) => tools.has(`${n}_echo`)) || undefined;
    });
    return await waitFor(`the gateway to list ${minTools}+ tools`, READY_TIMEOUT_MS, deps, async () => {
      const count = (await listed()).length;
      return count >= minTools ? count : undefined;
    });
  } finally {
    await pool.close();
  }
}

// ---- measurements ----

interface LoadResult {
  calls: number;
  errors: number;
  durationMs: number;
  throughput: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  warmupCalls: number;
  errorSample?: string;
}
interface Leg extends LoadResult {
  /** CPU the serving process (upstream for direct, gateway for gateway) spent per call, warm-up included. */
  serverCpuUsPerCall: number;
}
interface LoadRow {
  clients: number;
  direct?: Leg;
  gateway?: Leg;
}
interface IdleResult {
  opened: number;
  errors: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  errorSample?: string;
}
interface ListResult {
  tools: number;
  pages: number;
  iterations: number;
  /** One tools/list request (one page of the gateway's paging). */
  request: { p50Ms: number | null; p99Ms: number | null };
  /** Every page of the listing, including the load generator's JSON parsing of all of them. */
  full: { p50Ms: number | null; p99Ms: number | null };
}

const problems: string[] = [];

/** Runs a measurement; a failure is recorded for the report instead of aborting the other measurements. */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** One loadgen process; resolves with the JSON line it prints. */
async function loadgen<T>(args: string[], timeoutMs: number): Promise<T> {
  const child = new Child("loadgen", loadgenJs, args);
  try {
    return JSON.parse(await child.line(/^\{/, timeoutMs)) as T;
  } finally {
    await child.stop();
  }
}

async function loadLeg(server: Child, url: string, tool: string, clients: number): Promise<Leg> {
  const cpuBefore = cpuSeconds(server.pid);
  const args = ["--url", url, "--tool", tool, "--concurrency", String(clients), "--duration-ms", String(LEG_MS), "--warmup-ms", String(WARMUP_MS)];
  const result = await loadgen<LoadResult>(args, LEG_MS + WARMUP_MS + 60_000);
  server.assertRunning(`${clients}-client load`);
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  return { ...result, serverCpuUsPerCall: round((cpu * 1e6) / Math.max(1, result.calls + result.warmupCalls), 1) };
}

async function measureLoad(): Promise<LoadRow[]> {
  return withStack(1, LOAD_TOOLS, async (stack) => {
    const rows: LoadRow[] = [];
    for (const clients of CONCURRENCIES) {
      rows.push({
        clients,
        direct: await attempt(`direct leg, ${clients} clients`, () => loadLeg(stack.upstream, stack.directUrl, "echo", clients)),
        gateway: await attempt(`gateway leg, ${clients} clients`, () => loadLeg(stack.gateway, stack.gatewayUrl, "s0_echo", clients)),
      });
    }
    return rows;
  });
}

async function measureIdleSessions(): Promise<IdleResult> {
  // A fresh gateway, so earlier load does not blur the baseline; one short burst warms it to steady state first.
  return withStack(1, LOAD_TOOLS, async (stack) => {
    await loadgen(["--url", stack.gatewayUrl, "--tool", "s0_echo", "--concurrency", "8", "--duration-ms", "1000", "--warmup-ms", "0"], 60_000);
    const rssBeforeKb = rssKb(stack.gateway.pid);
    const holder = new Child("loadgen idle-sessions", loadgenJs, ["--url", stack.gatewayUrl, "--mode", "idle-sessions", "--count", String(IDLE_SESSIONS)]);
    try {
      const opened = JSON.parse(await holder.line(/^\{/, 300_000)) as Pick<IdleResult, "opened" | "errors" | "errorSample">;
      await sleep(2_000); // let in-flight work and freed sockets settle before reading RSS
      stack.gateway.assertRunning("idle sessions");
      return { ...opened, rssBeforeKb, rssAfterKb: rssKb(stack.gateway.pid) };
    } finally {
      await holder.stop();
    }
  });
}

async function measureList(): Promise<ListResult> {
  return withStack(LIST_SERVERS, LIST_TOOLS, (stack) =>
    loadgen<ListResult>(["--url", stack.gatewayUrl, "--mode", "list", "--iterations", String(LIST_ITERATIONS)], 300_000),
  );
}

// ---- report ----

const isNum = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);
const ms = (v: number | null | undefined): string => (isNum(v) ? `${v.toFixed(2)} ms` : "—");
const diff = (a: number | null | undefined, b: number | null | undefined): number => (isNum(a) && isNum(b) ? a - b : NaN);
const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
const clean = (leg: Leg | undefined): leg is Leg => leg !== undefined && leg.errors === 0 && leg.calls > 0;

function report(command: string, started: Date, rows: LoadRow[] | undefined, idle: IdleResult | undefined, list: ListResult | undefined): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const out = [
    "# MCP gateway overhead benchmark",
    "",
    `- Command: \`${command}\``,
    `- Date: ${started.toISOString()}`,
    `- Machine: ${os.availableParallelism()} CPUs (nproc), ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.arch()}`,
    `- Node: ${process.version}`,
    // Everything shares this machine, so other work on it skews results; the load average makes that visible.
    `- Load average (1 min) at start / end: ${loadAtStart.toFixed(2)} / ${os.loadavg()[0]?.toFixed(2)}`,
    `- Method: closed-loop clients, one MCP session each, calling \`echo\` on a synthetic SDK upstream directly and as \`s0_echo\` through the gateway; ` +
      `${LEG_MS / 1000} s per leg after ${WARMUP_MS / 1000} s warm-up${quick ? " (--quick: short legs, indicative only)" : ""}. ` +
      "Load generator, upstream and gateway share this machine's CPUs.",
    "",
    "## Tool calls",
    "",
    "| clients | direct calls/s | gateway calls/s | ratio | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | added p99 | upstream CPU/call (direct) | gateway CPU/call | errors direct / gateway |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { clients, direct: d, gateway: g } of rows ?? []) {
    const ratio = d && g && d.throughput > 0 ? (g.throughput / d.throughput).toFixed(2) : "—";
    out.push(
      `| ${clients} | ${d?.throughput.toFixed(0) ?? "—"} | ${g?.throughput.toFixed(0) ?? "—"} | ${ratio} | ${ms(d?.p50Ms)} | ${ms(g?.p50Ms)} | ${ms(diff(g?.p50Ms, d?.p50Ms))} | ` +
        `${ms(d?.p99Ms)} | ${ms(g?.p99Ms)} | ${ms(diff(g?.p99Ms, d?.p99Ms))} | ${d ? `${d.serverCpuUsPerCall} µs` : "—"} | ${g ? `${g.serverCpuUsPerCall} µs` : "—"} | ` +
        `${d?.errors ?? "—"} / ${g?.errors ?? "—"} |`,
    );
  }
  out.push("", "## Idle sessions (through the gateway)", "");
  if (idle) {
    const deltaKb = idle.rssAfterKb - idle.rssBeforeKb;
    out.push(
      "| sessions opened | errors | gateway RSS before | gateway RSS after | added | per session |",
      "|---:|---:|---:|---:|---:|---:|",
      `| ${idle.opened} | ${idle.errors} | ${mb(idle.rssBeforeKb)} | ${mb(idle.rssAfterKb)} | ${mb(deltaKb)} | ${idle.opened ? (deltaKb / idle.opened).toFixed(1) : "—"} KB |`,
    );
  } else out.push("not measured");
  out.push("", `## tools/list through the gateway (${LIST_SERVERS} upstreams x ${LIST_TOOLS} tools)`, "");
  if (list) {
    out.push(
      "| tools listed | pages | iterations | one request p50 | one request p99 | whole listing p50 | whole listing p99 |",
      "|---:|---:|---:|---:|---:|---:|---:|",
      `| ${list.tools} | ${list.pages} | ${list.iterations} | ${ms(list.request.p50Ms)} | ${ms(list.request.p99Ms)} | ${ms(list.full.p50Ms)} | ${ms(list.full.p99Ms)} |`,
    );
  } else out.push("not measured");

  // All load targets are judged at one operating point; at 1 client throughput is just 1/latency, so it would
  // double-count the latency targets. A target only passes on a clean measurement: errors or missing data FAIL.
  const at = rows?.find((r) => r.clients === TARGET.atClients);
  const atClean = clean(at?.direct) && clean(at?.gateway);
  const addedP50 = diff(at?.gateway?.p50Ms, at?.direct?.p50Ms);
  const addedP99 = diff(at?.gateway?.p99Ms, at?.direct?.p99Ms);
  const ratio = at?.gateway && at.direct ? at.gateway.throughput / at.direct.throughput : NaN;
  const targets: [string, string, boolean][] = [
    [`added p50 ≤ ${TARGET.addedP50Ms} ms at ${TARGET.atClients} clients`, ms(addedP50), atClean && addedP50 <= TARGET.addedP50Ms],
    [`added p99 ≤ ${TARGET.addedP99Ms} ms at ${TARGET.atClients} clients`, ms(addedP99), atClean && addedP99 <= TARGET.addedP99Ms],
    [
      `throughput ≥ ${TARGET.throughputRatio * 100}% of direct at ${TARGET.atClients} clients`,
      Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)}%` : "—",
      atClean && ratio >= TARGET.throughputRatio,
    ],
    [
      `${IDLE_SESSIONS.toLocaleString("en")} idle sessions ≤ ${TARGET.idleRssMb} MB gateway RSS`,
      idle ? `${mb(idle.rssAfterKb)} (${idle.opened} opened)` : "—",
      idle !== undefined && idle.opened === IDLE_SESSIONS && idle.rssAfterKb / 1024 <= TARGET.idleRssMb,
    ],
    [
      `tools/list request over 10,000 tools p50 ≤ ${TARGET.listP50Ms} ms`,
      list ? `${ms(list.request.p50Ms)} (${list.tools} tools; whole listing ${ms(list.full.p50Ms)})` : "—",
      list !== undefined && list.tools >= LIST_SERVERS * LIST_TOOLS && isNum(list.request.p50Ms) && list.request.p50Ms <= TARGET.listP50Ms,
    ],
  ];
  out.push("", "## Targets", "", "| target | measured | result |", "|---|---:|:---:|");
  for (const [name, measured, pass] of targets) out.push(`| ${name} | ${measured} | ${pass ? "PASS" : "FAIL"} |`);

  const errorSamples = (rows ?? []).flatMap((r) =>
    (["direct", "gateway"] as const).flatMap((leg) => (r[leg]?.errorSample ? [`${leg} leg, ${r.clients} clients: ${r[leg].errorSample}`] : [])),
  );
  if (idle?.errorSample) errorSamples.push(`idle sessions: ${idle.errorSample}`);
  const notes = [...problems, ...errorSamples];
  if (notes.length) out.push("", "## Problems", "", ...notes.map((p) => `- ${p.replaceAll("\n", " ").slice(0, 600)}`));
  return out.join("\n") + "\n";
}

const started = new Date();
const loadAtStart = os.loadavg()[0] ?? NaN;
mkdirSync(outDir, { recursive: true });
const command = ["node", relative(repoRoot, process.argv[1] ?? join(here, "run.js")), ...process.argv.slice(2)].join(" ");
const log = (msg: string): void => console.error(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${msg}`);

log("tool-call latency and throughput, direct vs gateway");
const rows = await attempt("tool-call legs", measureLoad);
log(`${IDLE_SESSIONS} idle sessions`);
const idle = await attempt("idle sessions", measureIdleSessions);
log(`tools/list over ${LIST_SERVERS} x ${LIST_TOOLS} tools`);
const list = await attempt("tools/list", measureList);

const markdown = report(command, started, rows, idle, list);
writeFileSync(join(outDir, "report.md"), markdown);
writeFileSync(join(outDir, "results.json"), JSON.stringify({ command, date: started.toISOString(), load: rows, idle, list, problems }, null, 2) + "\n");
process.stdout.write(markdown);
log(`done; report in ${relative(repoRoot, join(outDir, "report.md"))}`);
process.exit(problems.length ? 1 : 0);
