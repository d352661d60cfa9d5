// A real redis-server (from apt) for the shared-session tests, on a free loopback port, with no
// persistence: a restart comes back empty, the hardest case for the brokers.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { eventually, freePort } from "./gateway-process.js";

export interface RedisProcess {
  url: string;
  /** A client for the test's own look at the keys. */
  client: Redis;
  /** SIGKILL: the brokers lose their connection. */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "redis-"));
  let child: ChildProcess;
  const launch = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
    await eventually(async () => {
      const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === "PONG";
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, 10_000, "redis-server up");
  };
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  };
  await launch();
  const client = new Redis({ port, host: "127.0.0.1" });
  client.on("error", () => undefined);
  return {
    url: `redis://127.0.0.1:${port}`,
    client,
    kill,
    start: launch,
    stop: async () => {
      client.disconnect();
      await kill();
    },
  };
}
