// The gateway's binaries as child processes of the test run: spawned on loopback with their
// output kept, waited for until they answer, stopped gracefully, and killed when the run exits.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { within } from "./poll.js";

const repoRoot = resolve(import.meta.dirname, "../../..");
export const brokerMain = join(repoRoot, "dist/cmd/broker-router/main.js");
export const controllerMain = join(repoRoot, "dist/cmd/controller/main.js");

/** A port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The JSON log lines written so far. */
  logs(): Array<{ msg?: string; level?: string; time?: string; [key: string]: unknown }>;
  /** Exit code (null when killed by a signal), once exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

const running = new Set<ManagedProcess>();
process.once("exit", () => {
  for (const managed of running) managed.child.kill("SIGKILL");
});

/** Runs `node args…` with `env` on top of the test process's environment. */
export function spawnManaged(name: string, args: string[], env: NodeJS.ProcessEnv): ManagedProcess {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const managed: ManagedProcess = {
    name,
    child,
    output: () => output,
    logs: () =>
      output
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

/** Log lines at error level or above (the binaries log pino's level labels), e.g. unhandled rejections. */
export function errorLines(managed: ManagedProcess): string[] {
  return managed
    .logs()
    .filter((line) => line.level === "error" || line.level === "fatal")
    .map((line) => JSON.stringify(line));
}

/** Stops every process spawned here that is still running (after hooks). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((managed) => managed.stop()));
}

/** Waits until GET url answers 2xx; fails at once, with the process's output, if it exits first. */
export async function waitHttpOk(url: string, managed: ManagedProcess, timeoutMs: number): Promise<void> {
  const exitedEarly = () => (managed.child.exitCode === null ? undefined : `${managed.name} exited with ${managed.child.exitCode}:\n${managed.output()}`);
  await within(() => `${managed.name}: ${url} to answer ok:\n${managed.output()}`, timeoutMs, async () => (await fetch(url)).ok, { intervalMs: 50, abandonIf: exitedEarly });
}
