// Load generator, run as its own process so its CPU is not charged to whatever it measures.
//   call (default):  C closed-loop clients, one MCP session each, calling --tool as fast as possible.
//   idle-sessions:   open --count sessions and hold them until SIGTERM (or --hold-ms).
//   list:            time a full paginated tools/list --iterations times in one session.
//   soak:            open --count sessions, call --tool open-loop at --rate calls/s for --duration-ms, end them (see soakMode).
// --bearer TOKEN is sent as the Authorization of every request.
// Each mode prints a single JSON line on stdout (soak: one per phase).
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { Pool } from "undici";
import { closedLoop } from "./closed-loop.js";
import { createPool, McpSession } from "./mcp-client.js";
import { summarize, type LatencySummary } from "./stats.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    mode: { type: "string", default: "call" },
    tool: { type: "string", default: "echo" },
    concurrency: { type: "string", default: "1" },
    "duration-ms": { type: "string", default: "10000" },
    "warmup-ms": { type: "string", default: "1000" },
    count: { type: "string", default: "1000" },
    "open-concurrency": { type: "string", default: "64" },
    "hold-ms": { type: "string", default: "600000" },
    iterations: { type: "string", default: "50" },
    rate: { type: "string", default: "1000" },
    "deadline-ms": { type: "string", default: "10000" },
    "pause-ms": { type: "string", default: "0" },
    "bucket-ms": { type: "string", default: "60000" },
    bearer: { type: "string" },
  },
  strict: true,
});
if (!values.url) throw new Error("--url is required");
const url = values.url;
/** Sent by every session, e.g. to a gateway that requires client tokens. */
const headers: Record<string, string> = values.bearer ? { authorization: `Bearer ${values.bearer}` } : {};

/** Runs `worker` on `n` parallel lanes and waits for all of them. */
function lanes(n: number, worker: (lane: number) => Promise<void>): Promise<void[]> {
  return Promise.all(Array.from({ length: n }, (_, lane) => worker(lane)));
}

async function callMode(): Promise<object> {
  const concurrency = Number(values.concurrency);
  const pool = createPool(url, concurrency);
  const sessions = await Promise.all(Array.from({ length: concurrency }, () => McpSession.open(pool, url, headers)));
  const args = sessions.map((_, lane) => ({ text: `bench payload from client ${lane}` }));
  const result = await closedLoop(concurrency, Number(values["warmup-ms"]), Number(values["duration-ms"]), (lane) => sessions[lane]!.callTool(values.tool, args[lane]!));
  await pool.close();
  return result;
}

export interface Failures {
  errors: number;
  errorSample?: string;
}

/** Runs task(0) .. task(count - 1), at most `parallel` at a time; a failed task is counted (the first one kept as a sample), not thrown. */
async function eachOnLanes(count: number, parallel: number, task: (i: number) => Promise<void>): Promise<Failures> {
  let next = 0;
  const failures: Failures = { errors: 0 };
  await lanes(Math.min(parallel, count), async () => {
    while (next < count) {
      try {
        await task(next++);
      } catch (err) {
        failures.errors++;
        failures.errorSample ??= String(err);
      }
    }
  });
  return failures;
}

async function openSessions(pool: Pool, count: number): Promise<{ sessions: McpSession[] } & Failures> {
  const sessions: McpSession[] = [];
  const failures = await eachOnLanes(count, Number(values["open-concurrency"]), async () => void sessions.push(await McpSession.open(pool, url, headers)));
  return { sessions, ...failures };
}

async function idleSessionsMode(): Promise<object> {
  const pool = createPool(url, Math.min(Number(values["open-concurrency"]), Number(values.count)));
  const { sessions, ...failures } = await openSessions(pool, Number(values.count));
  return { opened: sessions.length, ...failures };
}

export type FailureKind = "timeout" | "jsonRpcError" | "toolError" | "httpError" | "wrongResult" | "other";

