// `make bench`: what the gateway costs compared with calling the upstream directly, measured in the same
// run on the same machine. Starts a synthetic upstream and the real broker-router, drives both with the
// same out-of-process load generator, and prints (and saves) a markdown report with PASS/FAIL per target.
//   node dist/test/bench/run.js [--quick] [--only load,idle,list,kinds,era2026,soak] [--soak-seconds S] [--soak-sessions N] [--soak-rate R]
//     [--clients 1,8,32,128] [--leg-seconds S] [--warmup-seconds S] [--configs plain,shared-key,redis,jwt,production]
//     [--kinds-clients 1,8] [--kinds-leg-seconds S] [--era2026-clients 1,8,32] [--era2026-leg-seconds S]
//     [--gateway-main PATH] [--cpu-prof-dir DIR] [--out-dir DIR]
// --quick shortens every phase (the soak to 1,000 sessions for 20 s); --soak-seconds 0 skips the soak.
// The kinds phase (kinds.ts) measures a stdio, a legacy SSE and a Streamable HTTP server directly and through the gateway, on SDK clients.
// The era2026 phase (era2026.ts) measures an SDK v2 client pinned to 2026-07-28 against an SDK v2 upstream, directly and through the gateway.
// --configs runs the load phase's gateway legs once per configuration (configs.ts), beside each other;
// --gateway-main runs another build of the broker-router (make bench-compare: a base commit's);
// --cpu-prof-dir makes every gateway write a CPU profile there when it exits.
// Exits 1 only when something could not be measured; missed targets are reported, not fatal.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { parseConfigs, prepareConfigs, type ConfigName } from "./configs.js";
import { measureEra2026, type Era2026Row } from "./era2026.js";
import { KINDS, measureKinds, type KindsRow } from "./kinds.js";
import { judgeSoak, measureSoak, SOAK_FULL, SOAK_QUICK, soakMarkdown, soakProblems, soakTarget, type SoakResult } from "./soak.js";
import { Child, clientHeaders, cpuSeconds, DEFAULT_LAUNCH, loadgen, loadgenJs, rssKb, withStack, type GatewayLaunch, type GatewayUnderTest } from "./stack.js";
import { round } from "./stats.js";

const PHASES = ["load", "idle", "list", "kinds", "era2026", "soak"] as const;
const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", default: PHASES.join(",") },
    "soak-seconds": { type: "string" },
    "soak-sessions": { type: "string" },
    "soak-rate": { type: "string" },
    clients: { type: "string", default: "1,8,32,128" },
    "leg-seconds": { type: "string" },
    "warmup-seconds": { type: "string" },
    configs: { type: "string", default: "plain" },
    "kinds-clients": { type: "string", default: "1,8" },
    "kinds-leg-seconds": { type: "string" },
    "era2026-clients": { type: "string", default: "1,8,32" },
    "era2026-leg-seconds": { type: "string" },
    "gateway-main": { type: "string" },
    "cpu-prof-dir": { type: "string" },
    "out-dir": { type: "string" },
  },
  strict: true,
});
const quick = flags.quick;
const phases = new Set(flags.only.split(",").map((p) => p.trim()));
for (const phase of phases) if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`--only: unknown phase ${phase}; expected ${PHASES.join(", ")}`);
const soakDefaults = quick ? SOAK_QUICK : SOAK_FULL;
const soakSettings = {
  sessions: Number(flags["soak-sessions"] ?? soakDefaults.sessions),
  seconds: Number(flags["soak-seconds"] ?? soakDefaults.seconds),
  rate: Number(flags["soak-rate"] ?? soakDefaults.rate),
};
for (const [name, value] of Object.entries(soakSettings)) {
  if (!Number.isInteger(value) || value < (name === "seconds" ? 0 : 1)) throw new Error(`--soak-${name}: expected a whole number, got ${value}`);
}
if (soakSettings.seconds === 0) phases.delete("soak");

