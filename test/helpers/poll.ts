// Waiting for something that happens eventually: the one polling loop of the tests, and the two
// ways tests phrase a wait (a value that turns truthy, assertions that come to pass).

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

type Check<T> = () => Promise<T | undefined | false | null> | T | undefined | false | null;

export interface PollOptions {
  /** Between attempts; default 25 ms. */
  intervalMs?: number;
  /** Asked before each attempt: a reason to stop waiting at once (a process that exited). */
  abandonIf?: () => string | undefined;
}

/**
 * Polls until check() returns a truthy value; returns it with the time it took. An error check()
 * throws counts as "not yet" and is named in the timeout error. `what` may be a function, asked at
 * the timeout, to say what was last seen.
 */
export async function within<T>(what: string | (() => string), timeoutMs: number, check: Check<T>, options: PollOptions = {}): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const abandoned = options.abandonIf?.();
    if (abandoned !== undefined) throw new Error(abandoned);
    try {
      const value = await check();
      if (value) return { value, ms: Math.round(performance.now() - started) };
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const described = typeof what === "string" ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${lastError ? `: ${String(lastError)}` : ""}`);
    }
    await sleep(options.intervalMs ?? 25);
  }
}

/** within() for callers that want only the value: polls every 50 ms until check() returns a truthy value. */
export async function eventually<T>(check: Check<T>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  return (await within(what, timeoutMs, check, { intervalMs: 50 })).value;
}

/** Polls until check() returns without throwing (chai assertions inside); at the timeout its last error is rethrown as is. */
export async function expectEventually(check: () => unknown, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  let failure: unknown;
  const passes = async () => {
    try {
      await check();
      return true;
    } catch (err) {
      failure = err;
      return false;
    }
  };
  try {
    await within("assertions to pass", timeoutMs, passes, { intervalMs });
  } catch (err) {
    throw failure ?? err;
  }
}
