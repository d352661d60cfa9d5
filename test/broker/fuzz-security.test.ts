// Properties of the security bounds, by fast-check over real HTTP: whatever users, sessions and
// methods a run mixes, no request of one identity ever reaches an upstream on another's session;
// whatever batches a client sends, it is charged one token and one stream slot per message, so a
// batch never does more upstream than the same requests sent one by one would.
import { expect } from "chai";
import fc from "fast-check";
import { Agent, request } from "undici";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { initializeRequest, JSON_AND_SSE, mcpMessages } from "../helpers/http.js";
import { registryYaml, serverReady } from "../helpers/registry.js";
import { newTokenIssuer, type TokenIssuer } from "../helpers/token-issuer.js";

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED, plugins: [fc.interruptAfterTimeLimit(10_000 * Math.max(1, SCALE))] });

interface Answer {
  status: number;
  sessionId: string | null;
  messages: unknown[];
}

async function send(mcpUrl: string, method: "POST" | "GET" | "DELETE", headers: Record<string, string>, body?: unknown, dispatcher?: Agent): Promise<Answer> {
  const all: Record<string, string> = { accept: method === "GET" ? "text/event-stream" : JSON_AND_SSE, ...headers };
  if (body !== undefined) all["content-type"] = "application/json";
  const res = await request(mcpUrl, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body), dispatcher, signal: AbortSignal.timeout(10_000) });
  // A GET stream that was accepted stays open: its status is the answer.
  if (method === "GET" && res.statusCode === 200) {
    res.body.destroy();
    return { status: 200, sessionId: null, messages: [] };
  }
  const text = await res.body.text();
  const contentType = String(res.headers["content-type"] ?? "");
  const sessionId = typeof res.headers["mcp-session-id"] === "string" ? res.headers["mcp-session-id"] : null;
  return { status: res.statusCode, sessionId, messages: mcpMessages(contentType, text) };
}

/** The upstream's count of requests seen, once it has stopped moving. */
async function settled(upstream: UpstreamServer): Promise<number> {
  let count = upstream.authorizationsSeen().length;
  for (;;) {
    await new Promise((r) => setTimeout(r, 30));
    const now = upstream.authorizationsSeen().length;
    if (now === count) return count;
    count = now;
  }
}

