// broker-router: wires flags to the broker components and serves them until SIGTERM.
import { once } from "node:events";
import type { KubeConfig } from "@kubernetes/client-node";
import { authSettings } from "../../internal/auth/config.js";
import { authGuard } from "../../internal/auth/guard.js";
import { MethodTable } from "../../internal/broker/method-table.js";
import { SessionEraBroker } from "../../internal/broker/session-era.js";
import { REQUEST_STATE_TTL_MS, RequestStates } from "../../internal/broker/request-state.js";
import { TaskIds } from "../../internal/broker/task-ids.js";
import { PerRequestBroker } from "../../internal/broker/per-request.js";
import { ListPages } from "../../internal/catalog/pages.js";
import { splitAddress } from "../../internal/config/address.js";
import { brokerUsage, defaultAllowedHosts, parseBrokerOptions, type BrokerOptions } from "../../internal/config/broker-options.js";
import { ServerDirectory } from "../../internal/discovery/directory.js";
import { RequestLimits } from "../../internal/limits/request-limits.js";
import { createLogger } from "../../internal/log/logger.js";
import { GatewayMetrics } from "../../internal/metrics/metrics.js";
import { publishedStatus } from "../../internal/brokerstatus/snapshot.js";
import { StatusPublisher } from "../../internal/brokerstatus/publisher.js";
import { loadKubeConfig } from "../../internal/kube/config.js";
import { FileRegistrySource } from "../../internal/registry/file-source.js";
import { SecretRegistrySource } from "../../internal/registry/secret-source.js";
import type { RegistrySource } from "../../internal/registry/source.js";
import { createHttpServer } from "../../internal/server/app.js";
import { SessionIdSigner } from "../../internal/session/session-id.js";
import { RedisSessionState } from "../../internal/session/shared-state.js";
import { loadSigningKey, SigningKeyWatch, type SigningKeySource } from "../../internal/session/signing-key.js";
import { SessionStore } from "../../internal/session/store.js";
import { HostGuard } from "../../internal/transport/http-checks.js";
import { streamableHttpHandler } from "../../internal/transport/streamable-http.js";
import { Upstreams } from "../../internal/upstream/upstreams.js";

function signingKeySource(options: BrokerOptions, kube: () => KubeConfig): SigningKeySource {
  if (options["session-key-file"]) return { kind: "file", path: options["session-key-file"] };
  const secret = options["session-key-secret"];
  if (!secret) return { kind: "ephemeral" };
  const [namespace = "", name = ""] = secret.split("/");
  return { kind: "secret", kc: kube(), namespace, name };
}