/** A positive number of seconds from a flag, or the default. */
function secondsFlag(name: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const s = Number(value);
  if (!Number.isFinite(s) || s < 0) throw new Error(`--${name}: expected seconds, got ${value}`);
  return Math.round(s * 1000);
}
/** A comma-separated list of client counts from a flag. */
function clientCounts(name: string, value: string): number[] {
  return value.split(",").map((c) => {
    const n = Number(c.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected whole numbers, got ${c}`);
    return n;
  });
}
const CONCURRENCIES = clientCounts("clients", flags.clients);
const LEG_MS = secondsFlag("leg-seconds", flags["leg-seconds"], quick ? 2_000 : 10_000);
const WARMUP_MS = secondsFlag("warmup-seconds", flags["warmup-seconds"], quick ? 300 : 1_000);
if (LEG_MS === 0) throw new Error("--leg-seconds must be more than 0");
// Twelve legs (three kinds, direct and gateway, at two client counts): shorter than the load phase's by default.
const KINDS_SETTINGS = { clients: clientCounts("kinds-clients", flags["kinds-clients"]), legMs: secondsFlag("kinds-leg-seconds", flags["kinds-leg-seconds"], quick ? 2_000 : 5_000), warmupMs: WARMUP_MS };
if (KINDS_SETTINGS.legMs === 0) throw new Error("--kinds-leg-seconds must be more than 0");
const ERA2026_SETTINGS = { clients: clientCounts("era2026-clients", flags["era2026-clients"]), legMs: secondsFlag("era2026-leg-seconds", flags["era2026-leg-seconds"], quick ? 2_000 : 5_000), warmupMs: WARMUP_MS };
if (ERA2026_SETTINGS.legMs === 0) throw new Error("--era2026-leg-seconds must be more than 0");
const CONFIG_NAMES = parseConfigs(flags.configs);
const launch: GatewayLaunch = {
  main: flags["gateway-main"] ? resolve(flags["gateway-main"]) : DEFAULT_LAUNCH.main,
  ...(flags["cpu-prof-dir"] ? { cpuProfDir: resolve(flags["cpu-prof-dir"]) } : {}),
};
const LOAD_TOOLS = 10;
const IDLE_SESSIONS = 10_000;
const LIST_SERVERS = 100;
const LIST_TOOLS = 100;
const LIST_ITERATIONS = quick ? 10 : 50;
const TARGET = { addedP50Ms: 1, addedP99Ms: 5, throughputRatio: 0.7, idleRssMb: 500, listP50Ms: 20, atClients: 32 };
/** Issue 10's targets for the 2026-07-28 phase: throughput at 32 clients, added p50 at 1. */
const ERA2026_TARGET = { throughputRatio: 0.85, atClients: 32, addedP50Ms: 0.3, latencyAtClients: 1 };

const here = import.meta.dirname;
const repoRoot = resolve(here, "../../..");
const outDir = flags["out-dir"] ? resolve(flags["out-dir"]) : join(repoRoot, ".cache/bench");

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
  /** CPU the upstream spent per call during this leg (for a direct leg, the same as serverCpuUsPerCall). */
  upstreamCpuUsPerCall: number;
}
interface LoadRow {
  clients: number;
  direct?: Leg;
  /** The leg of the first configuration of --configs (plain by default). */
  gateway?: Leg;
  /** Every configuration's leg, by name (with one configuration, just the gateway leg again). */
  configs?: Partial<Record<ConfigName, Leg>>;
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

/** One closed-loop leg against `server` (the upstream itself, or a gateway in front of `upstream`). */
async function loadLeg(server: Child, upstream: Child, url: string, tool: string, clients: number, headers: Record<string, string> = {}): Promise<Leg> {
  const cpuBefore = cpuSeconds(server.pid);
  const upstreamBefore = cpuSeconds(upstream.pid);
  const args = ["--url", url, "--tool", tool, "--concurrency", String(clients), "--duration-ms", String(LEG_MS), "--warmup-ms", String(WARMUP_MS)];
  const bearer = headers.authorization?.replace(/^Bearer /, "");
  if (bearer) args.push("--bearer", bearer);
  const result = await loadgen<LoadResult>(args, LEG_MS + WARMUP_MS + 60_000);
  server.assertRunning(`${clients}-client load`);
  const perCall = (cpuS: number): number => round((cpuS * 1e6) / Math.max(1, result.calls + result.warmupCalls), 1);
  return { ...result, serverCpuUsPerCall: perCall(cpuSeconds(server.pid) - cpuBefore), upstreamCpuUsPerCall: perCall(cpuSeconds(upstream.pid) - upstreamBefore) };
}

async function gatewayLeg(gateway: GatewayUnderTest, upstream: Child, clients: number): Promise<Leg> {
  return loadLeg(gateway.child, upstream, gateway.url, "s0_echo", clients, await clientHeaders(gateway.spec));
}

/** Every configuration's gateway serves at once; at each concurrency the direct leg runs first, then each gateway's, in --configs order. */
async function measureLoad(): Promise<LoadRow[]> {
  const configs = await prepareConfigs(CONFIG_NAMES);
  try {
    return await withStack(
      1,
      LOAD_TOOLS,
      async (stack) => {
        const rows: LoadRow[] = [];
        for (const clients of CONCURRENCIES) {
          const direct = await attempt(`direct leg, ${clients} clients`, () => loadLeg(stack.upstream, stack.upstream, stack.directUrl, "echo", clients));
          const configs: Partial<Record<ConfigName, Leg>> = {};
          for (const gateway of stack.gateways) {
            const name = gateway.spec.name as ConfigName;
            const leg = await attempt(`gateway leg (${name}), ${clients} clients`, () => gatewayLeg(gateway, stack.upstream, clients));
            if (leg) configs[name] = leg;
          }
          rows.push({ clients, direct, gateway: configs[CONFIG_NAMES[0]!], configs });
        }
        return rows;
      },
      { gateways: configs.specs, launch },
    );
  } finally {
    await configs.stop();
  }
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
  }, { launch });
}

async function measureList(): Promise<ListResult> {
  return withStack(LIST_SERVERS, LIST_TOOLS, (stack) =>
    loadgen<ListResult>(["--url", stack.gatewayUrl, "--mode", "list", "--iterations", String(LIST_ITERATIONS)], 300_000), { launch },
  );
}

// ---- report ----

const isNum = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);
const ms = (v: number | null | undefined): string => (isNum(v) ? `${v.toFixed(2)} ms` : "—");
const diff = (a: number | null | undefined, b: number | null | undefined): number => (isNum(a) && isNum(b) ? a - b : NaN);
const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
const clean = <L extends { calls: number; errors: number }>(leg: L | undefined): leg is L => leg !== undefined && leg.errors === 0 && leg.calls > 0;

/** The gateway legs of every configuration, beside the first (plain, when it runs) and direct. */
function configsMarkdown(rows: LoadRow[]): string[] {
  const [reference] = CONFIG_NAMES;
  const out = [
    "",
    `## Configurations (${CONFIG_NAMES.join(", ")}; see test/bench/configs.ts)`,
    "",
    `| clients | configuration | calls/s | vs direct | vs ${reference} | p50 | p99 | gateway CPU/call | upstream CPU/call | errors |`,
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const ratio = (a: Leg | undefined, b: Leg | undefined): string => (a && b && b.throughput > 0 ? (a.throughput / b.throughput).toFixed(2) : "—");
  for (const { clients, direct, configs = {} } of rows) {
    for (const name of CONFIG_NAMES) {
      const leg = configs[name];
      out.push(
        `| ${clients} | ${name} | ${leg?.throughput.toFixed(0) ?? "—"} | ${ratio(leg, direct)} | ${ratio(leg, configs[reference!])} | ${ms(leg?.p50Ms)} | ${ms(leg?.p99Ms)} | ` +
          `${leg ? `${leg.serverCpuUsPerCall} µs` : "—"} | ${leg ? `${leg.upstreamCpuUsPerCall} µs` : "—"} | ${leg?.errors ?? "—"} |`,
      );
    }
  }
  return out;
}

/** Direct vs gateway for each server kind: SDK clients on every leg, so no CPU columns (a direct stdio leg's server is several processes). */
function kindsMarkdown(kinds: KindsRow[] | undefined): string[] {
  const { clients, legMs, warmupMs } = KINDS_SETTINGS;
  const out = [
    "",
    `## Server kinds: ${KINDS.join(", ")} (server-everything), direct vs gateway`,
    "",
    `SDK clients on every leg: direct through the SDK's stdio client (one process per client), SSEClientTransport or StreamableHTTPClientTransport, through the gateway the last; ` +
      `${clients.join(" and ")} clients, ${legMs / 1000} s per leg after ${warmupMs / 1000} s warm-up.`,
    "",
  ];
  if (!kinds) return [...out, "not measured"];
  out.push(
    "| kind | clients | direct calls/s | gateway calls/s | ratio | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | errors direct / gateway |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const { kind, clients: n, direct: d, gateway: g } of kinds) {
    const ratio = d && g && d.throughput > 0 ? (g.throughput / d.throughput).toFixed(2) : "—";
    out.push(
      `| ${kind} | ${n} | ${d?.throughput.toFixed(0) ?? "—"} | ${g?.throughput.toFixed(0) ?? "—"} | ${ratio} | ${ms(d?.p50Ms)} | ${ms(g?.p50Ms)} | ${ms(diff(g?.p50Ms, d?.p50Ms))} | ` +
        `${ms(d?.p99Ms)} | ${ms(g?.p99Ms)} | ${d?.errors ?? "—"} / ${g?.errors ?? "—"} |`,
    );
  }
  return out;
}

/** Direct vs gateway with the SDK v2 client pinned to 2026-07-28, with both processes' CPU per call. */
function era2026Markdown(era2026: Era2026Row[] | undefined): string[] {
  const { clients, legMs, warmupMs } = ERA2026_SETTINGS;
  const out = [
    "",
    "## MCP 2026-07-28: SDK v2 client pinned to 2026-07-28, SDK v2 upstream, direct vs gateway",
    "",
    `\`echo\` on an SDK v2 \`createMcpHandler\` upstream that serves only 2026-07-28, directly and as \`modern_echo\` through the gateway (no sessions on either leg); ` +
      `${clients.join(", ")} clients, ${legMs / 1000} s per leg after ${warmupMs / 1000} s warm-up.`,
    "",
  ];
  if (!era2026) return [...out, "not measured"];
  out.push(
    "| clients | direct calls/s | gateway calls/s | ratio | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | upstream CPU/call (direct) | upstream CPU/call (gateway leg) | gateway CPU/call | errors direct / gateway |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const { clients: n, direct: d, gateway: g } of era2026) {
    const ratio = d && g && d.throughput > 0 ? (g.throughput / d.throughput).toFixed(2) : "—";
    out.push(
      `| ${n} | ${d?.throughput.toFixed(0) ?? "—"} | ${g?.throughput.toFixed(0) ?? "—"} | ${ratio} | ${ms(d?.p50Ms)} | ${ms(g?.p50Ms)} | ${ms(diff(g?.p50Ms, d?.p50Ms))} | ` +
        `${ms(d?.p99Ms)} | ${ms(g?.p99Ms)} | ${d ? `${d.upstreamCpuUsPerCall} µs` : "—"} | ${g ? `${g.upstreamCpuUsPerCall} µs` : "—"} | ${g?.gatewayCpuUsPerCall ?? "—"} µs | ${d?.errors ?? "—"} / ${g?.errors ?? "—"} |`,
    );
  }
  return out;
}

/** Issue 10's two targets for the 2026-07-28 phase; a leg with errors or missing data FAILs. */
function era2026Targets(era2026: Era2026Row[] | undefined): [string, string, boolean][] {
  const at = era2026?.find((r) => r.clients === ERA2026_TARGET.atClients);
  const ratio = at?.gateway && at.direct && at.direct.throughput > 0 ? at.gateway.throughput / at.direct.throughput : NaN;
  const one = era2026?.find((r) => r.clients === ERA2026_TARGET.latencyAtClients);
  const added = diff(one?.gateway?.p50Ms, one?.direct?.p50Ms);
  return [
    [
      `2026-07-28: throughput ≥ ${ERA2026_TARGET.throughputRatio * 100}% of direct at ${ERA2026_TARGET.atClients} clients`,
      Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)}%` : "—",
      clean(at?.direct) && clean(at?.gateway) && ratio >= ERA2026_TARGET.throughputRatio,
    ],
    [
      `2026-07-28: added p50 ≤ ${ERA2026_TARGET.addedP50Ms} ms at ${ERA2026_TARGET.latencyAtClients} client`,
      ms(added),
      clean(one?.direct) && clean(one?.gateway) && added <= ERA2026_TARGET.addedP50Ms,
    ],
  ];
}

interface Results {
  rows?: LoadRow[];
  idle?: IdleResult;
  list?: ListResult;
  kinds?: KindsRow[];
  era2026?: Era2026Row[];
  soak?: SoakResult;
}

/** The report covers the phases that ran (--only); a phase that ran but could not be measured shows as such and FAILs its targets. */
function report(command: string, started: Date, { rows, idle, list, kinds, era2026, soak }: Results): string {
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
      `Gateway: ${relative(repoRoot, launch.main) || launch.main}${launch.cpuProfDir ? " under --cpu-prof" : ""}; configurations: ${CONFIG_NAMES.join(", ")}. ` +
      "Load generator, upstream and gateway share this machine's CPUs.",
  ];
  if (!phases.has("load")) out.pop(); // the method line describes the load legs
  const targets: [string, string, boolean][] = [];
  if (phases.has("load")) {
    out.push(
      "",
      "## Tool calls",
      "",
      "| clients | direct calls/s | gateway calls/s | ratio | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | added p99 | upstream CPU/call (direct) | gateway CPU/call | errors direct / gateway |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const { clients, direct: d, gateway: g } of rows ?? []) {
      const ratio = d && g && d.throughput > 0 ? (g.throughput / d.throughput).toFixed(2) : "—";
      out.push(
        `| ${clients} | ${d?.throughput.toFixed(0) ?? "—"} | ${g?.throughput.toFixed(0) ?? "—"} | ${ratio} | ${ms(d?.p50Ms)} | ${ms(g?.p50Ms)} | ${ms(diff(g?.p50Ms, d?.p50Ms))} | ` +
          `${ms(d?.p99Ms)} | ${ms(g?.p99Ms)} | ${ms(diff(g?.p99Ms, d?.p99Ms))} | ${d ? `${d.serverCpuUsPerCall} µs` : "—"} | ${g ? `${g.serverCpuUsPerCall} µs` : "—"} | ` +
          `${d?.errors ?? "—"} / ${g?.errors ?? "—"} |`,
      );
    }
    if (CONFIG_NAMES.length > 1 || CONFIG_NAMES[0] !== "plain") out.push(...configsMarkdown(rows ?? []));
    // All load targets are judged at one operating point; at 1 client throughput is just 1/latency, so it would
    // double-count the latency targets. A target only passes on a clean measurement: errors or missing data FAIL.
    const at = rows?.find((r) => r.clients === TARGET.atClients);
    const atClean = clean(at?.direct) && clean(at?.gateway);
    const addedP50 = diff(at?.gateway?.p50Ms, at?.direct?.p50Ms);
    const addedP99 = diff(at?.gateway?.p99Ms, at?.direct?.p99Ms);
    const ratio = at?.gateway && at.direct ? at.gateway.throughput / at.direct.throughput : NaN;
    targets.push(
      [`added p50 ≤ ${TARGET.addedP50Ms} ms at ${TARGET.atClients} clients`, ms(addedP50), atClean && addedP50 <= TARGET.addedP50Ms],
      [`added p99 ≤ ${TARGET.addedP99Ms} ms at ${TARGET.atClients} clients`, ms(addedP99), atClean && addedP99 <= TARGET.addedP99Ms],
      [
        `throughput ≥ ${TARGET.throughputRatio * 100}% of direct at ${TARGET.atClients} clients`,
        Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)}%` : "—",
        atClean && ratio >= TARGET.throughputRatio,
      ],
    );
  }
  if (phases.has("idle")) {
    out.push("", "## Idle sessions (through the gateway)", "");
    if (idle) {
      const deltaKb = idle.rssAfterKb - idle.rssBeforeKb;
      out.push(
        "| sessions opened | errors | gateway RSS before | gateway RSS after | added | per session |",
        "|---:|---:|---:|---:|---:|---:|",
        `| ${idle.opened} | ${idle.errors} | ${mb(idle.rssBeforeKb)} | ${mb(idle.rssAfterKb)} | ${mb(deltaKb)} | ${idle.opened ? (deltaKb / idle.opened).toFixed(1) : "—"} KB |`,
      );
    } else out.push("not measured");
    targets.push([
      `${IDLE_SESSIONS.toLocaleString("en")} idle sessions ≤ ${TARGET.idleRssMb} MB gateway RSS`,
      idle ? `${mb(idle.rssAfterKb)} (${idle.opened} opened)` : "—",
      idle !== undefined && idle.opened === IDLE_SESSIONS && idle.rssAfterKb / 1024 <= TARGET.idleRssMb,
    ]);
  }
  if (phases.has("list")) {
    out.push("", `## tools/list through the gateway (${LIST_SERVERS} upstreams x ${LIST_TOOLS} tools)`, "");
    if (list) {
      out.push(
        "| tools listed | pages | iterations | one request p50 | one request p99 | whole listing p50 | whole listing p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        `| ${list.tools} | ${list.pages} | ${list.iterations} | ${ms(list.request.p50Ms)} | ${ms(list.request.p99Ms)} | ${ms(list.full.p50Ms)} | ${ms(list.full.p99Ms)} |`,
      );
    } else out.push("not measured");
    targets.push([
      `tools/list request over 10,000 tools p50 ≤ ${TARGET.listP50Ms} ms`,
      list ? `${ms(list.request.p50Ms)} (${list.tools} tools; whole listing ${ms(list.full.p50Ms)})` : "—",
      list !== undefined && list.tools >= LIST_SERVERS * LIST_TOOLS && isNum(list.request.p50Ms) && list.request.p50Ms <= TARGET.listP50Ms,
    ]);
  }
  if (phases.has("kinds")) {
    out.push(...kindsMarkdown(kinds));
    // No speed target: what a stdio or SSE server costs is mostly its own; every leg must run clean.
    const legs = (kinds ?? []).flatMap((row) => [row.direct, row.gateway]);
    const expected = KINDS.length * KINDS_SETTINGS.clients.length * 2;
    const cleanLegs = legs.filter(clean).length;
    targets.push(["server kinds: every direct and gateway leg made calls without errors", `${cleanLegs} of ${expected} legs`, cleanLegs === expected]);
  }
  if (phases.has("era2026")) {
    out.push(...era2026Markdown(era2026));
    targets.push(...era2026Targets(era2026));
  }
  if (phases.has("soak")) {
    const { sessions, seconds } = soakSettings;
    out.push("", `## Soak: ${sessions.toLocaleString("en")} sessions calling tools for ${seconds} s (through the gateway)`, "");
    out.push(...(soak ? soakMarkdown(soak) : ["not measured"]));
    targets.push(soakTarget(soakSettings, soak));
  }

  out.push("", "## Targets", "", "| target | measured | result |", "|---|---:|:---:|");
  for (const [name, measured, pass] of targets) out.push(`| ${name} | ${measured} | ${pass ? "PASS" : "FAIL"} |`);

  const errorSamples = (rows ?? []).flatMap((r) =>
    [["direct", r.direct] as const, ...Object.entries(r.configs ?? {}).map(([name, leg]) => [`gateway (${name})`, leg] as const)].flatMap(([what, leg]) =>
      leg?.errorSample ? [`${what} leg, ${r.clients} clients: ${leg.errorSample}`] : [],
    ),
  );
  for (const { kind, clients, direct, gateway } of kinds ?? []) {
    for (const [what, leg] of [["direct", direct], ["gateway", gateway]] as const) if (leg?.errorSample) errorSamples.push(`${kind} ${what} leg, ${clients} clients: ${leg.errorSample}`);
  }
  for (const { clients, direct, gateway } of era2026 ?? []) {
    for (const [what, leg] of [["direct", direct], ["gateway", gateway]] as const) if (leg?.errorSample) errorSamples.push(`2026-07-28 ${what} leg, ${clients} clients: ${leg.errorSample}`);
  }
  if (idle?.errorSample) errorSamples.push(`idle sessions: ${idle.errorSample}`);
  if (soak) errorSamples.push(...soakProblems(soak));
  const notes = [...problems, ...errorSamples];
  if (notes.length) out.push("", "## Problems", "", ...notes.map((p) => `- ${p.replaceAll("\n", " ").slice(0, 600)}`));
  return out.join("\n") + "\n";
}

