// The processes of a bench run: the synthetic upstream, the real broker-router in front of it, and
// load generators. Every child is tracked so nothing outlives the run, whatever ends it.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { brokerMain, freePort, UNBOUNDED_CLIENT } from "../helpers/gateway-process.js";
import { createPool, McpSession } from "./mcp-client.js";

const READY_TIMEOUT_MS = 60_000;
const STDOUT_LINES_KEPT = 200;
const here = import.meta.dirname;
export const loadgenJs = join(here, "loadgen.js");
const upstreamJs = join(here, "synthetic-upstream.js");
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

const live = new Set<Child>();

export class Child {
  readonly proc: ChildProcess;
  private tail = "";
  private partial = "";
  private readonly lines: string[] = [];

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
    nodeArgs: string[] = [],
  ) {
    this.proc = spawn(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    live.add(this);
    this.proc.once("exit", () => live.delete(this));
    this.proc.stdout?.on("data", (chunk: Buffer) => {
      this.keep(chunk);
      const parts = (this.partial + chunk.toString()).split("\n");
      this.partial = parts.pop() ?? "";
      this.lines.push(...parts);
      this.lines.splice(0, Math.max(0, this.lines.length - STDOUT_LINES_KEPT));
    });
    this.proc.stderr?.on("data", (chunk: Buffer) => this.keep(chunk));
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.proc.pid;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  assertRunning(during: string): void {
    if (this.exited) throw new Error(`${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}) during ${during}:\n${this.output()}`);
  }

  /** The last few KB of output, for error messages. */
  output(): string {
    return this.tail;
  }

  /** Our own tools announce themselves with one stdout line (`listening P`, a JSON result). */
  line(pattern: RegExp, timeoutMs: number): Promise<string> {
    return waitFor(`${this.name} to print ${pattern}`, timeoutMs, [this], async () => this.lines.find((l) => pattern.test(l)));
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((done) => this.proc.once("exit", done));
    this.proc.kill("SIGTERM");
    if (await Promise.race([gone.then(() => true), sleep(5_000, false)])) return;
    this.proc.kill("SIGKILL");
    await gone;
  }

  private keep(chunk: Buffer): void {
    this.tail = (this.tail + chunk.toString()).slice(-4_000);
  }
}

function killAll(): void {
  for (const child of live) child.proc.kill("SIGKILL");
}
process.on("exit", killAll);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(code);
  });
}

/** Polls check() until it yields a value; fails fast if a process it depends on dies. */
export async function waitFor<T>(what: string, timeoutMs: number, dependsOn: Child[], check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    for (const child of dependsOn) child.assertRunning(`the wait for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await sleep(100);
  }
}

/** One loadgen process; resolves with the JSON line it prints. */
export async function loadgen<T>(args: string[], timeoutMs: number): Promise<T> {
  const child = new Child("loadgen", loadgenJs, args);
  try {
    return JSON.parse(await child.line(/^\{/, timeoutMs)) as T;
  } finally {
    await child.stop();
  }
}

// ---- /proc readings ----

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm) " start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

export function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

// ---- the system under test: synthetic upstream + gateway in front of it ----

/** One gateway of a stack: a name for the report, and what its command line adds. */
export interface GatewaySpec {
  name: string;
  args: string[];
  /** A fresh client token, for gateways that require one. */
  bearer?: () => Promise<string>;
}

/** How gateways are launched: which broker-router build (e.g. a base commit's, for A/B runs), and whether it writes a CPU profile. */
export interface GatewayLaunch {
  main: string;
  /** Each gateway writes its .cpuprofile under DIR/<spec name>/ when it exits. */
  cpuProfDir?: string;
}

export const DEFAULT_LAUNCH: GatewayLaunch = { main: brokerMain };

export interface GatewayUnderTest {
  spec: GatewaySpec;
  child: Child;
  url: string;
}

/** The request headers a client of this gateway sends (its bearer token, when it needs one). */
export async function clientHeaders(spec: GatewaySpec): Promise<Record<string, string>> {
  return spec.bearer ? { authorization: `Bearer ${await spec.bearer()}` } : {};
}

export interface Stack {
  upstream: Child;
  /** The first gateway (the only one unless several specs were given). */
  gateway: Child;
  gatewayUrl: string;
  gateways: GatewayUnderTest[];
  /** http://127.0.0.1:PORT of the upstream process (its /sessions count lives there). */
  upstreamOrigin: string;
  directUrl: string;
}

export interface StackOptions {
  /** The gateways in front of the one upstream, all serving at once (one plain gateway by default). */
  gateways?: GatewaySpec[];
  launch?: GatewayLaunch;
}

/** One broker-router per spec on the registry file, each on a port of its own; the caller stops them. */
export async function startGateways(registryPath: string, specs: GatewaySpec[], launch: GatewayLaunch): Promise<GatewayUnderTest[]> {
  const gateways: GatewayUnderTest[] = [];
  for (const spec of specs) {
    const gatewayPort = await freePort();
    const nodeArgs = launch.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${join(launch.cpuProfDir, spec.name)}`] : [];
    // Quiet logs: per-request logging would be measured as gateway cost.
    const child = new Child(
      specs.length === 1 ? "gateway" : `gateway (${spec.name})`,
      launch.main,
      ["--mcp-gateway-config", registryPath, "--mcp-broker-public-address", `127.0.0.1:${gatewayPort}`, ...spec.args],
      // The load generator's clients share one address: per-client session bounds would measure themselves.
      { LOG_LEVEL: process.env.LOG_LEVEL ?? "warn", ...UNBOUNDED_CLIENT },
      nodeArgs,
    );
    gateways.push({ spec, child, url: `http://127.0.0.1:${gatewayPort}/mcp` });
  }
  return gateways;
}

