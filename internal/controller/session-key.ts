// The Secret holding the key that signs gateway session ids. The controller creates it, with a
// random key, in every namespace that holds a valid MCPGatewayExtension, and changes it only when
// asked to rotate it: replacing it unasked would end every session, and a key the user provided is
// theirs. A key the broker cannot use is reported on the extension (a condition and a Warning Event).
import { ROTATE_ANNOTATION, ROTATED_ANNOTATION, SESSION_KEY_BYTES, SESSION_KEY_SECRET_KEY, SESSION_KEY_SECRET_NAME } from "../contract/session-key.js";
import type { DesiredCondition } from "./conditions.js";
import type { Secret } from "./resources.js";

export const SESSION_KEY_CONDITION = "SessionKeyValid";

/** Why an existing Secret's key cannot sign sessions; undefined when it can, or when there is none yet (it will be generated). */
export function sessionKeyProblem(namespace: string, secret: Secret | undefined): DesiredCondition | undefined {
  if (!secret) return undefined;
  const name = `Secret ${namespace}/${SESSION_KEY_SECRET_NAME}`;
  const remedy = `the controller never overwrites it: put a random key of at least ${SESSION_KEY_BYTES} bytes there, or delete the Secret to have one generated`;
  const encoded = secret.data?.[SESSION_KEY_SECRET_KEY];
  if (encoded === undefined) return { type: SESSION_KEY_CONDITION, status: "False", reason: "SessionKeyMissing", message: `${name} has no key "${SESSION_KEY_SECRET_KEY}"; ${remedy}` };
  const bytes = Buffer.from(encoded, "base64").length;
  if (bytes < SESSION_KEY_BYTES) {
    return { type: SESSION_KEY_CONDITION, status: "False", reason: "SessionKeyTooShort", message: `${name}: key "${SESSION_KEY_SECRET_KEY}" holds ${bytes} bytes, fewer than ${SESSION_KEY_BYTES}; ${remedy}` };
  }
  return undefined;
}

/** The rotate value not carried out yet: set on the Secret by a user, recorded by the controller once done. */
export function pendingRotation(secret: Secret): string | undefined {
  const annotations = secret.metadata.annotations ?? {};
  const wanted = annotations[ROTATE_ANNOTATION];
  return wanted && wanted !== annotations[ROTATED_ANNOTATION] ? wanted : undefined;
}
