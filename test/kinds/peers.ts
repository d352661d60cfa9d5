// Real third-party peers for the transport-kind tests, started as child processes: the MCP
// reference servers, the Python mcp-server-time from PyPI, and Stoplight Prism (a mock REST
// server for an OpenAPI document).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { eventually, freePort } from "../helpers/gateway-process.js";

export const repoRoot = resolve(import.meta.dirname, "../../..");
export const everythingMain = resolve(repoRoot, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
export const memoryMain = resolve(repoRoot, "node_modules/@modelcontextprotocol/server-memory/dist/index.js");
export const petstoreDocument = resolve(repoRoot, "../shared/openapi/petstore3.json");

export interface Peer {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once("exit", () => done());
      child.kill("SIGTERM");
    });
}

/** Resolves once something accepts HTTP on the port (any status). */
async function listening(port: number, path: string, what: string): Promise<void> {
  await eventually(
    async () => {
      const controller = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: controller.signal });
      controller.abort();
      return res.status > 0;
    },
    20_000,
    what,
  );
}

/** server-everything in `sse` (GET /sse, POST /message) or `streamableHttp` (/mcp) mode. */
export async function startEverything(mode: "sse" | "streamableHttp", port?: number): Promise<Peer> {
  const chosen = port ?? (await freePort());
  const child = spawn(process.execPath, [everythingMain, mode], { env: { ...process.env, PORT: String(chosen) }, stdio: "ignore" });
  await listening(chosen, mode === "sse" ? "/sse" : "/mcp", `server-everything ${mode}`);
  return { port: chosen, child, stop: stopper(child) };
}

/** `prism mock DOCUMENT -p PORT`: answers every operation of the document with examples, and 4xx for invalid requests. */
export async function startPrism(document: string): Promise<Peer> {
  const port = await freePort();
  const child = spawn(resolve(repoRoot, "node_modules/.bin/prism"), ["mock", document, "-p", String(port), "-h", "127.0.0.1"], { stdio: "ignore" });
  await listening(port, "/", "prism");
  return { port, child, stop: stopper(child) };
}

/** The Python reference server, pinned: stdio only, tools get_current_time and convert_time. */
export const PYTHON_TIME_SERVER = "mcp-server-time==2026.10.19";

/** Why a Python peer could not be installed because PyPI is out of reach: the test is skipped then, not failed. */
export class PyPiUnreachable extends Error {}

/** pip's words for a package index it cannot reach (after its retries). */
const UNREACHABLE = /Max retries exceeded|Failed to establish a new connection|Temporary failure in name resolution|Network is unreachable|No matching distribution found|Could not find a version that satisfies/;

/**
 * The path of the program `requirement` installs, from a venv of its own under the system's temp directory (made
 * once, reused by later runs). Rejects with PyPiUnreachable when pip cannot reach the index; any other failure
 * (no python3, no venv module) is an error.
 */
export async function pythonPeer(requirement: string, program: string): Promise<string> {
  const venv = join(tmpdir(), `mcp-gateway-peer-${requirement.replace(/[^A-Za-z0-9.]+/g, "-")}`);
  const bin = join(venv, "bin", program);
  if (existsSync(bin)) return bin;
  const run = promisify(execFile);
  await run("python3", ["-m", "venv", venv], { timeout: 60_000 });
  try {
    await run(join(venv, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", requirement], { timeout: 5 * 60_000, env: { ...process.env, PIP_DEFAULT_TIMEOUT: "20", PIP_RETRIES: "1" } });
  } catch (err) {
    const output = `${(err as { stderr?: string }).stderr ?? ""}${(err as Error).message}`;
    if (UNREACHABLE.test(output)) throw new PyPiUnreachable(`PyPI unreachable, ${requirement} not installed: ${output.split("\n").findLast((line) => UNREACHABLE.test(line))?.trim()}`);
    throw err;
  }
  if (!existsSync(bin)) throw new Error(`${requirement} installed no ${program} in ${venv}/bin`);
  return bin;
}

/** A registry file with the given server entries (any fields, as users write them). */
export function registry(servers: Array<Record<string, unknown>>): string {
  return stringify({ servers: servers.map((server) => ({ hostname: "", toolPrefix: "", ...server })) });
}
