// The server-kinds phase of `make bench`: what the gateway costs in front of a stdio server and a
// legacy SSE server (issue 12), against calling the same server directly, with a Streamable HTTP
// server on the same clients as the reference. Every leg runs on the
// MCP SDK's clients (sdk-loadgen.ts), so direct and gateway legs pay the same kind of client:
// direct to stdio is the SDK's stdio client running the same command the gateway runs, direct to
// SSE the SDK's SSEClientTransport, through the gateway its Streamable HTTP client. The peer is
// the real @modelcontextprotocol/server-everything (`streamableHttp`, `stdio` and `sse` modes), its `echo` tool.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "../helpers/gateway-process.js";
import { everythingMain } from "../kinds/peers.js";
import type { ClosedLoopResult } from "./closed-loop.js";
import { Child, startGateways, waitFor, waitUntilServing, type GatewayLaunch } from "./stack.js";

const sdkLoadgenJs = join(import.meta.dirname, "sdk-loadgen.js");
const READY_TIMEOUT_MS = 60_000;
export const KINDS = ["streamable-http", "stdio", "sse"] as const;
export type Kind = (typeof KINDS)[number];

export interface KindsSettings {
  clients: number[];
  legMs: number;
  warmupMs: number;
}

export interface KindsRow {
  kind: Kind;
  clients: number;
  direct?: ClosedLoopResult;
  gateway?: ClosedLoopResult;
}

/** Runs a leg; a failure is recorded by the caller instead of aborting the other legs. */
export type Attempt = <T>(what: string, fn: () => Promise<T>) => Promise<T | undefined>;

/** The arguments of server-everything's echo. */
const ECHO_ARGUMENTS = { message: "bench payload" };

/** One sdk-loadgen process calling `tool` with `toolArguments`; resolves with the JSON line it prints. */
export async function sdkLoadgen(target: string[], tool: string, toolArguments: Record<string, unknown>, clients: number, settings: KindsSettings): Promise<ClosedLoopResult> {
  const child = new Child("sdk-loadgen", sdkLoadgenJs, [
    ...target,
    ...["--tool", tool, "--arguments", JSON.stringify(toolArguments), "--concurrency", String(clients)],
    ...["--duration-ms", String(settings.legMs), "--warmup-ms", String(settings.warmupMs)],
  ]);
  try {
    return JSON.parse(await child.line(/^\{/, settings.legMs + settings.warmupMs + 60_000)) as ClosedLoopResult;
  } finally {
    await child.stop();
  }
}

/** server-everything in an HTTP mode, once it answers on `path`. */
async function startEverything(mode: "sse" | "streamableHttp", path: string): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = new Child(`server-everything ${mode}`, everythingMain, [mode], { PORT: String(port) });
  const url = `http://127.0.0.1:${port}${path}`;
  await waitFor(`server-everything ${mode} to listen`, READY_TIMEOUT_MS, [child], async () => {
    const controller = new AbortController();
    const res = await fetch(url, { signal: controller.signal });
    controller.abort(); // an SSE stream would stay open; any answer says it listens
    return res.status > 0 || undefined;
  });
  return { child, url };
}

/** Starts server-everything in its HTTP modes and one gateway serving them and a stdio server-everything, then runs direct and gateway legs per kind and client count. */
export async function measureKinds(settings: KindsSettings, launch: GatewayLaunch, attempt: Attempt): Promise<KindsRow[]> {
  const started: Child[] = [];
  // A directory of its own, so bench runs of several people on one machine cannot swap registries.
  const dir = mkdtempSync(join(tmpdir(), "mcp-bench-kinds-"));
  try {
    const http = await startEverything("streamableHttp", "/mcp");
    started.push(http.child);
    const sse = await startEverything("sse", "/sse");
    started.push(sse.child);
    const stdioArgs = [everythingMain, "stdio"];
    const registryPath = join(dir, "registry.yaml");
    writeFileSync(
      registryPath,
      stringify({
        servers: [
          { name: "bench/streamable-http", transport: "streamable-http", url: http.url, hostname: "", toolPrefix: "streamable-http_" },
          { name: "bench/stdio", transport: "stdio", command: process.execPath, args: stdioArgs, hostname: "", toolPrefix: "stdio_" },
          { name: "bench/sse", transport: "sse", url: sse.url, hostname: "", toolPrefix: "sse_" },
        ],
        virtualServers: [],
      }),
    );
    const [gateway] = await startGateways(registryPath, [{ name: "plain", args: [] }], launch);
    if (!gateway) throw new Error("measureKinds: no gateway started");
    started.push(gateway.child);
    await waitUntilServing(gateway, [http.child, sse.child], [...KINDS], KINDS.length);

    const direct: Record<Kind, string[]> = {
      "streamable-http": ["--transport", "streamable-http", "--url", http.url],
      stdio: ["--transport", "stdio", "--command", process.execPath, ...stdioArgs.flatMap((arg) => ["--arg", arg])],
      sse: ["--transport", "sse", "--url", sse.url],
    };
    const rows: KindsRow[] = [];
    for (const clients of settings.clients) {
      for (const kind of KINDS) {
        const directLeg = await attempt(`${kind} direct leg, ${clients} clients`, () => sdkLoadgen(direct[kind], "echo", ECHO_ARGUMENTS, clients, settings));
        const gatewayLeg = await attempt(`${kind} gateway leg, ${clients} clients`, async () => {
          const leg = await sdkLoadgen(["--transport", "streamable-http", "--url", gateway.url], `${kind}_echo`, ECHO_ARGUMENTS, clients, settings);
          gateway.child.assertRunning(`the ${clients}-client ${kind} leg`);
          return leg;
        });
        rows.push({ kind, clients, direct: directLeg, gateway: gatewayLeg });
      }
    }
    return rows;
  } finally {
    await Promise.all(started.map((child) => child.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
