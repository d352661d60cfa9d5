// The soak: many sessions calling tools through the real broker-router for minutes, open loop, with
// the gateway's memory sampled throughout. It passes when no call failed, the gateway's RSS is flat
// (see judgeSoak) and ending every session brings the gateway's and the upstream's session counts back.
import { setTimeout as sleep } from "node:timers/promises";
import type { SoakCalled, SoakClosed, SoakOpened, SoakWarmed } from "./loadgen.js";
import { Child, cpuSeconds, loadgenJs, rssKb, waitFor, withStack, type GatewayLaunch, type Stack } from "./stack.js";

export interface SoakSettings {
  sessions: number;
  seconds: number;
  /** Calls per second from all sessions together; each session calls once every sessions/rate seconds. */
  rate: number;
}

// 1,000 calls/s (each of 10,000 sessions every 10 s): at this evenly spread pace the gateway, the upstream
// and the load generator together use about one of the bench machine's 2 cores (measured: ~0.45, ~0.35
// and ~0.2 ms of CPU per call), so the machine sustains it with a core to spare, and a queue building up
// over the minutes would show as growing latency rather than being there from the first second.
// 2,000 calls/s would need the whole machine.
export const SOAK_FULL: SoakSettings = { sessions: 10_000, seconds: 300, rate: 1_000 };
export const SOAK_QUICK: SoakSettings = { sessions: 1_000, seconds: 20, rate: 1_000 };
/**
 * Flat memory: the gateway's highest RSS in the last third of the open-loop phase exceeds its highest RSS
 * in the two thirds before by less than both limits. Peaks, not means: V8's memory reducer now and then
 * hands back ~100 MB of heap, which then grows back to its working size; a mean right after such a drop
 * would call that regrowth a leak. A leak instead pushes RSS to new highs.
 */
export const FLAT_RSS = { maxGrowthRatio: 0.05, maxGrowthMb: 20 };

const TOOL = "s0_echo";
const CONNECTIONS = 64;
/** A call answered later than this counts as failed (timed out). */
const DEADLINE_MS = 10_000;
const OPEN_TIMEOUT_MS = 600_000;
const CLOSE_TIMEOUT_MS = 300_000;
const SETTLE_TIMEOUT_MS = 30_000;
/** Between opening the sessions and their first calls: long enough to sample the gateway with only open sessions. */
const PAUSE_AFTER_OPEN_MS = 3_000;
const MIN_SAMPLES_PER_THIRD = 3;
// A Node process's heap keeps growing towards its working size for the first minute or so under a new
// load; a shorter run (--quick) cannot tell that from a leak, so its memory is shown but not judged.
const MIN_SECONDS_TO_JUDGE_MEMORY = 120;
/** Per-minute latency for a run of minutes; finer for a short (--quick) run. */
const bucketMsFor = (seconds: number): number => (seconds >= 180 ? 60_000 : 5_000);
// The soak relies on sessions outliving the gaps between their calls; stated, not left to a default.
const GATEWAY_ARGS = ["--session-idle-timeout-seconds", "3600"];

export interface Sample {
  /** Date.now() when taken. */
  at: number;
  gatewayRssKb: number;
  upstreamRssKb: number;
  /** CPU time (user + system) each process has used so far. */
  gatewayCpuS: number;
  upstreamCpuS: number;
  /** Node's heap in use, from the broker's /metrics. */
  gatewayHeapUsedBytes?: number;
  gatewaySessions?: number;
  upstreamSessions?: number;
}

export interface SoakResult {
  settings: SoakSettings;
  sampleEveryMs: number;
  /** Gateway up and serving, no client session yet. */
  baseline: Sample;
  /** Every session open, none has called yet. */
  afterOpen: Sample;
  /** Every session has made its first call, so each has its upstream session; the open-loop calls start. */
  afterWarm: Sample;
  /** As soon as the open-loop calls were all answered (the DELETEs are starting). */
  afterCalls: Sample;
  /** Sampled through the calling phase. */
  samples: Sample[];
  /** After every session was ended (or SETTLE_TIMEOUT_MS later, whatever the counts were then). */
  afterClose: Sample;
  opened: SoakOpened;
  warmed: SoakWarmed;
  called: SoakCalled;
  closed: SoakClosed;
}

