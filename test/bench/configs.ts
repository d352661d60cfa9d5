// The gateway configurations the load phase can run side by side (`run.js --configs`): the defaults, and
// the pieces of a production deployment alone and together, so each one's cost shows beside the plain run.
//   plain       the defaults: a random per-process session key, sessions in memory, no client auth
//   shared-key  --session-key-file: the key every replica shares
//   redis       --redis-url (a real redis-server started here) with the shared key it requires
//   jwt         client authentication: ES256 bearer tokens checked against a JWKS file
//   production  redis and jwt together
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis, type RedisProcess } from "../helpers/redis.js";
import { newTokenIssuer, type TokenIssuer } from "../helpers/token-issuer.js";
import type { GatewaySpec } from "./stack.js";

export const CONFIGS = ["plain", "shared-key", "redis", "jwt", "production"] as const;
export type ConfigName = (typeof CONFIGS)[number];

export function parseConfigs(list: string): ConfigName[] {
  const names = list.split(",").map((c) => c.trim());
  for (const name of names) if (!(CONFIGS as readonly string[]).includes(name)) throw new Error(`--configs: unknown configuration ${name}; expected ${CONFIGS.join(", ")}`);
  if (new Set(names).size !== names.length) throw new Error(`--configs: ${list} names a configuration twice`);
  return names as ConfigName[];
}

export interface PreparedConfigs {
  specs: GatewaySpec[];
  /** Stops the redis-server (if one was started) and removes the key files. */
  stop(): Promise<void>;
}

/** What the named configurations need (a key file, a redis-server, a token issuer), made once and shared by them. */
export async function prepareConfigs(names: ConfigName[]): Promise<PreparedConfigs> {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bench-config-"));
  let redis: RedisProcess | undefined;
  try {
    const keyFile = join(dir, "session-key");
    writeFileSync(keyFile, randomBytes(32));
    const sharedKey = ["--session-key-file", keyFile];
    const needsRedis = names.some((n) => n === "redis" || n === "production");
    redis = needsRedis ? await startRedis() : undefined;
    const redisFlags = redis ? ["--redis-url", redis.url, ...sharedKey] : [];
    const needsIssuer = names.some((n) => n === "jwt" || n === "production");
    const issuer: TokenIssuer | undefined = needsIssuer ? await newTokenIssuer() : undefined;
    const bearer = issuer ? () => issuer.token({ sub: "bench-client" }) : undefined;
    const specFor = (name: ConfigName): GatewaySpec => {
      switch (name) {
        case "plain":
          return { name, args: [] };
        case "shared-key":
          return { name, args: sharedKey };
        case "redis":
          return { name, args: redisFlags };
        case "jwt":
          return { name, args: issuer?.flags ?? [], bearer };
        case "production":
          return { name, args: [...redisFlags, ...(issuer?.flags ?? [])], bearer };
      }
    };
    const started = redis;
    return {
      specs: names.map(specFor),
      stop: async () => {
        await started?.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
