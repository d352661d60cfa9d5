// The scaffolding of operator test files: one namespace with a Gateway, its extension and broker
// (a stack); the hooks of a describe() sharing one controller; undo steps of one test.
import { startUpstreamServer, type UpstreamServer, type UpstreamServerOptions } from "../fixtures/upstream-server.js";
import { apply, cleanupNamespaces, createNamespace, markRouteAccepted, TestNamespaces, uniqueName, waitForReady } from "./cluster-objects.js";
import { extensionYaml, externalNameServiceYaml, gatewayYaml, registrationYaml, routeYaml, type RegistrationOptions } from "./manifests.js";
import { operatorEnv, type OperatorEnv } from "./operator-env.js";
import { startBroker, startController, type BrokerProcess, type ControllerProcess } from "./operator-processes.js";
import { stopAllProcesses } from "./processes.js";

/**
 * One namespace with a Gateway, its MCPGatewayExtension and the broker serving it, to which a test adds MCP
 * servers (ExternalName Service -> localhost:PORT, an accepted HTTPRoute, a registration).
 */
export interface Stack {
  op: OperatorEnv;
  namespace: string;
  gateway: { namespace: string; name: string };
  extension: string;
  broker: BrokerProcess;
  /** Service + HTTPRoute (accepted) for a fixture on localhost:port; returns the route's name. */
  addRoute(name: string, port: number): Promise<string>;
  /** addRoute, then a registration of it; does not wait. */
  register(name: string, port: number, options?: RegistrationOptions): Promise<void>;
  /** Deletes the MCP objects of the namespaces it used (the controller must still run to drop finalizers). */
  cleanup(): Promise<void>;
  /** More namespaces to clean up. */
  track(namespace: string): void;
}

export async function startStack(op: OperatorEnv, prefix: string): Promise<Stack> {
  const namespace = uniqueName(prefix);
  await createNamespace(op, namespace);
  const gateway = { namespace, name: "gw" };
  const extension = "ext";
  await apply(op, gatewayYaml(namespace, gateway.name), extensionYaml(namespace, extension, gateway));
  const broker = await startBroker(op, namespace);
  await waitForReady(op, "mcpgatewayextensions", namespace, extension);
  const namespaces = new Set([namespace]);
  const addRoute = async (name: string, port: number) => {
    const route = `${name}-route`;
    await apply(op, externalNameServiceYaml(namespace, `${name}-svc`, port), routeYaml(namespace, route, gateway, `${name}.mcp.local`, `${name}-svc`, port));
    await markRouteAccepted(op, namespace, route, gateway);
    return route;
  };
  return {
    op,
    namespace,
    gateway,
    extension,
    broker,
    addRoute,
    register: async (name, port, options) => {
      const route = await addRoute(name, port);
      await apply(op, registrationYaml(namespace, name, route, options));
    },
    cleanup: () => cleanupNamespaces(op, [...namespaces]),
    track: (other) => namespaces.add(other),
  };
}

/** What a describe() using operatorSuite() does besides the shared scaffolding; each step runs inside its hook. */
export interface OperatorSuiteOptions {
  /** In before, once the operator env is there and before the controller starts (what it must find at its start). */
  beforeController?: (op: OperatorEnv) => Promise<void> | void;
  /** In before, once the controller is ready (brokers, stacks, upstream servers the tests share). */
  afterController?: (op: OperatorEnv) => Promise<void> | void;
  /** First in after, before the namespaces are cleaned up and the processes stopped (a controller still drops finalizers). */
  beforeStop?: (op: OperatorEnv) => Promise<void> | void;
  /** Last in after, once every controller and broker has stopped (the servers they were using). */
  afterStop?: () => Promise<void> | void;
}

/** The state a describe()'s tests share; op and controller are set by its before hook. */
export interface OperatorSuite {
  readonly op: OperatorEnv;
  /** The controller of the suite; a new one after restartController(). */
  readonly controller: ControllerProcess;
  /** A new namespace, cleaned up in after. */
  namespace(prefix: string): Promise<string>;
  /** Stops the controller and starts another, which then is `controller`. */
  restartController(): Promise<ControllerProcess>;
}

/**
 * The hooks of a describe() whose tests share one controller; call it inside the describe. before: operatorEnv(),
 * beforeController, startController, afterController. after: beforeStop, the clean-up of namespace()'s namespaces,
 * stopAllProcesses(), afterStop. Call it after this.timeout(): mocha gives a hook the timeout its describe has when the
 * hook is registered.
 */
export function operatorSuite(options: OperatorSuiteOptions = {}): OperatorSuite {
  const namespaces = new TestNamespaces();
  let op!: OperatorEnv;
  let controller!: ControllerProcess;

  before(async () => {
    op = await operatorEnv();
    await options.beforeController?.(op);
    controller = await startController(op);
    await options.afterController?.(op);
  });

  after(async () => {
    await options.beforeStop?.(op);
    await namespaces.cleanup(op);
    await stopAllProcesses();
    await options.afterStop?.();
  });

  return {
    get op() {
      return op;
    },
    get controller() {
      return controller;
    },
    namespace: (prefix) => namespaces.create(op, prefix),
    restartController: async () => {
      await controller.stop();
      controller = await startController(op);
      return controller;
    },
  };
}

/** A Cleanups run after each test of the calling describe block. */
export function cleanupsAfterEach(): Cleanups {
  const cleanups = new Cleanups();
  afterEach(() => cleanups.run());
  return cleanups;
}

/** Undo steps of one test, run newest first after it (a stack's own clean-up before its broker stops). */
export class Cleanups {
  private steps: Array<() => Promise<unknown>> = [];

  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step().catch((err: unknown) => console.warn(`cleanup: ${String(err)}`));
    this.steps = [];
  }

  /** An upstream MCP server fixture, stopped after the test. */
  async upstream(name: string, options: Omit<UpstreamServerOptions, "name"> = {}): Promise<UpstreamServer> {
    const server = await startUpstreamServer({ name, ...options });
    this.add(() => server.stop());
    return server;
  }

  /** A stack whose broker is stopped and whose objects are removed (while a controller can still drop finalizers) after the test. */
  async stack(op: OperatorEnv, prefix: string): Promise<Stack> {
    const created = await startStack(op, prefix);
    this.add(() => created.broker.stop());
    this.add(() => created.cleanup());
    return created;
  }
}