function metric(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : undefined;
}

async function takeSample(stack: Stack): Promise<Sample> {
  const [metrics, upstream] = await Promise.all([
    fetch(new URL("/metrics", stack.gatewayUrl)).then((r) => r.text()),
    fetch(new URL("/sessions", stack.upstreamOrigin)).then((r) => r.json() as Promise<{ sessions?: number }>),
  ]);
  return {
    at: Date.now(),
    gatewayRssKb: rssKb(stack.gateway.pid),
    gatewayCpuS: cpuSeconds(stack.gateway.pid),
    upstreamCpuS: cpuSeconds(stack.upstream.pid),
    upstreamRssKb: rssKb(stack.upstream.pid),
    gatewayHeapUsedBytes: metric(metrics, "nodejs_heap_size_used_bytes"),
    gatewaySessions: metric(metrics, "mcp_gateway_sessions"),
    upstreamSessions: upstream.sessions,
  };
}

export async function measureSoak(settings: SoakSettings, log: (message: string) => void, launch: GatewayLaunch): Promise<SoakResult> {
  // About 30 samples over the run: every 10 s for minutes, more often for a short run, so each third has several.
  const sampleEveryMs = Math.min(10_000, Math.max(1_000, (settings.seconds * 1000) / 30));
  return withStack(
    1,
    10,
    async (stack) => {
      const deps = [stack.gateway, stack.upstream];
      await sleep(1_000); // startup work (discovery, JIT of the listing path) is not what the baseline should show
      const baseline = await takeSample(stack);
      const load = new Child("loadgen soak", loadgenJs, [
        ...["--url", stack.gatewayUrl, "--mode", "soak", "--tool", TOOL, "--count", String(settings.sessions)],
        ...["--rate", String(settings.rate), "--duration-ms", String(settings.seconds * 1000), "--deadline-ms", String(DEADLINE_MS)],
        ...["--open-concurrency", String(CONNECTIONS), "--pause-ms", String(PAUSE_AFTER_OPEN_MS), "--bucket-ms", String(bucketMsFor(settings.seconds))],
      ]);
      const samples: Sample[] = [];
      const samplesPerLog = Math.round(60_000 / sampleEveryMs);
      const sampler = setInterval(() => {
        takeSample(stack).then(
          (s) => {
            samples.push(s);
            if (samples.length % samplesPerLog === 0) log(`soak: gateway RSS ${mb(s.gatewayRssKb)}, ${s.gatewaySessions} sessions, ${s.upstreamSessions} upstream sessions`);
          },
          () => undefined, // a process that died is reported by the waits below
        );
      }, sampleEveryMs);
      try {
        const event = async <T>(name: string, timeoutMs: number): Promise<T> => {
          const line = await load.line(new RegExp(`^\\{"event":"${name}"`), timeoutMs);
          for (const child of deps) child.assertRunning(`the soak (${name})`);
          return JSON.parse(line) as T;
        };
        const opened = await event<SoakOpened>("opened", OPEN_TIMEOUT_MS);
        await sleep(PAUSE_AFTER_OPEN_MS / 3); // in the quiet moment: calls have not started, opening work has drained
        const afterOpen = await takeSample(stack);
        log(`soak: ${opened.opened} sessions open (${opened.errors} errors) in ${(opened.openMs / 1000).toFixed(1)} s; first call of each`);
        const warmed = await event<SoakWarmed>("warmed", OPEN_TIMEOUT_MS);
        const afterWarm = await takeSample(stack);
        log(`soak: first calls done (${warmed.errors} errors) in ${(warmed.warmMs / 1000).toFixed(1)} s; calling at ${settings.rate}/s for ${settings.seconds} s`);
        const called = await event<SoakCalled>("called", settings.seconds * 1000 + DEADLINE_MS + 60_000);
        const afterCalls = await takeSample(stack);
        clearInterval(sampler);
        log(`soak: ${called.sent} calls, ${called.failed} failed; ending the sessions`);
        const closed = await event<SoakClosed>("closed", CLOSE_TIMEOUT_MS);
        // Upstream sessions are ended after the client's DELETE is answered, so give them a moment.
        const settled = (s: Sample) => s.gatewaySessions === baseline.gatewaySessions && s.upstreamSessions === baseline.upstreamSessions;
        const afterClose = await waitFor("session counts back to the baseline", SETTLE_TIMEOUT_MS, deps, async () => {
          const s = await takeSample(stack);
          return settled(s) ? s : undefined;
        }).catch(() => takeSample(stack));
        return { settings, sampleEveryMs, baseline, afterOpen, afterWarm, afterCalls, samples, afterClose, opened, warmed, called, closed };
      } finally {
        clearInterval(sampler);
        await load.stop();
      }
    },
    { gateways: [{ name: "plain", args: GATEWAY_ARGS }], launch },
  );
}

