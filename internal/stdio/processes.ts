// stdio MCP servers run by the broker itself: one child process per upstream session (a stdio
// server serves one client), newline-delimited JSON-RPC on stdin and stdout, stderr to the log at
// debug. The number of children is bounded, and a server whose children keep dying young is
// started again only after a growing delay.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Backoff, type BackoffOptions } from "../retry/backoff.js";
import type { Logger } from "../log/logger.js";
import type { ChannelEvents, MessageChannel } from "../upstream/channel.js";
import type { UpstreamTarget } from "../upstream/connector.js";
import { UpstreamError, UpstreamProtocolError } from "../upstream/errors.js";

export interface StdioOptions {
  /** Children alive at once, over all stdio servers. */
  maxProcesses: number;
  /** Delay before starting a server again whose last child died within youngDeathMs. */
  backoff: BackoffOptions;
  /** Largest line (one message) a child may write. */
  maxLineBytes: number;
  /** A child that ran this long before dying was not crash-looping. */
  youngDeathMs?: number;
  /** How long a child asked to stop gets before SIGKILL. */
  stopGraceMs?: number;
}

interface Restarts {
  backoff: Backoff;
  notBefore: number;
}

export class StdioProcesses {
  private readonly children = new Set<ChildProcessWithoutNullStreams>();
  private readonly restarts = new Map<string, Restarts>();

  constructor(
    private readonly options: StdioOptions,
    private readonly log: Logger,
  ) {}

  get running(): number {
    return this.children.size;
  }

  /** Starts a child for the target's registry entry; resolves once it runs. */
  async open(target: UpstreamTarget, events: ChannelEvents, signal?: AbortSignal): Promise<MessageChannel> {
    const server = target.server;
    if (!server?.command) throw new UpstreamError("stdio server has no command");
    const restarts = this.restarts.get(server.name);
    const wait = (restarts?.notBefore ?? 0) - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal });
    if (this.children.size >= this.options.maxProcesses) throw new UpstreamError(`stdio process limit reached (${this.options.maxProcesses}, --max-stdio-processes)`);
    const child = spawn(server.command, server.args ?? [], { env: { ...getDefaultEnvironment(), ...server.env }, stdio: ["pipe", "pipe", "pipe"], shell: false });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (err: NodeJS.ErrnoException) => reject(new UpstreamError(err.code === "ENOENT" ? `stdio command not found: ${server.command}` : `stdio command failed to start: ${err.message}`)));
    });
    // Later errors (a failed kill, a broken pipe) are seen through exit; unheard, one would end the broker.
    child.on("error", () => undefined);
    this.children.add(child);
    const started = Date.now();
    const log = this.log.child({ server: server.name, pid: child.pid });
    log.debug({ command: server.command }, "stdio server started");
    let stopping = false;
    let failure: Error | undefined;
    const fail = (reason: Error) => {
      if (failure) return;
      failure = reason;
      log.warn({ err: reason.message }, "stdio server failed");
      child.kill("SIGKILL");
    };

    readLines(child.stdout, this.options.maxLineBytes, (line) => {
      if (line.trim() === "") return;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        return fail(new UpstreamProtocolError(`stdio server wrote a line that is not JSON to stdout: ${JSON.stringify(line.slice(0, 80))}`));
      }
      events.message(message);
    }, fail);
    readLines(child.stderr, this.options.maxLineBytes, (line) => log.debug({ stderr: line }, "stdio server stderr"), () => undefined);
    child.stdin.on("error", () => undefined);

    const exited = new Promise<void>((resolve) =>
      child.once("exit", (code, signalName) => {
        this.children.delete(child);
        this.noteExit(server.name, Date.now() - started, stopping);
        if (!stopping) {
          const reason = failure ?? new UpstreamProtocolError(`stdio server exited (${signalName ? `signal ${signalName}` : `code ${code}`})`);
          if (!failure) log.warn({ code, signal: signalName }, "stdio server exited");
          events.closed(reason);
        } else {
          log.debug({ code, signal: signalName }, "stdio server stopped");
        }
        resolve();
      }),
    );

    return {
      send: (message) =>
        new Promise<void>((resolve, reject) => {
          if (failure || child.exitCode !== null || !child.stdin.writable) return reject(failure ?? new UpstreamProtocolError("stdio server is not running"));
          child.stdin.write(`${message}\n`, (err) => (err ? reject(new UpstreamProtocolError(`writing to the stdio server failed: ${err.message}`)) : resolve()));
        }),
      close: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        stopping = true;
        // As the MCP spec asks: close stdin, then SIGTERM, then SIGKILL.
        child.stdin.end();
        const grace = this.options.stopGraceMs ?? 2_000;
        const term = setTimeout(() => child.kill("SIGTERM"), grace / 2);
        const kill = setTimeout(() => child.kill("SIGKILL"), grace);
        await exited;
        clearTimeout(term);
        clearTimeout(kill);
      },
    };
  }

  /** A child that died young delays the server's next start; one that lived long enough clears the delay. */
  private noteExit(name: string, livedMs: number, asked: boolean): void {
    if (asked || livedMs >= (this.options.youngDeathMs ?? 10_000)) {
      this.restarts.delete(name);
      return;
    }
    const restarts = this.restarts.get(name) ?? { backoff: new Backoff(this.options.backoff), notBefore: 0 };
    restarts.notBefore = Date.now() + restarts.backoff.next();
    this.restarts.set(name, restarts);
  }
}

/** Splits a stream into lines; a line longer than maxBytes is a failure, not a memory leak. */
function readLines(stream: NodeJS.ReadableStream, maxBytes: number, onLine: (line: string) => void, onFailure: (err: Error) => void): void {
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      onLine(buffered.slice(0, newline).replace(/\r$/, ""));
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
    }
    if (buffered.length > maxBytes) {
      buffered = "";
      onFailure(new UpstreamProtocolError(`stdio server wrote a line longer than ${maxBytes} bytes`));
    }
  });
  stream.on("error", () => undefined);
}