const started = new Date();
const loadAtStart = os.loadavg()[0] ?? NaN;
mkdirSync(outDir, { recursive: true });
const command = ["node", relative(repoRoot, process.argv[1] ?? join(here, "run.js")), ...process.argv.slice(2)].join(" ");
const log = (msg: string): void => console.error(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${msg}`);

const results: Results = {};
if (phases.has("load")) {
  log("tool-call latency and throughput, direct vs gateway");
  results.rows = await attempt("tool-call legs", measureLoad);
}
if (phases.has("idle")) {
  log(`${IDLE_SESSIONS} idle sessions`);
  results.idle = await attempt("idle sessions", measureIdleSessions);
}
if (phases.has("list")) {
  log(`tools/list over ${LIST_SERVERS} x ${LIST_TOOLS} tools`);
  results.list = await attempt("tools/list", measureList);
}
if (phases.has("kinds")) {
  log(`server kinds (${KINDS.join(", ")}), direct vs gateway`);
  results.kinds = await attempt("server-kinds legs", () => measureKinds(KINDS_SETTINGS, launch, attempt));
}
if (phases.has("era2026")) {
  log("MCP 2026-07-28, direct vs gateway");
  results.era2026 = await attempt("2026-07-28 legs", () => measureEra2026(ERA2026_SETTINGS, launch, attempt));
}
if (phases.has("soak")) {
  log(`soak: ${soakSettings.sessions} sessions calling tools at ${soakSettings.rate} calls/s for ${soakSettings.seconds} s`);
  results.soak = await attempt("soak", () => measureSoak(soakSettings, log, launch));
  if (results.soak) log(`soak verdict: ${judgeSoak(results.soak).summary}`);
}

const markdown = report(command, started, results);
writeFileSync(join(outDir, "report.md"), markdown);
const { rows, idle, list, kinds, era2026, soak } = results;
writeFileSync(join(outDir, "results.json"), JSON.stringify({ command, date: started.toISOString(), gatewayMain: launch.main, configs: CONFIG_NAMES, load: rows, idle, list, kinds, era2026, soak, problems }, null, 2) + "\n");
process.stdout.write(markdown);
log(`done; report in ${relative(repoRoot, join(outDir, "report.md"))}`);
process.exit(problems.length ? 1 : 0);
