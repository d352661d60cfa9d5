// Real third-party peers for the transport-kind tests, started as child processes: the MCP
// reference servers and Stoplight Prism (a mock REST server for an OpenAPI document).
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
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

/** A registry file with the given server entries (any fields, as users write them). */
export function registry(servers: Array<Record<string, unknown>>): string {
  return stringify({ servers: servers.map((server) => ({ hostname: "", toolPrefix: "", ...server })) });
}
