// Optional client authentication (bearer JWTs checked against a JWKS), RFC 9728 metadata, and
// per-tool (and per-prompt) authorization from a token claim or a signed x-authorized-tools header.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { initializeRequest, postMcp } from "../helpers/http.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { registryYaml, serverReady } from "../helpers/registry.js";

const ISSUER = "https://issuer.test";
const AUDIENCE = "mcp-gateway";
const TOOLS_ISSUER = "https://policy.test";

interface Signer {
  key: CryptoKey;
  kid: string;
}

async function newSigner(kid: string): Promise<{ signer: Signer; jwk: Record<string, unknown> }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { signer: { key: privateKey, kid }, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

function writeJwks(dir: string, name: string, keys: Array<Record<string, unknown>>): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ keys }));
  return path;
}

async function sign(signer: Signer, claims: JWTPayload, options: { issuer?: string; audience?: string; expiresIn?: string | number } = {}): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: signer.kid }).setIssuedAt();
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  jwt = jwt.setExpirationTime(options.expiresIn ?? "5m");
  return jwt.sign(signer.key);
}

function errorOf(message: unknown): { code: number; message: string } {
  return (message as { error: { code: number; message: string } }).error;
}

describe("auth: client tokens and per-tool authorization", function () {
  this.timeout(60_000);
  let upstream: UpstreamServer;
  let dir: string;
  let issuer: Signer;
  let stranger: Signer;
  let policy: Signer;
  let clientJwks: string;
  let toolsJwks: string;
  const clients: TestClient[] = [];
  const gateways: GatewayProcess[] = [];

  async function gatewayWith(flags: string[]): Promise<GatewayProcess> {
    const gateway = await startGateway(registryYaml([{ name: "team-a/alpha", url: upstream.url, prefix: "a_" }], [{ name: "team-a/echoes", tools: ["a_echo", "a_whoami"] }]), flags);
    gateways.push(gateway);
    await serverReady(gateway.baseUrl, "team-a/alpha");
    return gateway;
  }

  async function connect(gateway: GatewayProcess, headers: Record<string, string>): Promise<TestClient> {
    const client = await connectClient(gateway.mcpUrl, headers);
    clients.push(client);
    return client;
  }

  async function toolNames(client: TestClient): Promise<string[]> {
    return (await client.client.listTools()).tools.map((tool) => tool.name).sort();
  }

  async function promptNames(client: TestClient): Promise<string[]> {
    return (await client.client.listPrompts()).prompts.map((prompt) => prompt.name).sort();
  }

  /** What a caller granted no prompt gets for prompts/get and a prompt completion: "unknown", as for a tool. */
  async function expectPromptRefused(client: TestClient, name: string): Promise<void> {
    const got = await client.client.getPrompt({ name, arguments: { name: "bob" } }).catch((err: Error) => err);
    expect(String(got)).to.match(new RegExp(`-32602.*Unknown prompt: ${name}`));
    const completed = await client.client.complete({ ref: { type: "ref/prompt", name }, argument: { name: "name", value: "al" } }).catch((err: Error) => err);
    expect(String(completed)).to.match(new RegExp(`-32602.*Unknown prompt: ${name}`));
  }

  async function expectPromptServed(client: TestClient, name: string): Promise<void> {
    const got = await client.client.getPrompt({ name, arguments: { name: "bob" } });
    expect((got.messages[0]?.content as { text?: string }).text).to.equal("Hello, bob! (from alpha)");
    const completed = await client.client.complete({ ref: { type: "ref/prompt", name }, argument: { name: "name", value: "al" } });
    expect(completed.completion.values).to.deep.equal(["alice", "albert"]);
  }

  before(async () => {
    upstream = await startUpstreamServer({ name: "alpha" });
    dir = mkdtempSync(join(tmpdir(), "mcp-auth-"));
    const a = await newSigner("issuer-1");
    const b = await newSigner("stranger-1");
    const c = await newSigner("policy-1");
    issuer = a.signer;
    stranger = b.signer;
    policy = c.signer;
    clientJwks = writeJwks(dir, "client-jwks.json", [a.jwk]);
    toolsJwks = writeJwks(dir, "tools-jwks.json", [c.jwk]);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await upstream.stop();
  });

  describe("client authentication", () => {
    let gateway: GatewayProcess;
    before(async () => {
      gateway = await gatewayWith([
        "--auth-jwks-file", clientJwks,
        "--auth-issuer", ISSUER,
        "--auth-audience", AUDIENCE,
        "--auth-authorization-servers", "https://issuer.test, https://backup.test",
        "--auth-scopes", "mcp:tools",
        "--auth-tools-claim", "mcp_tools",
      ]);
    });

    it("refuses a request without a token with 401 and a resource_metadata challenge", async () => {
      const res = await postMcp(gateway.mcpUrl, initializeRequest());
      expect(res.status).to.equal(401);
      const challenge = res.headers.get("www-authenticate") ?? "";
      expect(challenge).to.match(/^Bearer /);
      expect(challenge).to.include(`resource_metadata="${gateway.baseUrl}/.well-known/oauth-protected-resource"`);
      expect(challenge).not.to.include("invalid_token");
      expect(res.messages[0]).to.have.property("jsonrpc", "2.0");
      expect(errorOf(res.messages[0]).message).to.match(/Unauthorized/);
    });

    it("refuses bad signatures, wrong issuers, wrong audiences and expired tokens as invalid_token", async () => {
      const tokens = {
        forged: await sign(stranger, {}, { issuer: ISSUER, audience: AUDIENCE }),
        issuer: await sign(issuer, {}, { issuer: "https://other.test", audience: AUDIENCE }),
        audience: await sign(issuer, {}, { issuer: ISSUER, audience: "someone-else" }),
        expired: await sign(issuer, {}, { issuer: ISSUER, audience: AUDIENCE, expiresIn: Math.floor(Date.now() / 1000) - 600 }),
        garbage: "not.a.jwt",
      };
      for (const [what, token] of Object.entries(tokens)) {
        const res = await postMcp(gateway.mcpUrl, initializeRequest(), { authorization: `Bearer ${token}` });
        expect(res.status, what).to.equal(401);
        expect(res.headers.get("www-authenticate"), what).to.include('error="invalid_token"');
        expect(res.headers.get("www-authenticate"), what).to.include("resource_metadata=");
      }
      expect(gateway.output()).not.to.include(tokens.forged);
    });

    it("serves initialize and tools/list to a valid token, and keeps checking later requests", async () => {
      const token = await sign(issuer, { sub: "alice" }, { issuer: ISSUER, audience: AUDIENCE });
      const client = await connect(gateway, { authorization: `Bearer ${token}` });
      expect(await toolNames(client)).to.include.members(["a_echo", "a_whoami"]);
      expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "hi" } }))).to.equal("hi");
      const sessionId = client.transport.sessionId ?? "";
      const anonymous = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-session-id": sessionId });
      expect(anonymous.status).to.equal(401);
      expect(gateway.output()).not.to.include(token);
    });

    it("publishes RFC 9728 protected resource metadata", async () => {
      const res = await fetch(`${gateway.baseUrl}/.well-known/oauth-protected-resource`);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({
        resource: `${gateway.baseUrl}/mcp`,
        authorization_servers: ["https://issuer.test", "https://backup.test"],
        bearer_methods_supported: ["header"],
        scopes_supported: ["mcp:tools"],
      });
    });

    it("narrows tools/list to the token's tools claim and refuses other calls as unknown", async () => {
      const token = await sign(issuer, { sub: "alice", mcp_tools: ["a_echo", "a_missing"] }, { issuer: ISSUER, audience: AUDIENCE });
      const client = await connect(gateway, { authorization: `Bearer ${token}` });
      expect(await toolNames(client)).to.deep.equal(["a_echo"]);
      expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "ok" } }))).to.equal("ok");
      const refused = await client.client.callTool({ name: "a_whoami", arguments: {} }).catch((err: Error) => err);
      expect(String(refused)).to.match(/Unknown tool: a_whoami/);
      expect(String(refused)).to.match(/-32602/);
    });

    it("applies the claim to prompts by exposed name: prompts/list, prompts/get and prompt completion", async () => {
      const toolsOnly = await connect(gateway, { authorization: `Bearer ${await sign(issuer, { sub: "alice", mcp_tools: ["a_echo"] }, { issuer: ISSUER, audience: AUDIENCE })}` });
      expect(await promptNames(toolsOnly)).to.deep.equal([]);
      await expectPromptRefused(toolsOnly, "a_greeting");
      // Resources are named by URI: a grant that names none shows none.
      expect((await toolsOnly.client.listResources()).resources).to.deep.equal([]);

      const promptOnly = await connect(gateway, { authorization: `Bearer ${await sign(issuer, { sub: "alice", mcp_tools: ["a_greeting"] }, { issuer: ISSUER, audience: AUDIENCE })}` });
      expect(await promptNames(promptOnly)).to.deep.equal(["a_greeting"]);
      expect(await toolNames(promptOnly)).to.deep.equal([]);
      await expectPromptServed(promptOnly, "a_greeting");
    });

    it("intersects the claim with a virtual server", async () => {
      const token = await sign(issuer, { sub: "alice", mcp_tools: ["a_echo", "a_add"] }, { issuer: ISSUER, audience: AUDIENCE });
      const client = await connect(gateway, { authorization: `Bearer ${token}`, "x-mcp-virtualserver": "team-a/echoes" });
      expect(await toolNames(client)).to.deep.equal(["a_echo"]);
    });
  });

  describe("x-authorized-tools header", () => {
    let gateway: GatewayProcess;
    before(async () => {
      gateway = await gatewayWith(["--authorized-tools-jwks-file", toolsJwks, "--authorized-tools-issuer", TOOLS_ISSUER, "--authorized-tools-audience", AUDIENCE]);
    });

    it("narrows tools/list to the allowed tools and refuses other calls", async () => {
      const header = await sign(policy, { "allowed-tools": ["a_echo", "a_whoami"] }, { issuer: TOOLS_ISSUER, audience: AUDIENCE });
      const client = await connect(gateway, { "x-authorized-tools": header });
      expect(await toolNames(client)).to.deep.equal(["a_echo", "a_whoami"]);
      expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "yes" } }))).to.equal("yes");
      const all = (await (await fetch(`${gateway.baseUrl}/status`)).json()) as { servers: Array<{ totalTools: number }> };
      expect(all.servers[0]?.totalTools).to.be.greaterThan(2);
      const refused = await client.client.callTool({ name: "a_sample", arguments: { prompt: "x" } }).catch((err: Error) => err);
      expect(String(refused)).to.match(/Unknown tool: a_sample/);
    });

    it("narrows prompts to the allowed names too", async () => {
      const without = await connect(gateway, { "x-authorized-tools": await sign(policy, { "allowed-tools": ["a_echo"] }, { issuer: TOOLS_ISSUER, audience: AUDIENCE }) });
      expect(await promptNames(without)).to.deep.equal([]);
      await expectPromptRefused(without, "a_greeting");
      const withPrompt = await connect(gateway, { "x-authorized-tools": await sign(policy, { "allowed-tools": ["a_echo", "a_greeting"] }, { issuer: TOOLS_ISSUER, audience: AUDIENCE }) });
      expect(await promptNames(withPrompt)).to.deep.equal(["a_greeting"]);
      await expectPromptServed(withPrompt, "a_greeting");
    });

    it("accepts the tools claim and separates cached pages per allowed set", async () => {
      const one = await connect(gateway, { "x-authorized-tools": await sign(policy, { tools: ["a_echo"] }, { issuer: TOOLS_ISSUER, audience: AUDIENCE }) });
      const two = await connect(gateway, { "x-authorized-tools": await sign(policy, { tools: ["a_whoami"] }, { issuer: TOOLS_ISSUER, audience: AUDIENCE }) });
      expect(await toolNames(one)).to.deep.equal(["a_echo"]);
      expect(await toolNames(two)).to.deep.equal(["a_whoami"]);
    });

    it("answers 401 when the header is missing, unsigned, forged or from another issuer", async () => {
      const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ iss: TOOLS_ISSUER, "allowed-tools": ["a_echo"] })).toString("base64url")}.`;
      const headers: Record<string, Record<string, string>> = {
        missing: {},
        unsigned: { "x-authorized-tools": unsigned },
        forged: { "x-authorized-tools": await sign(stranger, { "allowed-tools": ["a_echo"] }, { issuer: TOOLS_ISSUER, audience: AUDIENCE }) },
        issuer: { "x-authorized-tools": await sign(policy, { "allowed-tools": ["a_echo"] }, { issuer: "https://other.test", audience: AUDIENCE }) },
        "no list": { "x-authorized-tools": await sign(policy, { "allowed-tools": "everything" }, { issuer: TOOLS_ISSUER, audience: AUDIENCE }) },
      };
      for (const [what, extra] of Object.entries(headers)) {
        const res = await postMcp(gateway.mcpUrl, initializeRequest(), extra);
        expect(res.status, what).to.equal(401);
        expect(errorOf(res.messages[0]).message, what).to.match(/Unauthorized/);
      }
    });

    it("serves no protected resource metadata without client authentication", async () => {
      expect((await fetch(`${gateway.baseUrl}/.well-known/oauth-protected-resource`)).status).to.equal(404);
    });
  });

  describe("off by default", () => {
    it("needs no token, ignores x-authorized-tools and serves no metadata", async () => {
      const gateway = await gatewayWith([]);
      const client = await connect(gateway, { "x-authorized-tools": "garbage" });
      expect((await toolNames(client)).length).to.be.greaterThan(2);
      expect(await promptNames(client)).to.deep.equal(["a_greeting"]);
      await expectPromptServed(client, "a_greeting");
      expect((await fetch(`${gateway.baseUrl}/.well-known/oauth-protected-resource`)).status).to.equal(404);
    });
  });
});
