// A client-token issuer for tests: an ES256 key whose JWKS is written to a file the gateway reads
// (--auth-jwks-file), and tokens signed with it for the gateway's issuer and audience.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWTPayload } from "jose";

export interface TokenIssuer {
  /** The gateway flags that make it require this issuer's tokens. */
  flags: string[];
  /** The public keys, for verifying in process (jose's createLocalJWKSet). */
  jwks: JSONWebKeySet;
  /** A token valid for five minutes (or `expiresIn`: seconds from now, a jose time span, or null for no exp), with these claims. */
  token(claims: JWTPayload, expiresIn?: number | string | null): Promise<string>;
}

export async function newTokenIssuer(issuer = "https://issuer.test", audience = "mcp-gateway"): Promise<TokenIssuer> {
  const kid = "test-key";
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
  const jwksPath = join(mkdtempSync(join(tmpdir(), "mcp-issuer-")), "jwks.json");
  writeFileSync(jwksPath, JSON.stringify(jwks));
  return {
    flags: ["--auth-jwks-file", jwksPath, "--auth-issuer", issuer, "--auth-audience", audience],
    jwks,
    token: (claims, expiresIn = "5m") => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).setIssuedAt().setIssuer(issuer).setAudience(audience);
      if (expiresIn !== null) jwt.setExpirationTime(typeof expiresIn === "number" ? Math.floor(Date.now() / 1000) + expiresIn : expiresIn);
      return jwt.sign(privateKey);
    },
  };
}
