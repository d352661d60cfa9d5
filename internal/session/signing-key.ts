// Where the key that signs session ids comes from: a file (a mounted Secret), or the operator's
// Secret read through the Kubernetes API, waiting for the operator to create it. There is no
// built-in key: without one configured, each process makes a random key of its own.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { describeApiError } from "../kube/api-error.js";
import type { Logger } from "../log/logger.js";
import { SESSION_KEY_BYTES, SESSION_KEY_SECRET_KEY } from "./signing-key-secret.js";

export type SigningKeySource = { kind: "file"; path: string } | { kind: "secret"; kc: KubeConfig; namespace: string; name: string } | { kind: "ephemeral" };

export interface SigningKey {
  key: Buffer;
  /** Said in the startup log, never the key itself. */
  origin: string;
}

export async function loadSigningKey(source: SigningKeySource, log: Logger, signal?: AbortSignal): Promise<SigningKey> {
  switch (source.kind) {
    case "file":
      return { key: checked(readFileSync(source.path), source.path), origin: `file ${source.path}` };
    case "secret":
      return { key: await waitForSecret(source.kc, source.namespace, source.name, log, signal), origin: `Secret ${source.namespace}/${source.name}` };
    case "ephemeral":
      return { key: randomBytes(SESSION_KEY_BYTES), origin: "random key of this process (sessions end with it and are not shared with other replicas)" };
  }
}

function checked(key: Buffer, where: string): Buffer {
  if (key.length < SESSION_KEY_BYTES) throw new Error(`session signing key in ${where} has ${key.length} bytes; at least ${SESSION_KEY_BYTES} are required`);
  return key;
}

/** The operator creates the Secret when it reconciles the extension; until then the broker waits (and is not listening). */
async function waitForSecret(kc: KubeConfig, namespace: string, name: string, log: Logger, signal?: AbortSignal): Promise<Buffer> {
  const core = kc.makeApiClient(CoreV1Api);
  const where = `Secret ${namespace}/${name} key ${SESSION_KEY_SECRET_KEY}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const secret = await core.readNamespacedSecret({ namespace, name });
      const encoded = secret.data?.[SESSION_KEY_SECRET_KEY];
      if (encoded) return checked(Buffer.from(encoded, "base64"), where);
      if (attempt % 10 === 0) log.warn({ secret: `${namespace}/${name}` }, `waiting for ${where}: the key is missing`);
    } catch (err) {
      if (attempt % 10 === 0) log.warn({ secret: `${namespace}/${name}`, err: describeApiError(err) }, `waiting for ${where}`);
    }
    await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)), undefined, { signal });
  }
}
