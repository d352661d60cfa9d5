// What every fault test checks besides the fault itself: bystander sessions that keep calling a healthy
// upstream while the fault happens must all get their answers, promptly; and once the gateway sessions are
// DELETEd (or the gateway stops) no upstream may still hold a session opened for them -- counted on every
// upstream fixture that can tell whose sessions it holds.
import { isDeepStrictEqual } from "node:util";
import { expect } from "chai";
import { GATEWAY_INFO } from "../../internal/mcp/protocol.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { startGateway, type GatewayProcess } from "./gateway-process.js";
import { openRawSession, postMcp, type McpHttpResponse } from "./http.js";
import { connectClient, type TestClient } from "./mcp-client.js";
import { registryYaml, serverReady, type TestServer } from "./registry.js";

/** The healthy upstream every fault gateway serves next to the faulty ones. */
export const HEALTHY_SERVER = "faults/ok";
export const HEALTHY_PREFIX = "ok_";

/** A bystander call slower than this counts as hurt: a fault must not hold up anyone else. */
const BYSTANDER_MAX_LATENCY_MS = 1_000;
const BYSTANDER_PAUSE_MS = 20;
const BYSTANDER_COUNT = 3;

/** An upstream fixture that can tell whose sessions it holds open (by the clientInfo name of their initialize). */
export interface CountingUpstream {
  sessionClients(): string[];
}

/** Upstream sessions opened on behalf of gateway sessions (the gateway's own discovery session left out). */
export function clientSessions(upstream: CountingUpstream): number {
  return upstream.sessionClients().filter((name) => name !== GATEWAY_INFO.name).length;
}

/** Upstream sessions of the gateway's discovery. */
export function discoverySessions(upstream: CountingUpstream): number {
  return upstream.sessionClients().filter((name) => name === GATEWAY_INFO.name).length;
}

export function toolCall(id: string | number, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } };
}

/** The JSON-RPC answer of a tool that returned `text`. */
export function textResult(id: string | number, text: string) {
  return { jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } };
}

/** Gateway sessions a test opens, remembered so that all of them can be ended at the end. */
export class GatewaySessions {
  private readonly raw = new Set<string>();
  private readonly clients = new Set<TestClient>();
  private probe?: string;

  constructor(readonly mcpUrl: string) {}

  /** A session over raw HTTP; returns its id. */
  async open(): Promise<string> {
    const { sessionId } = await openRawSession(this.mcpUrl);
    this.raw.add(sessionId);
    return sessionId;
  }

  /** A session of the SDK's client. */
  async connect(): Promise<TestClient> {
    const client = await connectClient(this.mcpUrl);
    this.clients.add(client);
    return client;
  }

  post(sessionId: string, body: unknown, headers: Record<string, string> = {}): Promise<McpHttpResponse> {
    return postMcp(this.mcpUrl, body, { "mcp-session-id": sessionId, ...headers });
  }

  /** The tool names a session lists: by default one probe session, so that polling opens no session per look. */
  async toolNames(sessionId?: string): Promise<string[]> {
    const res = await this.post(sessionId ?? (this.probe ??= await this.open()), { jsonrpc: "2.0", id: "list", method: "tools/list" });
    return (res.messages[0] as { result: { tools: Array<{ name: string }> } }).result.tools.map((tool) => tool.name);
  }

  /** DELETEs every session opened so far; each must be acknowledged. */
  async endAll(): Promise<void> {
    const raw = [...this.raw];
    const clients = [...this.clients];
    this.raw.clear();
    this.clients.clear();
    this.probe = undefined;
    const statuses = await Promise.all(raw.map(async (sessionId) => (await fetch(this.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sessionId } })).status));
    expect(statuses, "DELETE of each gateway session").to.deep.equal(raw.map(() => 200));
    await Promise.all(clients.map((client) => client.close()));
  }
}

export interface Bystanders {
  /** Stops calling; every call made since the start must have answered correctly within the latency bound. */
  expectUnaffected(): Promise<void>;
}

/**
 * Sessions that each call `tool` (an echo) once, so that each holds an upstream session before the fault,
 * then keep calling it until expectUnaffected().
 */
