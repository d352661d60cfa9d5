// The Secret holding the key that signs session ids: the controller generates it in every namespace with a
// valid MCPGatewayExtension, never changes it unasked (restarts, re-reconciles, a key the user provided),
// rotates it on request without ending a session, generates a new one when it is deleted, and reports a key
// the broker cannot use on the extension instead of replacing it.
import { CoreV1Api, type V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { SessionIdSigner } from "../../internal/session/session-id.js";
import {
  ROTATE_ANNOTATION,
  ROTATED_ANNOTATION,
  SESSION_KEY_BYTES,
  SESSION_KEY_PREVIOUS_KEY,
  SESSION_KEY_SECRET_KEY,
  SESSION_KEY_SECRET_NAME,
} from "../../internal/contract/session-key.js";
import { openRawSession, postMcp } from "../helpers/http.js";
import { apply, type Condition, getObject, readyCondition, waitForReady } from "../helpers/cluster-objects.js";
import { extensionYaml, gatewayYaml } from "../helpers/manifests.js";
import { BROKER_SA, SYSTEM_NAMESPACE } from "../helpers/operator-env.js";
import { grantBroker, startBroker } from "../helpers/operator-processes.js";
import { operatorSuite } from "../helpers/operator-suite.js";
import { within } from "../helpers/poll.js";
import { errorLines } from "../helpers/processes.js";
import { SESSION_KEY_CONDITION } from "../../internal/controller/session-key.js";

const MANAGED_BY = { "app.kubernetes.io/managed-by": "mcp-gateway-controller" };

describe("operator: session key Secret", function () {
  this.timeout(90_000);
  let core: CoreV1Api;
  const suite = operatorSuite({
    beforeController: (op) => {
      core = op.kc.makeApiClient(CoreV1Api);
    },
  });

  async function sessionKeySecret(ns: string): Promise<V1Secret | undefined> {
    try {
      return await core.readNamespacedSecret({ name: SESSION_KEY_SECRET_NAME, namespace: ns });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  const keyOf = (secret: V1Secret | undefined, key = SESSION_KEY_SECRET_KEY) => Buffer.from(secret?.data?.[key] ?? "", "base64");

  async function userSecret(ns: string, data: Record<string, Buffer>): Promise<V1Secret> {
    const body: V1Secret = { metadata: { name: SESSION_KEY_SECRET_NAME, namespace: ns }, type: "Opaque", data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString("base64")])) };
    return core.createNamespacedSecret({ namespace: ns, body });
  }

  /** A namespace with a Gateway and a valid extension for it. */
  async function servedNamespace(prefix: string): Promise<string> {
    const ns = await suite.namespace(prefix);
    await apply(suite.op, gatewayYaml(ns, "gw"), extensionYaml(ns, "ext", { namespace: ns, name: "gw" }));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
    return ns;
  }

  // The controller logs after its API call returns, so the test may see the Secret before the line reaches stdout.
  const logLine = (ns: string, msg: string) =>
    within(`controller log "${msg}" for ${ns}`, 5_000, () => suite.controller.logs().some((line) => line.msg === msg && line.namespace === ns));

  const sessionKeyCondition = async (ns: string): Promise<Condition | undefined> =>
    (await getObject(suite.op, "mcpgatewayextensions", ns, "ext"))?.status?.conditions?.find((condition) => condition.type === SESSION_KEY_CONDITION);

  it("is generated, 32 random bytes, once the namespace holds a valid extension, and the broker may read it", async () => {
    const ns = await suite.namespace("key-new");
    await apply(suite.op, extensionYaml(ns, "ext", { namespace: ns, name: "gw" }));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext", (ready) => ready.status === "False");
    await suite.controller.settled();
    expect(await sessionKeySecret(ns), "no key while the extension is invalid").to.equal(undefined);

    await apply(suite.op, gatewayYaml(ns, "gw"));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
    const { value: secret } = await within("the session key Secret", 10_000, () => sessionKeySecret(ns));
    expect(secret.type).to.equal("Opaque");
    expect(secret.metadata?.labels).to.include(MANAGED_BY);
    expect(Object.keys(secret.data ?? {})).to.deep.equal([SESSION_KEY_SECRET_KEY]);
    expect(keyOf(secret).length).to.equal(SESSION_KEY_BYTES);
    await logLine(ns, "session key generated");

    // manifests/broker-router-rbac.yaml: the broker bound in this namespace may read and watch it, not change it.
    await grantBroker(suite.op, ns);
    const can = (verb: string) => suite.op.kubectl(["auth", "can-i", verb, `secret/${SESSION_KEY_SECRET_NAME}`, "-n", ns, "--as", `system:serviceaccount:${SYSTEM_NAMESPACE}:${BROKER_SA}`]).then(
      (out) => out.trim(),
      // can-i answers "no" with exit code 1.
      (err: Error) => (/failed \(1\)/.test(err.message) ? "no" : err.message),
    );
    expect({ get: await can("get"), watch: await can("watch"), update: await can("update") }).to.deep.equal({ get: "yes", watch: "yes", update: "no" });
  });

  it("stays as it is across re-reconciles and a controller restart", async () => {
    const ns = await servedNamespace("key-keep");
    const { value: first } = await within("the session key Secret", 10_000, () => sessionKeySecret(ns));
    await suite.controller.settled();

    // Any extension change makes the controller reconcile everything again.
    await suite.op.kubectl(["annotate", "mcpgatewayextension", "ext", "-n", ns, "touched=1"]);
    await suite.controller.settled();
    expect((await sessionKeySecret(ns))?.metadata?.resourceVersion, "after a re-reconcile").to.equal(first.metadata?.resourceVersion);

    await suite.restartController();
    await suite.controller.settled();
    const after = await sessionKeySecret(ns);
    expect(after?.metadata?.resourceVersion, "after a restart").to.equal(first.metadata?.resourceVersion);
    expect(keyOf(after).equals(keyOf(first))).to.equal(true);
    expect(await sessionKeyCondition(ns)).to.equal(undefined);
  });

  it("rotates on request: a new key, the old one kept as previous, once per request, and the broker keeps every session", async () => {
    const ns = await servedNamespace("key-rotate");
    const { value: first } = await within("the session key Secret", 10_000, () => sessionKeySecret(ns));
    const broker = await startBroker(suite.op, ns, ["--session-key-secret", `${ns}/${SESSION_KEY_SECRET_NAME}`, "--session-key-activation-seconds", "1"]);
    const signedWith = (secret: V1Secret, id: string) => new SessionIdSigner({ current: keyOf(secret) }).check(id).valid;
    const ping = async (id: string) => (await postMcp(broker.mcpUrl, { jsonrpc: "2.0", id: "p", method: "ping" }, { "mcp-session-id": id })).status;
    const rotate = (value: string) => suite.op.kubectl(["annotate", "secret", SESSION_KEY_SECRET_NAME, "-n", ns, "--overwrite", `${ROTATE_ANNOTATION}=${value}`]);
    const rotated = (value: string) =>
      within(`rotation ${value}`, 10_000, async () => {
        const secret = await sessionKeySecret(ns);
        return secret?.metadata?.annotations?.[ROTATED_ANNOTATION] === value ? secret : undefined;
      });
    /** A new session on the broker, once the broker signs with the Secret's current key. */
    const sessionSignedWith = (secret: V1Secret) =>
      within("a session signed with the new key", 10_000, async () => {
        const { sessionId } = await openRawSession(broker.mcpUrl);
        return signedWith(secret, sessionId) ? sessionId : undefined;
      }, { intervalMs: 200 });
    const beforeRotation = (await openRawSession(broker.mcpUrl)).sessionId;
    expect(signedWith(first, beforeRotation)).to.equal(true);

    await rotate("r1");
    const { value: second } = await rotated("r1");
    expect(keyOf(second).length).to.equal(SESSION_KEY_BYTES);
    expect(keyOf(second).equals(keyOf(first)), "a new key").to.equal(false);
    expect(keyOf(second, SESSION_KEY_PREVIOUS_KEY).equals(keyOf(first)), "the old key kept as previous").to.equal(true);
    await logLine(ns, "session key rotated");
    const { value: afterRotation } = await sessionSignedWith(second);
    expect(await ping(beforeRotation), "a session signed before the rotation lives on").to.equal(200);

    // Level-triggered: a reconcile with the same request rotates nothing.
    await suite.op.kubectl(["annotate", "mcpgatewayextension", "ext", "-n", ns, "touched=1"]);
    await suite.controller.settled();
    expect((await sessionKeySecret(ns))?.metadata?.resourceVersion).to.equal(second.metadata?.resourceVersion);

    // The next rotation retires the first key: its session ends, the second key's lives on.
    await rotate("r2");
    const { value: third } = await rotated("r2");
    expect(keyOf(third, SESSION_KEY_PREVIOUS_KEY).equals(keyOf(second))).to.equal(true);
    await within("the first key's session ended", 10_000, async () => (await ping(beforeRotation)) === 404, { intervalMs: 200 });
    expect(await ping(afterRotation)).to.equal(200);
    await sessionSignedWith(third);
    expect(errorLines(broker)).to.deep.equal([]);
    expect(broker.logs().filter((line) => line.msg === "session key changed").length).to.equal(2);
  });

  it("is generated anew, with a new key, when deleted", async () => {
    const ns = await servedNamespace("key-deleted");
    const { value: first } = await within("the session key Secret", 10_000, () => sessionKeySecret(ns));
    await core.deleteNamespacedSecret({ name: SESSION_KEY_SECRET_NAME, namespace: ns });
    const { value: second } = await within("a new session key Secret", 10_000, async () => {
      const secret = await sessionKeySecret(ns);
      return secret && secret.metadata?.uid !== first.metadata?.uid ? secret : undefined;
    });
    expect(keyOf(second).length).to.equal(SESSION_KEY_BYTES);
    expect(keyOf(second).equals(keyOf(first))).to.equal(false);
  });

  it("leaves a key the user provided untouched", async () => {
    const ns = await suite.namespace("key-user");
    const provided = await userSecret(ns, { [SESSION_KEY_SECRET_KEY]: Buffer.alloc(48, 7) });
    await apply(suite.op, gatewayYaml(ns, "gw"), extensionYaml(ns, "ext", { namespace: ns, name: "gw" }));
    await waitForReady(suite.op, "mcpgatewayextensions", ns, "ext");
    await suite.controller.settled();
    const secret = await sessionKeySecret(ns);
    expect(secret?.metadata?.resourceVersion).to.equal(provided.metadata?.resourceVersion);
    expect(secret?.metadata?.labels ?? {}).not.to.have.property("app.kubernetes.io/managed-by");
    expect(await sessionKeyCondition(ns)).to.equal(undefined);
  });

  it("reports a short or missing key on the extension (condition, Warning Event, log) and never overwrites it", async () => {
    const ns = await suite.namespace("key-short");
    await userSecret(ns, { [SESSION_KEY_SECRET_KEY]: Buffer.alloc(16, 1) });
    await apply(suite.op, gatewayYaml(ns, "gw"), extensionYaml(ns, "ext", { namespace: ns, name: "gw" }));
    const { value: short } = await within("a SessionKeyValid=False condition", 10_000, async () => {
      const condition = await sessionKeyCondition(ns);
      return condition?.reason === "SessionKeyTooShort" ? condition : undefined;
    });
    expect(short.status).to.equal("False");
    expect(short.message).to.equal(
      `Secret ${ns}/${SESSION_KEY_SECRET_NAME}: key "key" holds 16 bytes, fewer than 32; the controller never overwrites it: put a random key of at least 32 bytes there, or delete the Secret to have one generated`,
    );
    // The extension still serves its Gateway: the key is the broker's concern, reported where users look.
    expect(readyCondition(await getObject(suite.op, "mcpgatewayextensions", ns, "ext"))?.status).to.equal("True");
    await within("a Warning event in kubectl describe", 10_000, async () =>
      /Warning\s+SessionKeyTooShort\s+.*holds 16 bytes/.test(await suite.op.kubectl(["describe", "mcpgatewayextension", "ext", "-n", ns])),
    );
    await logLine(ns, "session key unusable; left as it is");
    await suite.controller.settled();
    expect(keyOf(await sessionKeySecret(ns)).length, "not overwritten").to.equal(16);

    // A Secret without the key: reported, not filled in.
    await core.replaceNamespacedSecret({ name: SESSION_KEY_SECRET_NAME, namespace: ns, body: { metadata: { name: SESSION_KEY_SECRET_NAME, namespace: ns }, data: { other: "eA==" } } });
    const { value: missing } = await within("SessionKeyMissing", 10_000, async () => {
      const condition = await sessionKeyCondition(ns);
      return condition?.reason === "SessionKeyMissing" ? condition : undefined;
    });
    expect(missing.message).to.include(`Secret ${ns}/${SESSION_KEY_SECRET_NAME} has no key "key"`);
    await suite.controller.settled();
    expect((await sessionKeySecret(ns))?.data).to.deep.equal({ other: "eA==" });

    // Fixed by the user: the condition goes.
    await core.replaceNamespacedSecret({ name: SESSION_KEY_SECRET_NAME, namespace: ns, body: { metadata: { name: SESSION_KEY_SECRET_NAME, namespace: ns }, data: { key: Buffer.alloc(32, 2).toString("base64") } } });
    await within("the condition removed", 10_000, async () => (await sessionKeyCondition(ns)) === undefined);
    expect(errorLines(suite.controller)).to.deep.equal([]);
  });
});
