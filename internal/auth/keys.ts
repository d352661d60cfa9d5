// Where verification keys come from: a JWKS URL (fetched and cached by jose, refreshed on an
// unknown kid) or a local JWKS file, for tests and air-gapped installs with no issuer in reach.
import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

export function keySource(url: string, file: string, what: string): JWTVerifyGetKey | undefined {
  if (url && file) throw new Error(`${what}: set a JWKS URL or a JWKS file, not both`);
  if (file) {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readFileSync(file, "utf8")) as JSONWebKeySet;
    } catch (err) {
      throw new Error(`${what}: cannot read JWKS file ${file}: ${(err as Error).message}`, { cause: err });
    }
    return createLocalJWKSet(jwks);
  }
  if (url) return createRemoteJWKSet(new URL(url));
  return undefined;
}