export async function startBystanders(sessions: GatewaySessions, tool = `${HEALTHY_PREFIX}echo`, count = BYSTANDER_COUNT): Promise<Bystanders> {
  const failures: string[] = [];
  const call = async (sessionId: string, label: string): Promise<void> => {
    const started = performance.now();
    try {
      const res = await sessions.post(sessionId, toolCall(label, tool, { text: label }));
      const elapsed = Math.round(performance.now() - started);
      if (!isDeepStrictEqual(res.messages, [textResult(label, label)])) failures.push(`${label}: HTTP ${res.status} ${res.text}`);
      else if (elapsed > BYSTANDER_MAX_LATENCY_MS) failures.push(`${label}: answered after ${elapsed} ms`);
    } catch (err) {
      failures.push(`${label}: ${String(err)}`);
    }
  };
  const ids = await Promise.all(Array.from({ length: count }, () => sessions.open()));
  await Promise.all(ids.map((sessionId, b) => call(sessionId, `bystander ${b} call 0`)));
  expect(failures, "bystanders before the fault").to.deep.equal([]);
  let running = true;
  const loops = ids.map(async (sessionId, b) => {
    let calls = 0;
    while (running) {
      await call(sessionId, `bystander ${b} call ${++calls}`);
      await new Promise((r) => setTimeout(r, BYSTANDER_PAUSE_MS));
    }
    return calls;
  });
  return {
    async expectUnaffected() {
      running = false;
      const calls = await Promise.all(loops);
      expect(failures, "bystander calls that failed or were slow").to.deep.equal([]);
      // Each loop ran during the fault: a bystander that made no call proved nothing.
      expect(calls.every((n) => n > 0), `calls per bystander: ${calls.join(", ")}`).to.equal(true);
    },
  };
}

/**
 * DELETEs the sessions, then: no counted upstream holds a session for a gateway session any more (the DELETE
 * answer waits for the upstream sessions to be ended), and each holds at most discovery's one session.
 */
export async function endSessionsExpectNoLeak(sessions: GatewaySessions, counted: Map<string, CountingUpstream>): Promise<void> {
  await sessions.endAll();
  const left = Object.fromEntries([...counted].map(([name, upstream]) => [name, clientSessions(upstream)]));
  expect(left, "upstream sessions still open for ended gateway sessions").to.deep.equal(Object.fromEntries([...counted.keys()].map((name) => [name, 0])));
  for (const [name, upstream] of counted) expect(discoverySessions(upstream), `discovery sessions on ${name}`).to.be.at.most(1);
}

export interface FaultGateway {
  gateway: GatewayProcess;
  healthy: UpstreamServer;
  /** The registry the gateway started with, the healthy server first. */
  servers: TestServer[];
  sessions: GatewaySessions;
  /** Upstreams whose sessions are counted, by server name: the healthy one and the test's own. */
  counted: Map<string, CountingUpstream>;
  /**
   * Runs a fault while bystanders call the healthy upstream, then checks they were unaffected and, after
   * DELETEing every session opened through `sessions`, that no upstream session leaked.
   */
  isolated(fault: () => Promise<void>): Promise<void>;
  /** SIGTERM with sessions open; afterwards no counted upstream holds any session, discovery's included. */
  stopExpectNoSessions(): Promise<void>;
  /** Stops the gateway and the healthy upstream. */
  stop(): Promise<void>;
}

export interface FaultyServer extends TestServer {
  /** The fixture, when it can count its sessions. */
  counted?: CountingUpstream;
}

/** A gateway (file registry) serving the healthy upstream (tools ok_*) and the faulty servers; resolves once the healthy one is ready. */
export async function startFaultGateway(faulty: FaultyServer[], args: string[] = []): Promise<FaultGateway> {
  const healthy = await startUpstreamServer({ name: "ok" });
  const servers: TestServer[] = [{ name: HEALTHY_SERVER, url: healthy.url, prefix: HEALTHY_PREFIX }, ...faulty];
  const gateway = await startGateway(registryYaml(servers), args);
  await serverReady(gateway.baseUrl, HEALTHY_SERVER);
  const counted = new Map<string, CountingUpstream>([[HEALTHY_SERVER, healthy]]);
  for (const server of faulty) if (server.counted) counted.set(server.name, server.counted);
  const sessions = new GatewaySessions(gateway.mcpUrl);
  return {
    gateway,
    healthy,
    servers,
    sessions,
    counted,
    async isolated(fault) {
      const bystanders = await startBystanders(sessions);
      // Also shows the count works: a leak check on an upstream that counts nothing would prove nothing.
      expect(clientSessions(healthy), "upstream sessions of the bystanders").to.equal(BYSTANDER_COUNT);
      const failed = await fault().then(
        () => undefined,
        (err: unknown) => ({ err }),
      );
      if (failed) {
        // The fault's own failure is the one to report; the clean-up keeps it from spilling into the next test.
        await bystanders.expectUnaffected().catch(() => undefined);
        await sessions.endAll().catch(() => undefined);
        throw failed.err;
      }
      await bystanders.expectUnaffected();
      await endSessionsExpectNoLeak(sessions, counted);
    },
    async stopExpectNoSessions() {
      const started = performance.now();
      await gateway.stop();
      // Shutdown ends upstream sessions before exiting; a hung one would only be cut by the 5 s deadline.
      expect(performance.now() - started).to.be.lessThan(4_000);
      const left = [...counted].map(([name, upstream]) => ({ name, sessions: upstream.sessionClients().length }));
      expect(left).to.deep.equal([...counted.keys()].map((name) => ({ name, sessions: 0 })));
    },
    async stop() {
      await gateway.stop();
      await healthy.stop();
    },
  };
}
