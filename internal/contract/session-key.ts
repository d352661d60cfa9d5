// Where the operator keeps the key that signs gateway session ids, and the broker reads it:
// one Secret per extension namespace, next to the registry Secret. Generated when absent, never
// overwritten except on request (a rotation), so every broker replica (and every restart) signs and
// verifies with the same key.
export const SESSION_KEY_SECRET_NAME = "mcp-gateway-session-key";
export const SESSION_KEY_SECRET_KEY = "key";
/** The key before the last rotation: brokers still accept ids signed with it. */
export const SESSION_KEY_PREVIOUS_KEY = "previous";
/** 256 bits: the HMAC-SHA256 key length. Shorter keys are refused by the broker. */
export const SESSION_KEY_BYTES = 32;
/** Set on the Secret (any new value) to have the controller rotate the key. */
export const ROTATE_ANNOTATION = "mcp.kagenti.com/rotate-session-key";
/** The controller's record of the last rotate value it carried out, so each request rotates once. */
export const ROTATED_ANNOTATION = "mcp.kagenti.com/session-key-rotated";