/** What soak mode prints, one line per phase. */
export interface SoakOpened extends Failures {
  event: "opened";
  opened: number;
  openMs: number;
}
export interface SoakWarmed extends Failures {
  event: "warmed";
  warmMs: number;
}
export interface SoakCalled {
  event: "called";
  /** Date.now() at the first and the last scheduled call. */
  startedAt: number;
  endedAt: number;
  sessions: number;
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  failures: Record<FailureKind, number>;
  failureSamples: Partial<Record<FailureKind, string>>;
  latency: LatencySummary;
  scheduleLag: LatencySummary;
  bucketMs: number;
  /** Calls by when they were scheduled: bucket i covers [i, i + 1) x bucketMs from startedAt. */
  buckets: ({ calls: number; failed: number } & LatencySummary)[];
}
export interface SoakClosed extends Failures {
  event: "closed";
  closed: number;
}

class CallFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message.slice(0, 300));
  }
}

/** mcp-client's errors say what failed in their first words; undici's timeouts say it in their name. */
function failureKind(err: unknown): FailureKind {
  const name = err instanceof Error ? err.name : "";
  const message = err instanceof Error ? err.message : String(err);
  if (/timeout/i.test(name) || /timeout/i.test(message)) return "timeout";
  if (message.startsWith("JSON-RPC error")) return "jsonRpcError";
  if (message.includes("returned isError")) return "toolError";
  if (message.startsWith("HTTP ")) return "httpError";
  return "other";
}

/** One echo call that must come back with its own text within deadlineMs; throws a CallFailure otherwise. */
async function echoCall(session: McpSession, text: string, deadlineMs: number): Promise<void> {
  // Abandoned at the deadline, not just ignored: late calls must not pile up in the pool's queue.
  const deadline = AbortSignal.timeout(deadlineMs);
  let result: Record<string, unknown>;
  try {
    result = await session.callTool(values.tool, { text }, deadline);
  } catch (err) {
    throw deadline.aborted
      ? new CallFailure("timeout", `no answer within ${deadlineMs} ms`)
      : new CallFailure(failureKind(err), err instanceof Error ? err.message : String(err));
  }
  const answer = (result.content as { text?: unknown }[] | undefined)?.[0]?.text;
  if (answer !== text) throw new CallFailure("wrongResult", `expected ${JSON.stringify(text)}, got ${JSON.stringify(result)}`);
}

interface Bucket {
  latencies: number[];
  failed: number;
}

/**
 * Soak. Opens --count sessions, pauses --pause-ms (so the open sessions can be measured alone), then
 * has every session make its first call, --open-concurrency at a time: that first call opens the
 * session's upstream session, which costs several times a later call, so it is paced by the gateway
 * rather than fired at the open-loop rate. Then the open-loop phase: call k is sent at k/rate
 * seconds by session k mod count, so every session calls once every count/rate seconds, evenly
 * spread, and a slow gateway cannot slow the offered load down. A call fails on any error, on an
 * answer that is not its own text echoed back, or on no answer within --deadline-ms. Latency
 * counts from when a call was sent; how late calls were sent against their schedule is reported
 * as scheduleLag, so a load generator that fell behind shows instead of hiding queueing.
 * Finally every session is DELETEd.
 */