// ---- verdict and report ----

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
const ms = (v: number | null | undefined): string => (typeof v === "number" && Number.isFinite(v) ? `${v.toFixed(2)} ms` : "—");

interface Thirds {
  first: Sample[];
  middle: Sample[];
  last: Sample[];
}

/** The open-loop phase's samples, by third. */
function thirds(result: SoakResult): Thirds {
  const { startedAt, endedAt } = result.called;
  const third = (endedAt - startedAt) / 3;
  const inRange = (from: number, to: number) => result.samples.filter((s) => s.at >= from && s.at < to);
  return {
    first: inRange(startedAt, startedAt + third),
    middle: inRange(startedAt + third, startedAt + 2 * third),
    last: inRange(startedAt + 2 * third, endedAt + 1),
  };
}

export interface SoakVerdict {
  pass: boolean;
  /** Highest gateway RSS in the last third minus the highest before it (FLAT_RSS). */
  rssGrowthKb: number;
  rssGrowthRatio: number;
  /** Why it failed; empty on a pass. */
  reasons: string[];
  summary: string;
}

export function judgeSoak(result: SoakResult): SoakVerdict {
  const { settings, opened, warmed, called, closed, baseline, afterClose } = result;
  const reasons: string[] = [];
  if (opened.opened !== settings.sessions) reasons.push(`${settings.sessions - opened.opened} of ${settings.sessions} sessions did not open`);
  if (warmed.errors > 0) reasons.push(`${warmed.errors} first calls failed`);
  if (called.failed > 0) reasons.push(`${called.failed} of ${called.sent} calls failed`);
  const { first, middle, last } = thirds(result);
  const peakKb = (group: Sample[]) => Math.max(...group.map((s) => s.gatewayRssKb));
  const beforeKb = peakKb([...first, ...middle]);
  const growthKb = peakKb(last) - beforeKb;
  const growthRatio = growthKb / beforeKb;
  const growth = `gateway peak RSS ${growthKb >= 0 ? "+" : ""}${mb(growthKb)} (${(growthRatio * 100).toFixed(1)} %) in the last third over the two before`;
  let memory: string;
  if (settings.seconds < MIN_SECONDS_TO_JUDGE_MEMORY) {
    memory = `${growth}, not judged (shorter than ${MIN_SECONDS_TO_JUDGE_MEMORY} s)`;
  } else if (middle.length < MIN_SAMPLES_PER_THIRD || last.length < MIN_SAMPLES_PER_THIRD) {
    memory = `too few memory samples to judge (${middle.length} and ${last.length} in the last two thirds)`;
    reasons.push(memory);
  } else {
    memory = `${growth} (limit < ${FLAT_RSS.maxGrowthRatio * 100} % and < ${FLAT_RSS.maxGrowthMb} MB)`;
    if (!(growthKb < FLAT_RSS.maxGrowthMb * 1024 && growthRatio < FLAT_RSS.maxGrowthRatio)) reasons.push(growth);
  }
  if (closed.errors > 0) reasons.push(`${closed.errors} DELETEs failed`);
  if (afterClose.gatewaySessions !== 0) reasons.push(`${afterClose.gatewaySessions} gateway sessions left after every session was ended`);
  if (afterClose.upstreamSessions !== baseline.upstreamSessions) {
    reasons.push(`${afterClose.upstreamSessions} upstream sessions after every session was ended, ${baseline.upstreamSessions} before the soak`);
  }
  const summary = reasons.length
    ? `FAIL: ${reasons.join("; ")}`
    : `PASS: 0 failed of ${called.sent + opened.opened} calls from ${opened.opened} sessions over ${settings.seconds} s; ${memory}; ` +
      `sessions back to ${afterClose.gatewaySessions}, upstream sessions back to ${afterClose.upstreamSessions}`;
  return { pass: reasons.length === 0, rssGrowthKb: growthKb, rssGrowthRatio: growthRatio, reasons, summary };
}