/** A rate of 0 means no limit. */
function rateLimit(perSecond: number, burst: number) {
  return perSecond > 0 ? { perSecond, burst } : undefined;
}

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
  const http = new Upstreams(
    {
      connectTimeoutMs: options["upstream-connect-timeout-seconds"] * 1000,
      firstByteTimeoutMs: options["upstream-first-byte-timeout-seconds"] * 1000,
      bodyTimeoutMs: options["upstream-timeout-seconds"] * 1000,
      maxResponseBytes: options["max-response-bytes"],
    },
    { maxProcesses: options["max-stdio-processes"], backoff: { initialMs: 250, maxMs: options["retry-max-seconds"] * 1000 } },
    log,
  );
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
  let kubeConfig: KubeConfig | undefined;
  const kube = () => (kubeConfig ??= loadKubeConfig());
  const keySource = signingKeySource(options, kube);
  const signingKey = await loadSigningKey(keySource, log);
  const signer = new SessionIdSigner(signingKey.keys);
  const keyWatch = keySource.kind === "secret" ? new SigningKeyWatch(keySource.kc, keySource.namespace, keySource.name, log) : undefined;
  await keyWatch?.start(signingKey.keys, (keys) => signer.update(keys, options["session-key-activation-seconds"] * 1000));
  const shared = options["redis-url"] ? new RedisSessionState({ url: options["redis-url"], commandTimeoutMs: options["redis-timeout-seconds"] * 1000 }) : undefined;
  const sessions = new SessionStore({
    idleTimeoutMs: options["session-idle-timeout-seconds"] * 1000,
    maxLifetimeMs: options["session-max-lifetime-seconds"] * 1000,
    signer,
    maxSessionsPerClient: options["max-sessions-per-client"],
    shared,
    log,
  });
  const metrics = new GatewayMetrics({ sessionCount: () => sessions.size, servers: () => directory.catalog.status() });
  const pages = new ListPages(directory.catalog, options["list-page-size"]);
  const upstreamOptions = {
    requestTimeoutMs: options["upstream-timeout-seconds"] * 1000,
    upstreamIdleTimeoutMs: options["upstream-idle-timeout-seconds"] * 1000,
  };
  // One method table, two front ends: the session era and the per-request era (2026-07-28).
  // Signed with the session keys every replica shares: a retry may land on any of them.
  const requestStates = new RequestStates(signer, REQUEST_STATE_TTL_MS);
  const taskIds = new TaskIds(signer);
  const table = new MethodTable(directory, pages, http, metrics, log, {
    requestTimeoutMs: upstreamOptions.requestTimeoutMs,
    maxSubscriptionsPerSession: options["max-subscriptions-per-session"],
    requestStates,
    taskIds,
  });
  const broker = new SessionEraBroker(table, directory, sessions, http, metrics, log, { ...upstreamOptions, maxInitializeParamsBytes: options["max-initialize-params-bytes"] });
  await broker.start();
  // 2026-07-28 clients: their internal sessions end when idle as session-era clients' do.
  const perRequest = new PerRequestBroker(table, directory, http, metrics, log, {
    upstreams: upstreamOptions,
    idleTimeoutMs: options["session-idle-timeout-seconds"] * 1000,
    maxLifetimeMs: options["session-max-lifetime-seconds"] * 1000,
    maxSessionsPerCaller: options["max-sessions-per-client"],
    requestStates,
    taskIds,
    heldCallTimeoutMs: options["input-required-timeout-seconds"] * 1000,
    shared,
  });
  await perRequest.start();
  const allowedHosts = options["allowed-hosts"].length > 0 ? options["allowed-hosts"] : defaultAllowedHosts(host);
  const transport = streamableHttpHandler(broker, {
    maxBodyBytes: options["max-body-bytes"],
    maxBatchSize: options["max-batch-size"],
    hostGuard: new HostGuard({ allowedHosts, allowedOrigins: options["allowed-origins"] }),
    keepAliveMs: options["keep-alive-seconds"] * 1000,
    limits: new RequestLimits({
      client: rateLimit(options["client-rate-limit"], options["client-rate-burst"]),
      initialize: rateLimit(options["client-initialize-rate-limit"], options["client-initialize-rate-burst"]),
      session: rateLimit(options["session-rate-limit"], options["session-rate-burst"]),
      maxStreamsPerSession: options["max-streams-per-session"],
    }),
    refusals: metrics,
    perRequest,
  });
  const mcpHandler = authGuard(auth.guard, transport, log);
  let accepting = true;
  const server = createHttpServer({ mcpHandler, directory, metrics, accepting: () => accepting, protectedResource: auth.protectedResource });

  const secret = options["mcp-gateway-config-secret"];
  let source: RegistrySource;
  if (secret) {
    const [namespace = "", name = ""] = secret.split("/");
    const kc = kube();
    source = new SecretRegistrySource(kc, namespace, name, log);
    const publisher = new StatusPublisher(kc, namespace, () => publishedStatus(directory.catalog), log);
    directory.on("rebuilt", () => publisher.changed());
  } else {
    source = new FileRegistrySource(options["mcp-gateway-config"], log);
  }
  await source.start((registry) => {
    directory.apply(registry);
    auth.protectedResource?.applyRegistry(registry.oauthProtectedResource);
  });

  server.listen(port, host);
  server.keepAliveTimeout = 65_000;
  await once(server, "listening");
  log.info(
    { address: `${host}:${port}`, allowedHosts, sessionKey: signingKey.origin, sharedSessions: sessions.shared, clientAuth: Boolean(auth.guard.bearer), authorizedToolsHeader: Boolean(auth.guard.authorizedTools) },
    "broker-router listening; MCP at /mcp",
  );

  const shutdown = async (signal: string) => {
    if (!accepting) return;
    accepting = false;
    log.info({ signal }, "shutting down");
    source.stop();
    keyWatch?.stop();
    server.close();
    // Ending upstream sessions is a courtesy to the upstreams; it must not hold the exit hostage.
    const deadline = setTimeout(() => process.exit(0), 5_000);
    deadline.unref();
    // The per-request era first: replicas waiting on its held calls hear of the shutdown before Redis goes.
    await Promise.all([perRequest.closeAll(), broker.closeAll(), directory.stop()]);
    server.closeAllConnections();
    await http.destroy();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

await main();
