// broker-router: wires flags to the broker components and serves them until SIGTERM.
import { once } from "node:events";
import { authSettings } from "../../internal/auth/config.js";
import { authGuard } from "../../internal/auth/guard.js";
import { Broker } from "../../internal/broker/broker.js";
import { ListPages } from "../../internal/catalog/pages.js";
import { splitAddress } from "../../internal/config/address.js";
import { brokerUsage, defaultAllowedHosts, parseBrokerOptions } from "../../internal/config/broker-options.js";
import { ServerDirectory } from "../../internal/discovery/directory.js";
import { createLogger } from "../../internal/log/logger.js";
import { GatewayMetrics } from "../../internal/metrics/metrics.js";
import { publishedStatus } from "../../internal/brokerstatus/snapshot.js";
import { StatusPublisher } from "../../internal/brokerstatus/publisher.js";
import { loadKubeConfig } from "../../internal/kube/config.js";
import { FileRegistrySource } from "../../internal/registry/file-source.js";
import { SecretRegistrySource } from "../../internal/registry/secret-source.js";
import type { RegistrySource } from "../../internal/registry/source.js";
import { createHttpServer } from "../../internal/server/app.js";
import { SessionStore } from "../../internal/session/store.js";
import { HostGuard } from "../../internal/transport/http-checks.js";
import { streamableHttpHandler } from "../../internal/transport/streamable-http.js";
import { UpstreamHttp } from "../../internal/upstream/http.js";

async function main(): Promise<void> {
  let options;
  try {
    options = parseBrokerOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`broker-router: ${(err as Error).message}\n\n${brokerUsage()}`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(brokerUsage());
    return;
  }
  const log = createLogger(options["log-level"]);
  let auth;
  try {
    auth = authSettings(options);
  } catch (err) {
    process.stderr.write(`broker-router: ${(err as Error).message}\n`);
    process.exit(2);
  }
  // A gateway outlives one bad promise; an exception that escaped every handler leaves state unknown.
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
  process.on("uncaughtException", (err) => {
    log.fatal({ err }, "uncaught exception; exiting");
    process.exit(1);
  });
  const { host, port } = splitAddress(options["mcp-broker-public-address"]);
  const http = new UpstreamHttp({ headersTimeoutMs: options["upstream-timeout-seconds"] * 1000, bodyTimeoutMs: options["upstream-timeout-seconds"] * 1000, maxResponseBytes: options["max-response-bytes"] });
  const directory = new ServerDirectory(
    http,
    {
      refreshIntervalMs: options["refresh-interval-seconds"] * 1000,
      requestTimeoutMs: options["discovery-timeout-seconds"] * 1000,
      backoff: { initialMs: 250, maxMs: options["retry-max-seconds"] * 1000 },
      maxPages: 1000,
    },
    log,
  );
  const sessions = new SessionStore(options["session-idle-timeout-seconds"] * 1000);
  const metrics = new GatewayMetrics({ sessionCount: () => sessions.size, servers: () => directory.catalog.status() });
  const broker = new Broker(directory, new ListPages(directory.catalog, options["list-page-size"]), sessions, http, metrics, log, {
    requestTimeoutMs: options["upstream-timeout-seconds"] * 1000,
  });
  const allowedHosts = options["allowed-hosts"].length > 0 ? options["allowed-hosts"] : defaultAllowedHosts(host);
  const transport = streamableHttpHandler(broker, {
    maxBodyBytes: options["max-body-bytes"],
    hostGuard: new HostGuard({ allowedHosts, allowedOrigins: options["allowed-origins"] }),
    keepAliveMs: options["keep-alive-seconds"] * 1000,
  });
  const mcpHandler = authGuard(auth.guard, transport, log);
  let accepting = true;
  const server = createHttpServer({ mcpHandler, directory, metrics, accepting: () => accepting, protectedResource: auth.protectedResource });

  const secret = options["mcp-gateway-config-secret"];
  let source: RegistrySource;
  if (secret) {
    const [namespace = "", name = ""] = secret.split("/");
    const kc = loadKubeConfig();
    source = new SecretRegistrySource(kc, namespace, name, log);
    const publisher = new StatusPublisher(kc, namespace, () => publishedStatus(directory.catalog), log);
    directory.on("rebuilt", () => publisher.changed());
  } else {
    source = new FileRegistrySource(options["mcp-gateway-config"], log);
  }
  await source.start((registry) => directory.apply(registry));

  server.listen(port, host);
  server.keepAliveTimeout = 65_000;
  await once(server, "listening");
  log.info(
    { address: `${host}:${port}`, allowedHosts, clientAuth: Boolean(auth.guard.bearer), authorizedToolsHeader: Boolean(auth.guard.authorizedTools) },
    "broker-router listening; MCP at /mcp",
  );

  const shutdown = async (signal: string) => {
    if (!accepting) return;
    accepting = false;
    log.info({ signal }, "shutting down");
    source.stop();
    server.close();
    // Ending upstream sessions is a courtesy to the upstreams; it must not hold the exit hostage.
    const deadline = setTimeout(() => process.exit(0), 5_000);
    deadline.unref();
    await Promise.all([broker.closeAll(), directory.stop()]);
    server.closeAllConnections();
    await http.destroy();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

await main();