/**
 * Starts upstream + gateways for `servers` x `tools`, runs `body` once every gateway serves them all, then stops them.
 */
export async function withStack<T>(servers: number, tools: number, body: (stack: Stack) => Promise<T>, options: StackOptions = {}): Promise<T> {
  const { gateways: specs = [{ name: "plain", args: [] }], launch = DEFAULT_LAUNCH } = options;
  const started: Child[] = [];
  // A directory of its own, so bench runs of several people on one machine cannot swap registries.
  const dir = mkdtempSync(join(tmpdir(), "mcp-bench-"));
  try {
    const upstream = new Child("synthetic upstream", upstreamJs, ["--port", "0", "--servers", String(servers), "--tools", String(tools)]);
    started.push(upstream);
    const port = Number((await upstream.line(/^listening \d+$/, 10_000)).split(" ")[1]);
    const names = Array.from({ length: servers }, (_, i) => `s${i}`);
    const registryPath = join(dir, "registry.yaml");
    const registry = {
      servers: names.map((n, i) => ({
        name: `bench/${n}`,
        url: `http://127.0.0.1:${port}/mcp/${i}`,
        hostname: `${n}.mcp.local`,
        toolPrefix: `${n}_`,
        enabled: true,
      })),
      virtualServers: [],
    };
    writeFileSync(registryPath, stringify(registry));
    const gateways = await startGateways(registryPath, specs, launch);
    started.push(...gateways.map((g) => g.child));
    const first = gateways[0];
    if (!first) throw new Error("withStack: no gateway to start");
    const stack: Stack = {
      upstream,
      gateway: first.child,
      gatewayUrl: first.url,
      gateways,
      upstreamOrigin: `http://127.0.0.1:${port}`,
      directUrl: `http://127.0.0.1:${port}/mcp`,
    };
    await Promise.all(gateways.map((g) => waitUntilServing(g, [upstream], names, servers * tools)));
    return await body(stack);
  } finally {
    await Promise.all(started.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when each server appears in the /status document with ready: true, as a key or as a field of the same object. */
function statusShowsReady(doc: unknown, names: string[]): boolean {
  const ready = new Set<string>();
  const visit = (node: unknown, key: string | undefined): void => {
    if (typeof node !== "object" || node === null) return;
    const entries = Object.entries(node);
    if (!Array.isArray(node) && (node as { ready?: unknown }).ready === true) {
      for (const v of [key, ...entries.map(([, v]) => v)]) if (typeof v === "string") ready.add(v);
    }
    for (const [k, v] of entries) visit(v, Array.isArray(node) ? undefined : k);
  };
  visit(doc, undefined);
  return names.every((n) => ready.has(`bench/${n}`) || ready.has(n));
}

/** /status says every server bench/<name> is ready, or (tolerating other /status shapes) their <name>_echo tools show up; then at least minTools are listed. */
export async function waitUntilServing(gateway: GatewayUnderTest, upstreams: Child[], names: string[], minTools: number): Promise<number> {
  const deps = [gateway.child, ...upstreams];
  const statusUrl = new URL("/status", gateway.url);
  const pool = createPool(gateway.url, 1);
  const headers = await clientHeaders(gateway.spec);
  let session: McpSession | undefined;
  const listed = async (): Promise<string[]> => {
    try {
      session ??= await McpSession.open(pool, gateway.url, headers);
      return await session.listTools();
    } catch (err) {
      session = undefined;
      throw err;
    }
  };
  try {
    await waitFor("the gateway to report its servers ready", READY_TIMEOUT_MS, deps, async () => {
      const status = await fetch(statusUrl).then((r) => (r.ok ? r.json() : undefined)).catch(() => undefined);
      if (statusShowsReady(status, names)) return true;
      const tools = new Set(await listed());
      return names.every((n) => tools.has(`${n}_echo`)) || undefined;
    });
    return await waitFor(`the gateway to list ${minTools}+ tools`, READY_TIMEOUT_MS, deps, async () => {
      const count = (await listed()).length;
      return count >= minTools ? count : undefined;
    });
  } finally {
    // Ended, so measurements that count the gateway's sessions start from zero.
    await session?.close().catch(() => undefined);
    await pool.close();
  }
}
