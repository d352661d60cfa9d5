// Load generator, run as its own process so its CPU is not charged to whatever it measures.
//   call (default):  C closed-loop clients, one MCP session each, calling --tool as fast as possible.
//   idle-sessions:   open --count sessions and hold them until SIGTERM (or --hold-ms).
//   list:            time a full paginated tools/list --iterations times in one session.
// Each mode prints a single JSON line on stdout.
import { parseArgs } from "node:util";
import { createPool, McpSession } from "./mcp-client.js";
import { round, summarize } from "./stats.js";

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
  },
  strict: true,
});
if (!values.url) throw new Error("--url is required");
const url = values.url;

/** Runs `worker` on `n` parallel lanes and waits for all of them. */
function lanes(n: number, worker: (lane: number) => Promise<void>): Promise<void[]> {
  return Promise.all(Array.from({ length: n }, (_, lane) => worker(lane)));
}

async function callMode(): Promise<object> {
  const concurrency = Number(values.concurrency);
  const warmupMs = Number(values["warmup-ms"]);
  const durationMs = Number(values["duration-ms"]);
  const pool = createPool(url, concurrency);
  const sessions = await Promise.all(Array.from({ length: concurrency }, () => McpSession.open(pool, url)));

  const latencies: number[] = [];
  let warmupCalls = 0;
  let errors = 0;
  let errorSample: string | undefined;
  const measureFrom = performance.now() + warmupMs;
  const end = measureFrom + durationMs;
  let lastFinish = measureFrom;
  await lanes(concurrency, async (lane) => {
    const session = sessions[lane]!;
    const args = { text: `bench payload from client ${lane}` };
    for (let started = performance.now(); started < end; started = performance.now()) {
      try {
        await session.callTool(values.tool, args);
        const finished = performance.now();
        if (started >= measureFrom) {
          latencies.push(finished - started);
          lastFinish = Math.max(lastFinish, finished);
        } else warmupCalls++;
      } catch (err) {
        errors++;
        errorSample ??= String(err);
      }
    }
  });
  await pool.close();

  // Calls still in flight at `end` are allowed to finish, so the window is measured, not assumed.
  const measuredMs = Math.max(lastFinish - measureFrom, 1);
  return {
    calls: latencies.length,
    errors,
    durationMs: round(measuredMs, 1),
    throughput: round((latencies.length * 1000) / measuredMs, 1),
    ...summarize(latencies),
    warmupCalls,
    ...(errorSample === undefined ? {} : { errorSample }),
  };
}

async function idleSessionsMode(): Promise<object> {
  const count = Number(values.count);
  const openConcurrency = Math.min(Number(values["open-concurrency"]), count);
  const pool = createPool(url, openConcurrency);
  let next = 0;
  let opened = 0;
  let errors = 0;
  let errorSample: string | undefined;
  await lanes(openConcurrency, async () => {
    while (next < count) {
      next++;
      try {
        await McpSession.open(pool, url);
        opened++;
      } catch (err) {
        errors++;
        errorSample ??= String(err);
      }
    }
  });
  return { opened, errors, ...(errorSample === undefined ? {} : { errorSample }) };
}

/**
 * Times each tools/list request (one page) and each complete paginated listing. The first is
 * what the gateway costs per request; the second adds this client's own parsing of every page.
 */
async function listMode(): Promise<object> {
  const iterations = Number(values.iterations);
  const pool = createPool(url, 1);
  const session = await McpSession.open(pool, url);
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

const modes: Record<string, () => Promise<object>> = { call: callMode, "idle-sessions": idleSessionsMode, list: listMode };
const run = modes[values.mode];
if (!run) throw new Error(`unknown --mode ${values.mode}; expected one of ${Object.keys(modes).join(", ")}`);
console.log(JSON.stringify(await run()));
if (values.mode === "idle-sessions") {
  // Sessions live on the server; this process only has to stay up (bounded) so nothing tears them down.
  process.once("SIGTERM", () => process.exit(0));
  setTimeout(() => process.exit(0), Number(values["hold-ms"]));
}
