// Starts the real broker-router binary as a child process on loopback, as users and CI run it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../../..");
export const brokerMain = join(repoRoot, "dist/cmd/broker-router/main.js");

export interface GatewayProcess {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** http://127.0.0.1:PORT/mcp */
  mcpUrl: string;
  configPath: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far (JSON log lines). */
  output(): string;
  /** Replaces the registry file; the broker picks the change up by watching it. */
  writeConfig(yaml: string): void;
  stop(): Promise<void>;
}

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

/**
 * Every test client comes from 127.0.0.1, so the per-client session bounds that protect a real
 * gateway would make one test's sessions another's problem; tests of those bounds set them by flag.
 */
export const UNBOUNDED_CLIENT = { MCP_CLIENT_INITIALIZE_RATE_LIMIT: "0", MCP_MAX_SESSIONS_PER_CLIENT: "0" };

export async function startGateway(configYaml: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), "mcp-gw-"));
  const configPath = join(dir, "config.yaml");
  writeFileSync(configPath, configYaml);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [brokerMain, "--mcp-gateway-config", configPath, "--mcp-broker-public-address", `127.0.0.1:${port}`, ...extraArgs],
    { env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "debug", ...UNBOUNDED_CLIENT, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`broker-router exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`broker-router did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    configPath,
    child,
    output: () => output,
    writeConfig: (yaml: string) => writeFileSync(configPath, yaml),
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}

/** Polls until check() returns a truthy value or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