describe("fuzz: security properties (fast-check)", function () {
  this.timeout(120_000);
  let upstream: UpstreamServer;
  const gateways: GatewayProcess[] = [];

  before(async () => {
    console.log(`      fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
    upstream = await startUpstreamServer({ name: "alpha" });
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await upstream.stop();
  });

  it("identity binding: no request of identity B ever reaches an upstream on A's session", async () => {
    const issuer: TokenIssuer = await newTokenIssuer();
    const gateway = await startGateway(registryYaml([{ name: "team-a/alpha", url: upstream.url, prefix: "a_", forwardClientAuthorization: true }]), issuer.flags);
    gateways.push(gateway);
    await serverReady(gateway.baseUrl, "team-a/alpha");
    const users = ["alice", "bob", "carol"];
    const tokens = new Map<string, string>();
    for (const user of users) tokens.set(user, `Bearer ${await issuer.token({ sub: user })}`);
    const sessions = new Map<string, string>();
    for (const user of users) {
      const answer = await send(gateway.mcpUrl, "POST", { authorization: tokens.get(user) as string }, initializeRequest(1, "2025-03-26"));
      sessions.set(user, answer.sessionId as string);
    }
    let nextId = 1;
    const step = fc.record({
      caller: fc.constantFrom(...users),
      owner: fc.constantFrom(...users),
      kind: fc.constantFrom("call", "batch", "notification", "response", "get", "delete", "list"),
    });

    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        for (const { caller, owner, kind } of steps) {
          const sessionId = sessions.get(owner) as string;
          const headers = { authorization: tokens.get(caller) as string, "mcp-session-id": sessionId };
          // Notifications are passed upstream after the client's 202: let the previous step's arrive first.
          const seen = await settled(upstream);
          const id = nextId++;
          const call = { jsonrpc: "2.0", id, method: "tools/call", params: { name: "a_whoami", arguments: {} } };
          const bodies: Record<string, unknown> = {
            call,
            batch: [call, { jsonrpc: "2.0", method: "notifications/roots/list_changed" }],
            notification: { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
            response: { jsonrpc: "2.0", id: "gw-1.W10", result: {} },
            list: { jsonrpc: "2.0", id, method: "tools/list" },
          };
          // A DELETE by the owner would end the session the rest of the run uses.
          if (kind === "delete" && caller === owner) continue;
          const method = kind === "get" ? "GET" : kind === "delete" ? "DELETE" : "POST";
          const answer = await send(gateway.mcpUrl, method, headers, method === "POST" ? bodies[kind] : undefined);
          if (caller !== owner) {
            expect(answer.status, `${caller} on ${owner}'s session (${kind})`).to.equal(404);
            expect(await settled(upstream), `nothing of ${caller}'s reached the upstream`).to.equal(seen);
          } else {
            expect(answer.status, `${caller} on their own session (${kind})`).to.be.oneOf([200, 202]);
            // Whatever reached the upstream for the owner carries the owner's own token.
            await settled(upstream);
            for (const authorization of upstream.authorizationsSeen().slice(seen)) expect(authorization).to.equal(tokens.get(owner));
          }
        }
      }),
      runs(25),
    );
  });

  it("batch accounting: a batch costs one rate token per message and one stream slot per request, and a refused batch does nothing", async () => {
    const burst = 12;
    const maxStreams = 5;
    const gateway = await startGateway(registryYaml([{ name: "team-a/alpha", url: upstream.url, prefix: "a_" }]), [
      "--client-rate-limit",
      "0.001",
      "--client-rate-burst",
      String(burst),
      "--max-streams-per-session",
      String(maxStreams),
    ]);
    gateways.push(gateway);
    await serverReady(gateway.baseUrl, "team-a/alpha");
    let run = 0;
    const calls = () => upstream.methodsSeen().filter((m) => m === "tools/call").length;
    const batchArb = fc.record({ requests: fc.integer({ min: 0, max: 8 }), notifications: fc.integer({ min: 0, max: 3 }) }).filter((b) => b.requests + b.notifications > 0);

    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 5 }), async (batches) => {
        // A fresh loopback address per run: a fresh bucket (addresses 127.0.1.1 ... 127.0.255.254).
        run++;
        const dispatcher = new Agent({ localAddress: `127.0.${1 + (Math.floor(run / 254) % 254)}.${1 + (run % 254)}` });
        try {
          const opened = await send(gateway.mcpUrl, "POST", {}, initializeRequest(1, "2025-03-26"), dispatcher);
          const headers = { "mcp-session-id": opened.sessionId as string };
          let tokens = burst - 1;
          let id = 0;
          for (const { requests, notifications } of batches) {
            const body = [
              ...Array.from({ length: requests }, () => ({ jsonrpc: "2.0", id: ++id, method: "tools/call", params: { name: "a_echo", arguments: { text: "x" } } })),
              ...Array.from({ length: notifications }, () => ({ jsonrpc: "2.0", method: "notifications/roots/list_changed" })),
            ];
            const messages = requests + notifications;
            const before = calls();
            const answer = await send(gateway.mcpUrl, "POST", headers, body, dispatcher);
            if (messages > tokens) {
              expect(answer.status, `batch of ${messages} with ${tokens} tokens left`).to.equal(429);
              expect(calls()).to.equal(before);
              continue;
            }
            tokens -= messages;
            if (requests > maxStreams) {
              expect(answer.status, `batch of ${requests} requests over ${maxStreams} slots`).to.equal(429);
              expect(calls()).to.equal(before);
            } else if (requests === 0) {
              expect(answer.status).to.equal(202);
            } else {
              expect(answer.status).to.equal(200);
              expect(answer.messages).to.have.length(requests);
              expect(calls() - before).to.equal(requests);
            }
          }
        } finally {
          await dispatcher.close();
        }
      }),
      runs(20),
    );
  });
});
