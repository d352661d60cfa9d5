// controller: wires flags to the operator's reconcile loop and serves its probes until SIGTERM.
import { once } from "node:events";
import { createServer } from "node:http";
import { controllerUsage, parseControllerOptions } from "../../internal/config/controller-options.js";
import { splitAddress } from "../../internal/config/address.js";
import { newController } from "../../internal/controller/controller.js";
import { loadKubeConfig } from "../../internal/kube/config.js";
import { createLogger } from "../../internal/log/logger.js";

async function main(): Promise<void> {
  let options;
  try {
    options = parseControllerOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`controller: ${(err as Error).message}\n\n${controllerUsage()}`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(controllerUsage());
    return;
  }
  const log = createLogger(options["log-level"]);
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
  const { manager, metrics } = newController(
    loadKubeConfig(),
    {
      workers: options.workers,
      leaderElection: options["leader-elect"] ? { namespace: options["leader-election-namespace"], name: options["leader-election-id"], identity: options.identity } : undefined,
    },
    log,
  );

  const { host, port } = splitAddress(options["probe-address"]);
  const probes = createServer((req, res) => {
    const send = (status: number, body: string, type = "application/json") => res.writeHead(status, { "content-type": type }).end(body);
    if (req.url === "/healthz") send(200, '{"status":"ok"}');
    else if (req.url === "/readyz") send(manager.ready ? 200 : 503, JSON.stringify({ status: manager.ready ? "ready" : "syncing", leading: manager.leading }));
    else if (req.url === "/metrics") void metrics.registry.metrics().then((text) => send(200, text, metrics.registry.contentType));
    else send(404, '{"error":"not found"}');
  });
  probes.listen(port, host);
  await once(probes, "listening");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const deadline = setTimeout(() => process.exit(0), 10_000);
    deadline.unref();
    await manager.stop();
    probes.close();
    process.exit(0);
  };
  // client-go's choice: a replica that lost the lease exits, and its Deployment starts it again as a follower.
  void manager.stopped.then((reason) => {
    if (reason !== "lost-leadership") return;
    log.error("lost leadership; exiting");
    process.exit(1);
  });
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  await manager.start();
  log.info({ probes: options["probe-address"], leaderElection: options["leader-elect"] }, "controller started");
}

await main();
