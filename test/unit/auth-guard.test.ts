// The auth guard in process, on a real loopback server with real ES256 keys (jose): who gets a
// 401 and with which challenge, what a verified request carries on to the transport (identity,
// tool grant), and that nothing unauthenticated reaches the handler behind it.
import type { IncomingMessage, ServerResponse } from "node:http";
import { expect } from "chai";
import { createLocalJWKSet, SignJWT } from "jose";
import { pino } from "pino";
import { authGuard, type AuthGuardConfig } from "../../internal/auth/guard.js";
import { AUTHORIZED_TOOLS_HEADER } from "../../internal/auth/authorized-tools.js";
import { ProtectedResourceMetadata } from "../../internal/auth/protected-resource.js";
import { grantOf, identityOf } from "../../internal/auth/request-grants.js";
import { VerifiedTokens } from "../../internal/auth/verified-tokens.js";
import { rawRequest, serveLoopback, type LoopbackServer, type RawAnswer } from "../helpers/loopback.js";
import { newTokenIssuer, type TokenIssuer } from "../helpers/token-issuer.js";

const ISSUER = "https://issuer.test";
const AUDIENCE = "mcp-gateway";
const POLICY_ISSUER = "https://policy.test";
const silent = pino({ level: "silent" });

/** What the handler behind the guard saw of a request it was handed. */
interface Passed {
  identity?: { issuer: string; subject: string };
  allowed?: string[];
}

