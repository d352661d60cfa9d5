// The manager over an in-memory cache: changes go through the watch table to the reconciler of each
// request's kind, a result's requeueAfterMs brings a request back, a 409 re-queues at once, and stop()
// is reported through `stopped` (the manager never ends the process itself).
import { expect } from "chai";
import type { Sources, SourceKind } from "../../internal/controller/cluster-cache.js";
import { Manager, type Cache, type Reconcilers } from "../../internal/controller/manager.js";
import { ControllerMetrics } from "../../internal/controller/metrics.js";
import type { Reconciler } from "../../internal/controller/reconcilers/reconciler.js";
import { requestId, type Request, type Result } from "../../internal/controller/requests.js";
import { WATCHES } from "../../internal/controller/watches.js";
import { emptyWorld, routeOf, viewOf, type World } from "../helpers/cluster-world.js";
import { capturingLogger } from "../helpers/logs.js";
import { expectEventually } from "../helpers/poll.js";

/** A Cache over a world, whose `changed` plays an informer reporting a change. */
function memoryCache(world: World) {
  const handlers = new Map<SourceKind, Array<(object: never) => void>>();
  const state = { stopped: false };
  const cache: Cache & { changed<K extends SourceKind>(kind: K, object: Sources[K]): void; state: typeof state } = {
    ...viewOf(world),
    state,
    start: async () => undefined,
    stop: () => {
      state.stopped = true;
    },
    onChange: (kind, handler) => {
      handlers.set(kind, [...(handlers.get(kind) ?? []), handler as (object: never) => void]);
    },
    changed: (kind, object) => {
      for (const handler of handlers.get(kind) ?? []) handler(object as never);
    },
  };
  return cache;
}

/** Reconcilers that record what they were asked, answering with results a test sets per request. */
function recording(results: Map<string, () => Result> = new Map()) {
  const seen: string[] = [];
  const reconciler: Reconciler = {
    reconcile: async (request: Request) => {
      seen.push(requestId(request));
      return results.get(requestId(request))?.() ?? {};
    },
  };
  const reconcilers: Reconcilers = { Registries: reconciler, MCPGatewayExtension: reconciler, MCPServerRegistration: reconciler, MCPVirtualServer: reconciler };
  return { seen, reconcilers };
}

const registration = { metadata: { name: "team", namespace: "ns", creationTimestamp: "2026-01-01T00:00:00Z" }, spec: { path: "/mcp", routeSelector: { matchLabels: { a: "b" } } } };

describe("controller manager (in memory)", () => {
  it("reconciles everything when it starts leading, then what the watch table maps each change to", async () => {
    const world = emptyWorld();
    world.registrations.push(registration);
    const cache = memoryCache(world);
    const { seen, reconcilers } = recording();
    const manager = new Manager(cache, WATCHES, reconcilers, new ControllerMetrics(), { workers: 1 }, capturingLogger().log);
    await manager.start();
    const registrationId = requestId({ kind: "MCPServerRegistration", namespace: "ns", name: "team" });
    await expectEventually(() => expect(seen).to.have.members([registrationId, "Registries"]));
    seen.length = 0;
    cache.changed("HTTPRoute", routeOf("ns", "weather", "weather.local", "svc", 80, { a: "b" }));
    await expectEventually(() => expect(seen).to.have.members([registrationId, "Registries"]));
    expect(manager.leading).to.equal(true);
    await manager.stop();
    expect(await manager.stopped).to.equal("shutdown");
    expect(cache.state.stopped).to.equal(true);
  });

  it("brings a request back after the delay its result asks for, and at once after a 409", async () => {
    const world = emptyWorld();
    const cache = memoryCache(world);
    let runs = 0;
    let conflicts = 1;
    const results = new Map<string, () => Result>([
      [
        "Registries",
        () => {
          runs += 1;
          if (conflicts-- > 0) throw Object.assign(new Error("conflict"), { code: 409 });
          return runs < 4 ? { requeueAfterMs: 20 } : {};
        },
      ],
    ]);
    const { seen, reconcilers } = recording(results);
    const metrics = new ControllerMetrics();
    const manager = new Manager(cache, WATCHES, reconcilers, metrics, { workers: 2 }, capturingLogger().log);
    const started = performance.now();
    await manager.start();
    await expectEventually(() => expect(runs).to.equal(4));
    expect(performance.now() - started, "two requeues of 20 ms").to.be.greaterThanOrEqual(40);
    expect(seen.filter((id) => id === "Registries")).to.have.length(4);
    const text = await metrics.registry.metrics();
    expect(text).to.match(/mcp_controller_reconciles_total\{kind="Registries",result="conflict"\} 1/);
    expect(text).to.match(/mcp_controller_reconciles_total\{kind="Registries",result="success"\} 3/);
    await manager.stop();
  });
});
