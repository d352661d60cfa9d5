// RFC 9728 metadata from the registry (the MCPGatewayExtension's spec.oauthProtectedResource): each field the
// registry sets replaces the flag's value, the registry is watched so a change applies without a restart, and a
// registry with a bad value is refused as a whole while the last good one stays in force.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { exportJWK, generateKeyPair } from "jose";
import { stringify } from "yaml";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { initializeRequest, postMcp } from "../helpers/http.js";
import { registryYaml } from "../helpers/registry.js";

const FLAG_SERVERS = "https://flags-issuer.test";

function registryWith(section: Record<string, unknown> | undefined): string {
  return registryYaml([]) + (section ? stringify({ oauthProtectedResource: section }) : "");
}

describe("auth: protected resource metadata from the registry", function () {
  this.timeout(60_000);
  const gateways: GatewayProcess[] = [];
  let clientAuthFlags: string[];

  before(async () => {
    const { publicKey } = await generateKeyPair("ES256");
    const jwks = join(mkdtempSync(join(tmpdir(), "mcp-prm-")), "jwks.json");
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] }));
    clientAuthFlags = ["--auth-jwks-file", jwks, "--auth-issuer", FLAG_SERVERS, "--auth-audience", "mcp", "--auth-authorization-servers", FLAG_SERVERS, "--auth-scopes", "flags:scope"];
  });

  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
  });

  async function gatewayWith(section: Record<string, unknown> | undefined, flags: string[]): Promise<GatewayProcess> {
    const gateway = await startGateway(registryWith(section), flags);
    gateways.push(gateway);
    return gateway;
  }

  const metadata = async (gateway: GatewayProcess, path = "/.well-known/oauth-protected-resource") => {
    const res = await fetch(`${gateway.baseUrl}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const challenge = async (gateway: GatewayProcess) => (await postMcp(gateway.mcpUrl, initializeRequest())).headers.get("www-authenticate");

  it("replaces the flags' values field by field, in the document and in the 401 challenge", async () => {
    const gateway = await gatewayWith({ resource: "https://mcp.example.com/mcp", scopesSupported: ["mcp:tools", "mcp:prompts"], resourceDocumentation: "https://docs.example.com/mcp" }, clientAuthFlags);
    const expected = {
      resource: "https://mcp.example.com/mcp",
      authorization_servers: [FLAG_SERVERS],
      bearer_methods_supported: ["header"],
      scopes_supported: ["mcp:tools", "mcp:prompts"],
      resource_documentation: "https://docs.example.com/mcp",
    };
    expect(await metadata(gateway)).to.deep.equal({ status: 200, body: expected });
    expect(await metadata(gateway, "/.well-known/oauth-protected-resource/mcp")).to.deep.equal({ status: 200, body: expected });
    expect(await challenge(gateway)).to.equal('Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"');
  });

  it("follows registry changes without a restart, back to the flags when the section goes, and keeps the last good values over a bad registry", async () => {
    const gateway = await gatewayWith(undefined, clientAuthFlags);
    const fromFlags = { resource: `${gateway.baseUrl}/mcp`, authorization_servers: [FLAG_SERVERS], bearer_methods_supported: ["header"], scopes_supported: ["flags:scope"] };
    expect((await metadata(gateway)).body).to.deep.equal(fromFlags);

    gateway.writeConfig(registryWith({ authorizationServers: ["https://login.example.com", "https://backup.example.com/realms/mcp"] }));
    await eventually(async () => (await metadata(gateway)).body.authorization_servers?.toString() === "https://login.example.com,https://backup.example.com/realms/mcp", 10_000, "new authorization servers");
    expect((await metadata(gateway)).body).to.deep.equal({ ...fromFlags, authorization_servers: ["https://login.example.com", "https://backup.example.com/realms/mcp"] });

    const good = (await metadata(gateway)).body;
    for (const [what, section] of Object.entries({
      "not a URL": { authorizationServers: ["login.example.com"] },
      "not http(s)": { resource: "ftp://mcp.example.com/mcp" },
      "a fragment": { resource: "https://mcp.example.com/mcp#top" },
      "a bad port": { resourceDocumentation: "https://docs.example.com:99999/" },
      "an empty list": { scopesSupported: [] },
      "a scope with a space": { scopesSupported: ["mcp tools"] },
    })) {
      const rejections = gateway.output().split("registry rejected").length;
      gateway.writeConfig(registryWith(section));
      await eventually(() => gateway.output().split("registry rejected").length > rejections, 10_000, `rejection of ${what}`);
      expect(gateway.output().split("\n").findLast((line) => line.includes("registry rejected")), what).to.include("oauthProtectedResource");
      expect((await metadata(gateway)).body, what).to.deep.equal(good);
    }

    gateway.writeConfig(registryWith(undefined));
    await eventually(async () => (await metadata(gateway)).body.authorization_servers?.toString() === FLAG_SERVERS, 10_000, "the flags' values again");
    expect((await metadata(gateway)).body).to.deep.equal(fromFlags);
  });

  it("is not served without client authentication, whatever the registry says", async () => {
    const gateway = await gatewayWith({ resource: "https://mcp.example.com/mcp" }, []);
    expect((await fetch(`${gateway.baseUrl}/.well-known/oauth-protected-resource`)).status).to.equal(404);
  });
});
