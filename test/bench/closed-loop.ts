// The closed loop every call leg runs, whatever its client: C lanes, each calling as fast as its
// answers come back, first for the warm-up and then for the measured window.
import { round, summarize, type LatencySummary } from "./stats.js";

export interface ClosedLoopResult extends LatencySummary {
  calls: number;
  errors: number;
  durationMs: number;
  throughput: number;
  warmupCalls: number;
  errorSample?: string;
}

/** Runs `call(lane)` on `concurrency` lanes for warmupMs + durationMs; latencies count only inside the measured window. */
export async function closedLoop(concurrency: number, warmupMs: number, durationMs: number, call: (lane: number) => Promise<unknown>): Promise<ClosedLoopResult> {
  const latencies: number[] = [];
  let warmupCalls = 0;
  let errors = 0;
  let errorSample: string | undefined;
  const measureFrom = performance.now() + warmupMs;
  const end = measureFrom + durationMs;
  let lastFinish = measureFrom;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      for (let started = performance.now(); started < end; started = performance.now()) {
        try {
          await call(lane);
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
    }),
  );
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
