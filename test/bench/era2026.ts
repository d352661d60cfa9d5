// The 2026-07-28 phase of `make bench`: an SDK v2 client pinned to 2026-07-28 (sdk-loadgen.ts
// `modern`) calling the `echo` tool of an SDK v2 upstream that speaks only that era
// (modern-upstream.ts), directly and through the gateway (issue 10). Both legs pay the same client
// and the same upstream; the gateway leg adds the gateway's per-request front end and its
// per-request call to the upstream. CPU per call of the gateway and the upstream come from /proc.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { ClosedLoopResult } from "./closed-loop.js";
import { sdkLoadgen, type Attempt } from "./kinds.js";
import { Child, cpuSeconds, startGateways, waitUntilServing, type GatewayLaunch } from "./stack.js";

const here = import.meta.dirname;
const modernUpstreamJs = join(here, "modern-upstream.js");
const PREFIX = "modern";

export interface Era2026Settings {
  clients: number[];
  legMs: number;
  warmupMs: number;
}

export interface Era2026Leg extends ClosedLoopResult {
  /** CPU the upstream spent per call in this leg, warm-up included. */
  upstreamCpuUsPerCall: number;
  /** CPU the gateway spent per call (gateway legs only). */
  gatewayCpuUsPerCall?: number;
}

export interface Era2026Row {
  clients: number;
  direct?: Era2026Leg;
  gateway?: Era2026Leg;
}

/** One sdk-loadgen process, with the CPU the measured processes spent meanwhile. */
async function leg(url: string, tool: string, clients: number, settings: Era2026Settings, upstream: Child, gateway?: Child): Promise<Era2026Leg> {
  const upstreamBefore = cpuSeconds(upstream.pid);
  const gatewayBefore = gateway ? cpuSeconds(gateway.pid) : 0;
  const result = await sdkLoadgen(["--transport", "modern", "--url", url], tool, { text: "bench payload" }, clients, settings);
  const calls = Math.max(result.calls + result.warmupCalls, 1);
  const perCall = (seconds: number) => Math.round((seconds * 1e6) / calls);
  return {
    ...result,
    upstreamCpuUsPerCall: perCall(cpuSeconds(upstream.pid) - upstreamBefore),
    ...(gateway ? { gatewayCpuUsPerCall: perCall(cpuSeconds(gateway.pid) - gatewayBefore) } : {}),
  };
}

/** Starts the SDK v2 upstream and one gateway in front of it, then runs a direct and a gateway leg per client count. */
export async function measureEra2026(settings: Era2026Settings, launch: GatewayLaunch, attempt: Attempt): Promise<Era2026Row[]> {
  const started: Child[] = [];
  const dir = mkdtempSync(join(tmpdir(), "mcp-bench-2026-"));
  try {
    const upstream = new Child("SDK v2 upstream (2026-07-28)", modernUpstreamJs, ["--port", "0"]);
    started.push(upstream);
    const port = Number((await upstream.line(/^listening \d+$/, 20_000)).split(" ")[1]);
    const directUrl = `http://127.0.0.1:${port}/mcp`;
    const registryPath = join(dir, "registry.yaml");
    writeFileSync(registryPath, stringify({ servers: [{ name: `bench/${PREFIX}`, url: directUrl, hostname: "", toolPrefix: `${PREFIX}_` }], virtualServers: [] }));
    const [gateway] = await startGateways(registryPath, [{ name: "plain", args: [] }], launch);
    if (!gateway) throw new Error("measureEra2026: no gateway started");
    started.push(gateway.child);
    await waitUntilServing(gateway, [upstream], [PREFIX], 1);
    const rows: Era2026Row[] = [];
    for (const clients of settings.clients) {
      const direct = await attempt(`2026-07-28 direct leg, ${clients} clients`, () => leg(directUrl, "echo", clients, settings, upstream));
      const through = await attempt(`2026-07-28 gateway leg, ${clients} clients`, async () => {
        const result = await leg(gateway.url, `${PREFIX}_echo`, clients, settings, upstream, gateway.child);
        gateway.child.assertRunning(`the ${clients}-client 2026-07-28 leg`);
        return result;
      });
      rows.push({ clients, direct, gateway: through });
    }
    return rows;
  } finally {
    await Promise.all(started.map((child) => child.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
