// MCPGatewayExtension: Ready says whether it may serve its Gateway; SessionKeyValid reports a
// session key Secret the brokers cannot use (with a Warning Event once per problem).
import type { Condition } from "../../api/condition.js";
import { SESSION_KEY_SECRET_NAME } from "../../contract/session-key.js";
import { findCondition, removeCondition, setCondition } from "../conditions.js";
import { validateExtension } from "../extension-validation.js";
import { DONE, type ObjectRequest, type Result } from "../requests.js";
import { SESSION_KEY_CONDITION, sessionKeyProblem } from "../session-key.js";
import type { ReconcileContext, Reconciler } from "./reconciler.js";

export class ExtensionReconciler implements Reconciler<ObjectRequest> {
  constructor(private readonly context: ReconcileContext) {}

  async reconcile({ namespace, name }: ObjectRequest): Promise<Result> {
    const { view, client, status, log } = this.context;
    const extension = view.extension(namespace, name);
    if (!extension || extension.metadata.deletionTimestamp) return DONE;
    const verdict = validateExtension(extension, view);
    const keyProblem = verdict.ready ? sessionKeyProblem(namespace, view.secret(namespace, SESSION_KEY_SECRET_NAME)) : undefined;
    const reported = findCondition(extension.status?.conditions, SESSION_KEY_CONDITION);
    const keyCondition = (conditions: Condition[] | undefined) => (keyProblem ? setCondition(conditions, keyProblem, extension.metadata.generation) : removeCondition(conditions, SESSION_KEY_CONDITION));
    await status.write("MCPGatewayExtension", extension, { verdict, conditions: keyCondition });
    if (keyProblem && keyProblem.message !== reported?.message) {
      log.warn({ namespace, secret: SESSION_KEY_SECRET_NAME, problem: keyProblem.message }, "session key unusable; left as it is");
      client.event(extension, "Warning", keyProblem.reason, keyProblem.message);
    }
    return DONE;
  }
}
