// An upstream session's GET stream, held open: by discovery for list changes, and for a gateway
// session for updates of the resources it subscribed to and for the requests an upstream sends
// outside any call (the SDK's server.request() without a related request goes to that stream, and
// is dropped when none is open). A stream that drops is opened again: at once after one that
// stayed up, after growing pauses while opening keeps failing.
import { setTimeout as sleep } from "node:timers/promises";
import type { JsonRpcMessage } from "../mcp/jsonrpc.js";
import { Backoff } from "../retry/backoff.js";
import { UpstreamHttpError, UpstreamRejectedError } from "./errors.js";
import type { UpstreamSession } from "./session.js";

const REOPEN = { initialMs: 1_000, maxMs: 30_000 };
/** A stream that stayed open this long was up: when it drops, it is reopened at once. */
const STEADY_MS = 5_000;

/**
 * A refusal that trying again will not change: a 4xx other than 404 (the upstream forgot the
 * session; the next call opens a new one, which the next attempt listens on), 408, 409 (another
 * stream of the session is open, e.g. another replica's) and 429.
 */
function refusedForGood(err: unknown): boolean {
  if (!(err instanceof UpstreamHttpError || err instanceof UpstreamRejectedError)) return false;
  return err.status >= 400 && err.status < 500 && ![404, 408, 409, 429].includes(err.status);
}

export interface HeldStream {
  /** Settles once the first attempt is open (the upstream can send on it) or failed. */
  opened: Promise<void>;
  /** Settles when holding ends: `signal` aborted, or the upstream offers no stream or refuses this one. */
  ended: Promise<void>;
}

export interface HoldOptions {
  /** The token of the request that asked for the stream (an upstream that takes the client's). */
  authorization?: string;
  /** Told each time the stream ended or could not be opened, before it is opened again: what it carried meanwhile was missed. */
  onDropped?: () => void;
}

/** Holds the upstream session's stream open until `signal` aborts. */
export function holdUpstreamStream(upstream: UpstreamSession, onMessage: (message: JsonRpcMessage) => void, signal: AbortSignal, options: HoldOptions = {}): HeldStream {
  let firstAttempt!: () => void;
  const opened = new Promise<void>((resolve) => (firstAttempt = resolve));
  const ended = (async () => {
    const backoff = new Backoff(REOPEN);
    while (!signal.aborted) {
      let openedAt: number | undefined;
      const again = await upstream
        .listen(onMessage, signal, options.authorization, () => {
          openedAt = Date.now();
          firstAttempt();
        })
        .catch((err: unknown) => !refusedForGood(err));
      firstAttempt();
      if (!again || signal.aborted) return;
      options.onDropped?.();
      if (openedAt !== undefined && Date.now() - openedAt >= STEADY_MS) backoff.reset();
      else await sleep(backoff.next(), undefined, { signal, ref: false }).catch(() => undefined);
    }
  })();
  return { opened, ended };
}