/** The report's soak section (markdown lines). */
export function soakMarkdown(result: SoakResult): string[] {
  const { settings, opened, warmed, called, closed, baseline, afterOpen, afterWarm, afterCalls, afterClose, samples } = result;
  const verdict = judgeSoak(result);
  const seconds = (called.endedAt - called.startedAt) / 1000;
  const cpuPerCall = (pick: (s: Sample) => number) => `${(((pick(afterCalls) - pick(afterWarm)) * 1e6) / Math.max(1, called.sent)).toFixed(0)} µs`;
  const out = [
    `${settings.sessions} sessions are opened (initialize + notifications/initialized) and each makes a first call, ${CONNECTIONS} at a time ` +
      `(the first call opens the session's upstream session). Then, open loop for ${settings.seconds} s, every session calls \`${TOOL}\` once every ` +
      `${settings.sessions / settings.rate} s (${settings.rate} calls/s in all, evenly spread) over ${CONNECTIONS} keep-alive connections. ` +
      `A call fails on any HTTP or JSON-RPC error, an answer that is not its own text echoed back, or no answer within ${DEADLINE_MS / 1000} s. ` +
      `Finally every session is DELETEd. Gateway sessions from its /metrics, upstream sessions counted by the synthetic upstream, ` +
      `RSS from /proc every ${result.sampleEveryMs / 1000} s.`,
    "",
    "| sessions opened | time to open | first calls (failed) | calls sent | ok | failed | calls/s | p50 | p99 | max | send lag p99 | gateway CPU/call | upstream CPU/call |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| ${opened.opened} (${opened.errors} errors) | ${(opened.openMs / 1000).toFixed(1)} s | ${opened.opened} in ${(warmed.warmMs / 1000).toFixed(1)} s (${warmed.errors}) | ` +
      `${called.sent} | ${called.ok} | ${called.failed} | ${(called.sent / seconds).toFixed(0)} | ` +
      `${ms(called.latency.p50Ms)} | ${ms(called.latency.p99Ms)} | ${ms(called.latency.maxMs)} | ${ms(called.scheduleLag.p99Ms)} | ` +
      `${cpuPerCall((s) => s.gatewayCpuS)} | ${cpuPerCall((s) => s.upstreamCpuS)} |`,
  ];
  if (called.failed > 0) {
    const kinds = Object.entries(called.failures).filter(([, n]) => n > 0);
    out.push("", `Failed calls by kind: ${kinds.map(([kind, n]) => `${kind} ${n}`).join(", ")}.`);
  }
  const bucketS = called.bucketMs / 1000;
  out.push("", "| seconds | calls | failed | p50 | p99 | max | gateway RSS (mean) | upstream RSS (mean) |", "|---|---:|---:|---:|---:|---:|---:|---:|");
  called.buckets.forEach((b, i) => {
    const from = called.startedAt + i * called.bucketMs;
    const inBucket = samples.filter((s) => s.at >= from && s.at < from + called.bucketMs);
    const rss = (pick: (s: Sample) => number) => (inBucket.length ? mb(mean(inBucket.map(pick))) : "—");
    out.push(
      `| ${i * bucketS}-${Math.min((i + 1) * bucketS, settings.seconds)} | ${b.calls} | ${b.failed} | ${ms(b.p50Ms)} | ${ms(b.p99Ms)} | ${ms(b.maxMs)} | ` +
        `${rss((s) => s.gatewayRssKb)} | ${rss((s) => s.upstreamRssKb)} |`,
    );
  });
  const { first, middle, last } = thirds(result);
  type Column = [name: string, pick: (s: Sample) => number | undefined, show: (v: number) => string];
  const columns: Column[] = [
    ["gateway RSS", (s) => s.gatewayRssKb, mb],
    ["gateway heap used", (s) => s.gatewayHeapUsedBytes, (b) => mb(b / 1024)],
    ["upstream RSS", (s) => s.upstreamRssKb, mb],
    ["gateway sessions", (s) => s.gatewaySessions, (n) => n.toFixed(0)],
    ["upstream sessions", (s) => s.upstreamSessions, (n) => n.toFixed(0)],
  ];
  /** One sample, or the mean (or the highest) of several. */
  const row = (label: string, group: (Sample | undefined)[], combine: (values: number[]) => number = mean): string => {
    const cells = columns.map(([, pick, show]) => {
      const values = group.map((s) => s && pick(s)).filter((v): v is number => v !== undefined);
      return values.length ? show(combine(values)) : "—";
    });
    return `| ${label} | ${cells.join(" | ")} |`;
  };
  const highest = (values: number[]) => Math.max(...values);
  out.push(
    "",
    `| when | ${columns.map(([name]) => name).join(" | ")} |`,
    `|---|${columns.map(() => "---:").join("|")}|`,
    row("baseline: gateway serving, no client session", [baseline]),
    row("sessions open, before the first call", [afterOpen]),
    row("every session called once (upstream sessions open)", [afterWarm]),
    row(`calling, first third (mean of ${first.length} samples)`, first),
    row(`calling, middle third (mean of ${middle.length} samples)`, middle),
    row(`calling, last third (mean of ${last.length} samples)`, last),
    row("calling, first two thirds (highest)", [...first, ...middle], highest),
    row("calling, last third (highest)", last, highest),
    row("calling, last sample", [samples.at(-1)]),
    row(`every session DELETEd (${closed.closed} ok, ${closed.errors} failed)`, [afterClose]),
  );
  out.push("", `**Soak verdict — ${verdict.summary}.**`);
  return out;
}

