// Where the operator keeps the key that signs gateway session ids, and the broker reads it:
// one Secret per extension namespace, next to the registry Secret. Generated when absent, never
// overwritten, so every broker replica (and every restart) signs and verifies with the same key.
export const SESSION_KEY_SECRET_NAME = "mcp-gateway-session-key";
export const SESSION_KEY_SECRET_KEY = "key";
/** 256 bits: the HMAC-SHA256 key length. Shorter keys are refused by the broker. */
export const SESSION_KEY_BYTES = 32;
