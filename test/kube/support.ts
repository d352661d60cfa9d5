// Shared by the kube tests: a logger whose lines the test can read, polling for eventual conditions, and a
// fresh namespace per suite on the shared API server.
import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import type { Logger } from "../../internal/log/logger.js";
import type { Envtest } from "../helpers/envtest.js";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export const WARN = 40;
export const INFO = 30;

export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

export function kubeConfigOf(env: Envtest): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return kc;
}

/** Polls until check() returns without throwing (chai assertions inside); rethrows its last error at the timeout. */
export async function eventually(check: () => unknown, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

export async function freshNamespace(env: Envtest, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  await env.kubectl(["create", "namespace", name]);
  return name;
}
