// Starts the real broker-router binary as a child process on loopback, on a registry file, as users and CI run it.
import { mkdtempSync, writeFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brokerMain, freePort, spawnManaged, waitHttpOk } from "./processes.js";

// The broker tests import these from here, next to startGateway.
export { eventually } from "./poll.js";
export { brokerMain, freePort } from "./processes.js";

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
  const managed = spawnManaged(
    "broker-router",
    [brokerMain, "--mcp-gateway-config", configPath, "--mcp-broker-public-address", `127.0.0.1:${port}`, ...extraArgs],
    { LOG_LEVEL: process.env.LOG_LEVEL ?? "debug", ...UNBOUNDED_CLIENT, ...env },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitHttpOk(`${baseUrl}/healthz`, managed, 15_000);
  return {
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    configPath,
    child: managed.child,
    output: managed.output,
    writeConfig: (yaml: string) => writeFileSync(configPath, yaml),
    stop: async () => {
      await managed.stop();
    },
  };
}