describe("unit: authGuard", () => {
  let clients: TokenIssuer;
  let policy: TokenIssuer;
  let stranger: TokenIssuer;
  const servers: LoopbackServer[] = [];
  const metadata = new ProtectedResourceMetadata({ resource: "https://gw.example/mcp", authorizationServers: [ISSUER], scopes: [] });

  before(async () => {
    [clients, policy, stranger] = await Promise.all([newTokenIssuer(ISSUER, AUDIENCE), newTokenIssuer(POLICY_ISSUER, AUDIENCE), newTokenIssuer(ISSUER, AUDIENCE)]);
  });
  after(() => Promise.all(servers.map((server) => server.close())));

  const bearer = (toolsClaim = "") => ({ keys: createLocalJWKSet(clients.jwks), issuer: ISSUER, audience: AUDIENCE, metadata, toolsClaim, verified: new VerifiedTokens() });
  const authorizedTools = () => ({ keys: createLocalJWKSet(policy.jwks), issuer: POLICY_ISSUER, audience: AUDIENCE, maxAgeSeconds: 60, verified: new VerifiedTokens() });

  /** A loopback server with the guard in front of a handler that records what it was handed. */
  async function guarded(config: AuthGuardConfig): Promise<{ send: (headers?: Record<string, string>) => Promise<RawAnswer>; passed: Passed[] }> {
    const passed: Passed[] = [];
    const next = async (req: IncomingMessage, res: ServerResponse) => {
      const grant = grantOf(req.headers);
      passed.push({ identity: identityOf(req.headers), allowed: grant && [...grant.names].sort() });
      req.resume();
      res.writeHead(200).end("ok");
    };
    const server = await serveLoopback(authGuard(config, next, silent));
    servers.push(server);
    return { send: (headers = {}) => rawRequest(`${server.url}/mcp`, { method: "POST", headers, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' }), passed };
  }

  function expect401(answer: RawAnswer, message: string, challenge: string | undefined): void {
    expect(answer.status).to.equal(401);
    expect(JSON.parse(answer.body)).to.deep.equal({ jsonrpc: "2.0", id: null, error: { code: -32600, message } });
    expect(answer.headers["content-length"]).to.equal(String(Buffer.byteLength(answer.body)));
    expect(answer.headers["www-authenticate"]).to.equal(challenge);
  }

  const challenge = 'Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource"';
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  it("without bearer or authorized-tools config the handler is used as is", () => {
    const next = async () => undefined;
    expect(authGuard({}, next, silent)).to.equal(next);
  });

  it("refuses a request without a token or with a malformed header, naming the metadata URL", async () => {
    const { send, passed } = await guarded({ bearer: bearer() });
    expect401(await send(), "Unauthorized: bearer token required", challenge);
    expect401(await send({ authorization: "Basic dXNlcjpwYXNz" }), "Unauthorized: invalid token", `${challenge}, error="invalid_token"`);
    expect(passed).to.deep.equal([]);
  });

  it("refuses tokens of another key, issuer or audience, expired ones, and those without exp or sub", async () => {
    const { send, passed } = await guarded({ bearer: bearer() });
    const otherIssuer = await newTokenIssuer("https://other.test", AUDIENCE);
    const otherAudience = await newTokenIssuer(ISSUER, "another-service");
    for (const [what, token] of [
      ["another key", await stranger.token({ sub: "alice" })],
      ["another issuer", await otherIssuer.token({ sub: "alice" })],
      ["another audience", await otherAudience.token({ sub: "alice" })],
      ["expired", await clients.token({ sub: "alice" }, -60)],
      ["no exp", await clients.token({ sub: "alice" }, null)],
      ["no sub", await clients.token({})],
      ["not a JWT", "abc.def.ghi"],
    ] as const) {
      const answer = await send(auth(token));
      expect(answer.status, what).to.equal(401);
      expect(answer.headers["www-authenticate"], what).to.equal(`${challenge}, error="invalid_token"`);
    }
    expect(passed).to.deep.equal([]);
  });

  it("hands a valid token's identity to the handler; without a tools claim there is no grant", async () => {
    const { send, passed } = await guarded({ bearer: bearer("allowed-tools") });
    expect((await send(auth(await clients.token({ sub: "alice" })))).status).to.equal(200);
    expect(passed).to.deep.equal([{ identity: { issuer: ISSUER, subject: "alice" }, allowed: undefined }]);
  });

  it("a tools claim grants what it lists (an array, or that array as JSON text); an unreadable one grants nothing", async () => {
    const { send, passed } = await guarded({ bearer: bearer("allowed-tools") });
    await send(auth(await clients.token({ sub: "a", "allowed-tools": ["b_two", "a_one"] })));
    await send(auth(await clients.token({ sub: "b", "allowed-tools": '["x_tool"]' })));
    await send(auth(await clients.token({ sub: "c", "allowed-tools": 42 })));
    expect(passed.map((p) => p.allowed)).to.deep.equal([["a_one", "b_two"], ["x_tool"], []]);
  });

  it("the challenge follows the metadata URL when the registry changes the resource", async () => {
    const moving = new ProtectedResourceMetadata({ resource: "https://gw.example/mcp", authorizationServers: [], scopes: [] });
    const { send } = await guarded({ bearer: { ...bearer(), metadata: moving } });
    moving.applyRegistry({ resource: "https://public.example:8443/tools/mcp" });
    expect((await send()).headers["www-authenticate"]).to.equal('Bearer resource_metadata="https://public.example:8443/.well-known/oauth-protected-resource"');
  });

  describe("x-authorized-tools", () => {
    it("alone: a grant from the policy issuer is required and intersects nothing", async () => {
      const { send, passed } = await guarded({ authorizedTools: authorizedTools() });
      expect401(await send(), `Unauthorized: missing ${AUTHORIZED_TOOLS_HEADER} header`, undefined);
      expect((await send({ [AUTHORIZED_TOOLS_HEADER]: await policy.token({ "allowed-tools": ["t1"] }) })).status).to.equal(200);
      expect((await send({ [AUTHORIZED_TOOLS_HEADER]: await policy.token({ tools: ["t2"] }) })).status, "the claim may be called tools").to.equal(200);
      expect(passed).to.deep.equal([
        { identity: undefined, allowed: ["t1"] },
        { identity: undefined, allowed: ["t2"] },
      ]);
      const answer = await send({ [AUTHORIZED_TOOLS_HEADER]: await policy.token({ "allowed-tools": "t1" }) });
      expect401(answer, `Unauthorized: ${AUTHORIZED_TOOLS_HEADER}: claim allowed-tools must list tool names`, undefined);
    });

    it("refuses a grant signed other than ES256 by its issuer, or by another issuer", async () => {
      const { send, passed } = await guarded({ authorizedTools: authorizedTools() });
      const hs256 = await new SignJWT({ "allowed-tools": ["t1"] })
        .setProtectedHeader({ alg: "HS256", kid: "test-key" })
        .setIssuedAt()
        .setIssuer(POLICY_ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode("a shared secret of thirty-two bytes!"));
      for (const token of [hs256, await clients.token({ "allowed-tools": ["t1"] })]) {
        const answer = await send({ [AUTHORIZED_TOOLS_HEADER]: token });
        expect(answer.status).to.equal(401);
        expect((JSON.parse(answer.body) as { error: { message: string } }).error.message).to.match(new RegExp(`^Unauthorized: ${AUTHORIZED_TOOLS_HEADER}: `));
      }
      expect(passed).to.deep.equal([]);
    });

    it("with client authentication: the grant must name the bearer's subject, and the two grants intersect", async () => {
      const { send, passed } = await guarded({ bearer: bearer("allowed-tools"), authorizedTools: authorizedTools() });
      const alice = auth(await clients.token({ sub: "alice", "allowed-tools": ["t1", "t2"] }));
      const forAlice = await policy.token({ sub: "alice", "allowed-tools": ["t2", "t3"] });
      const forBob = await policy.token({ sub: "bob", "allowed-tools": ["t2", "t3"] });
      expect((await send({ ...alice, [AUTHORIZED_TOOLS_HEADER]: forAlice })).status).to.equal(200);
      const stolen = await send({ ...alice, [AUTHORIZED_TOOLS_HEADER]: forBob });
      expect(stolen.status).to.equal(401);
      expect(stolen.headers["www-authenticate"], "the challenge of client authentication").to.equal(challenge);
      expect401(await send({ [AUTHORIZED_TOOLS_HEADER]: forAlice }), "Unauthorized: bearer token required", challenge);
      expect(passed).to.deep.equal([{ identity: { issuer: ISSUER, subject: "alice" }, allowed: ["t2"] }]);
    });
  });
});
