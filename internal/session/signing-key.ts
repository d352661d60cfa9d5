// Where the key that signs session ids comes from: a file (a mounted Secret), or the operator's
// Secret read through the Kubernetes API, waiting for the operator to create it and following its
// rotations. There is no built-in key: without one configured, each process makes a random key of its own.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { describeApiError } from "../kube/api-error.js";
import { WatchedSecret } from "../kube/watched-secret.js";
import type { Logger } from "../log/logger.js";
import type { SessionKeys } from "./session-id.js";
import { SESSION_KEY_BYTES, SESSION_KEY_PREVIOUS_KEY, SESSION_KEY_SECRET_KEY } from "../contract/session-key.js";
import { backoffDelay } from "../retry/backoff.js";

export type SigningKeySource = { kind: "file"; path: string } | { kind: "secret"; kc: KubeConfig; namespace: string; name: string } | { kind: "ephemeral" };

export interface SigningKey {
  keys: SessionKeys;
  /** Said in the startup log, never the key itself. */
  origin: string;
}

export async function loadSigningKey(source: SigningKeySource, log: Logger, signal?: AbortSignal): Promise<SigningKey> {
  switch (source.kind) {
    case "file":
      return { keys: { current: checked(readFileSync(source.path), source.path) }, origin: `file ${source.path}` };
    case "secret":
      return { keys: await waitForSecret(source.kc, source.namespace, source.name, log, signal), origin: `Secret ${source.namespace}/${source.name}` };
    case "ephemeral":
      return { keys: { current: randomBytes(SESSION_KEY_BYTES) }, origin: "random key of this process (sessions end with it and are not shared with other replicas)" };
  }
}

function checked(key: Buffer, where: string): Buffer {
  if (key.length < SESSION_KEY_BYTES) throw new Error(`session signing key in ${where} has ${key.length} bytes; at least ${SESSION_KEY_BYTES} are required`);
  return key;
}

/** The keys a Secret holds; throws, naming the Secret, when it has no usable current key. A short previous key is ignored. */
function keysOf(secret: V1Secret | undefined, where: string): SessionKeys {
  const encoded = secret?.data?.[SESSION_KEY_SECRET_KEY];
  if (!encoded) throw new Error(`${where}: the key is missing`);
  const current = checked(Buffer.from(encoded, "base64"), `${where} key ${SESSION_KEY_SECRET_KEY}`);
  const previous = Buffer.from(secret?.data?.[SESSION_KEY_PREVIOUS_KEY] ?? "", "base64");
  return previous.length >= SESSION_KEY_BYTES ? { current, previous } : { current };
}

/** The operator creates the Secret when it reconciles the extension; until then the broker waits (and is not listening). */
async function waitForSecret(kc: KubeConfig, namespace: string, name: string, log: Logger, signal?: AbortSignal): Promise<SessionKeys> {
  const core = kc.makeApiClient(CoreV1Api);
  const where = `Secret ${namespace}/${name}`;
  for (let attempt = 0; ; attempt++) {
    try {
      return keysOf(await core.readNamespacedSecret({ namespace, name }), where);
    } catch (err) {
      if (attempt % 10 === 0) log.warn({ secret: `${namespace}/${name}`, err: describeApiError(err) }, `waiting for the session key in ${where}`);
    }
    await sleep(backoffDelay(attempt, { initialMs: 250, maxMs: 5_000, jitter: 0 }), undefined, { signal });
  }
}

/**
 * Follows the Secret after the first load, so a rotation reaches the broker without a restart.
 * A Secret deleted or left without a usable key changes nothing: the keys in force stay.
 */
export class SigningKeyWatch {
  private readonly secret: WatchedSecret;

  constructor(
    kc: KubeConfig,
    namespace: string,
    name: string,
    private readonly log: Logger,
  ) {
    this.secret = new WatchedSecret(kc, namespace, name, log);
  }

  async start(initial: SessionKeys, onKeys: (keys: SessionKeys) => void): Promise<void> {
    const where = this.secret.where;
    let inForce = initial;
    await this.secret.start((secret) => {
      let keys: SessionKeys;
      try {
        keys = keysOf(secret, `Secret ${where}`);
      } catch (err) {
        this.log.error({ secret: where, err: (err as Error).message }, "session key Secret unusable; keeping the keys in force");
        return;
      }
      if (sameKey(keys.current, inForce.current) && sameKey(keys.previous, inForce.previous)) return;
      inForce = keys;
      this.log.info({ secret: where, previousKept: Boolean(keys.previous) }, "session key changed");
      onKeys(keys);
    });
  }

  stop(): void {
    this.secret.stop();
  }
}

function sameKey(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}