async function soakMode(): Promise<SoakClosed> {
  const rate = Number(values.rate);
  const deadlineMs = Number(values["deadline-ms"]);
  const bucketMs = Number(values["bucket-ms"]);
  const parallel = Number(values["open-concurrency"]);
  const pool = createPool(url, parallel);
  const openStarted = Date.now();
  const { sessions, ...openFailures } = await openSessions(pool, Number(values.count));
  const opened: SoakOpened = { event: "opened", opened: sessions.length, ...openFailures, openMs: Date.now() - openStarted };
  console.log(JSON.stringify(opened));
  await sleep(Number(values["pause-ms"]));

  const warmStarted = Date.now();
  const warmFailures = await eachOnLanes(sessions.length, parallel, (i) => echoCall(sessions[i]!, `soak first call ${i}`, deadlineMs));
  const warmed: SoakWarmed = { event: "warmed", ...warmFailures, warmMs: Date.now() - warmStarted };
  console.log(JSON.stringify(warmed));

  const total = sessions.length === 0 ? 0 : Math.floor((Number(values["duration-ms"]) * rate) / 1000);
  const spacingMs = 1000 / rate;
  const buckets: Bucket[] = [];
  const scheduleLag: number[] = [];
  const failures: Record<FailureKind, number> = { timeout: 0, jsonRpcError: 0, toolError: 0, httpError: 0, wrongResult: 0, other: 0 };
  const failureSamples: Partial<Record<FailureKind, string>> = {};
  let ok = 0;
  const start = performance.now();
  const startedAt = Date.now();
  const call = async (k: number): Promise<void> => {
    const sent = performance.now();
    scheduleLag.push(sent - (start + k * spacingMs));
    const bucket = (buckets[Math.floor((k * spacingMs) / bucketMs)] ??= { latencies: [], failed: 0 });
    try {
      await echoCall(sessions[k % sessions.length]!, `soak call ${k}`, deadlineMs);
      bucket.latencies.push(performance.now() - sent);
      ok++;
    } catch (err) {
      const failure = err instanceof CallFailure ? err : new CallFailure("other", String(err));
      bucket.failed++;
      failures[failure.kind]++;
      failureSamples[failure.kind] ??= failure.message;
    }
  };

  const inflight = new Set<Promise<void>>();
  let issued = 0;
  await new Promise<void>((done) => {
    const sendDue = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - start) / spacingMs) + 1);
      for (; issued < due; issued++) {
        const pending = call(issued);
        inflight.add(pending);
        void pending.finally(() => inflight.delete(pending));
      }
      if (issued >= total) return done();
      setTimeout(sendDue, Math.max(0, start + issued * spacingMs - performance.now()));
    };
    sendDue();
  });
  const endedAt = Date.now();
  await Promise.all(inflight); // each settles by its deadline

  const called: SoakCalled = {
    event: "called",
    startedAt,
    endedAt,
    sessions: sessions.length,
    rate,
    sent: issued,
    ok,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    failureSamples,
    latency: summarize(buckets.flatMap((b) => b.latencies)),
    scheduleLag: summarize(scheduleLag),
    bucketMs,
    buckets: Array.from(buckets, (b = { latencies: [], failed: 0 }) => ({ calls: b.latencies.length + b.failed, failed: b.failed, ...summarize(b.latencies) })),
  };
  console.log(JSON.stringify(called));

  const closeFailures = await eachOnLanes(sessions.length, parallel, (i) => sessions[i]!.close());
  await pool.close();
  return { event: "closed", closed: sessions.length - closeFailures.errors, ...closeFailures };
}

/**
 * Times each tools/list request (one page) and each complete paginated listing. The first is
 * what the gateway costs per request; the second adds this client's own parsing of every page.
 */
async function listMode(): Promise<object> {
  const iterations = Number(values.iterations);
  const pool = createPool(url, 1);
  const session = await McpSession.open(pool, url, headers);
  const listOnce = async (requestSamples: number[]): Promise<{ tools: number; pages: number }> => {
    let tools = 0;
    let pages = 0;
    let cursor: string | undefined;
    do {
      const started = performance.now();
      const result = await session.request("tools/list", cursor === undefined ? {} : { cursor });
      requestSamples.push(performance.now() - started);
      tools += ((result.tools ?? []) as unknown[]).length;
      pages++;
      cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
    } while (cursor !== undefined);
    return { tools, pages };
  };
  // One untimed pass so first-use costs (JIT, caches) do not land in the percentiles.
  let listed = await listOnce([]);
  const requestSamples: number[] = [];
  const fullSamples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    listed = await listOnce(requestSamples);
    fullSamples.push(performance.now() - started);
  }
  await pool.close();
  return { ...listed, iterations, request: summarize(requestSamples), full: summarize(fullSamples) };
}

const modes: Record<string, () => Promise<object>> = { call: callMode, "idle-sessions": idleSessionsMode, list: listMode, soak: soakMode };
const run = modes[values.mode];
if (!run) throw new Error(`unknown --mode ${values.mode}; expected one of ${Object.keys(modes).join(", ")}`);
console.log(JSON.stringify(await run()));
if (values.mode === "idle-sessions") {
  // Sessions live on the server; this process only has to stay up (bounded) so nothing tears them down.
  process.once("SIGTERM", () => process.exit(0));
  setTimeout(() => process.exit(0), Number(values["hold-ms"]));
}