/** The soak's row in the report's Targets table: name, what was measured, pass. */
export function soakTarget(settings: SoakSettings, result: SoakResult | undefined): [string, string, boolean] {
  const memory = settings.seconds >= MIN_SECONDS_TO_JUDGE_MEMORY ? "flat gateway RSS" : "memory not judged";
  const name = `${settings.sessions.toLocaleString("en")} sessions calling tools for ${settings.seconds} s: no failed call, ${memory}, sessions ended`;
  if (!result) return [name, "—", false];
  const verdict = judgeSoak(result);
  const failed = result.called.failed + result.warmed.errors;
  const growth = `${verdict.rssGrowthKb >= 0 ? "+" : ""}${mb(verdict.rssGrowthKb)} (${(verdict.rssGrowthRatio * 100).toFixed(1)} %)`;
  return [name, `${failed} failed of ${result.called.sent + result.opened.opened}; peak RSS ${growth}`, verdict.pass];
}

/** Failure samples and open/close errors, for the report's Problems section. */
export function soakProblems(result: SoakResult): string[] {
  const samples = Object.entries(result.called.failureSamples).map(([kind, sample]) => `soak ${kind}: ${sample}`);
  if (result.opened.errorSample) samples.push(`soak session open: ${result.opened.errorSample}`);
  if (result.warmed.errorSample) samples.push(`soak first call: ${result.warmed.errorSample}`);
  if (result.closed.errorSample) samples.push(`soak session DELETE: ${result.closed.errorSample}`);
  return samples;
}
