// Gateway session ids that cannot be forged and carry their own expiry: 128 random bits, the
// expiry time and an HMAC-SHA256 over both. Any replica holding the key rejects a forged or
// expired id before touching session state, so guessing ids costs an attacker nothing but 404s.
// Keys rotate without ending sessions: ids signed with the previous key stay valid.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { SESSION_KEY_BYTES } from "./signing-key-secret.js";

const SIGNATURE_BYTES = 16;

export type SessionIdCheck = { valid: true; expiresAt: number } | { valid: false; reason: "malformed" | "bad signature" | "expired" };

/** The key new ids are signed with, and the one before it, still accepted. */
export interface SessionKeys {
  current: Buffer;
  previous?: Buffer;
}

export class SessionIdSigner {
  private signing: Buffer;
  private verifying: Buffer[];
  private activation?: NodeJS.Timeout;

  constructor(keys: SessionKeys) {
    for (const key of [keys.current, keys.previous]) {
      if (key && key.length < SESSION_KEY_BYTES) throw new Error(`session signing key must have at least ${SESSION_KEY_BYTES} bytes, got ${key.length}`);
    }
    this.signing = keys.current;
    this.verifying = distinct([keys.current, keys.previous]);
  }

  /**
   * New keys (a rotation): accepted at once, signed with only after activateAfterMs. Replicas
   * learn of a new key at slightly different moments; until all of them know it, an id signed with
   * it would get 404 from the others.
   */
  update(keys: SessionKeys, activateAfterMs: number): void {
    clearTimeout(this.activation);
    const settle = () => {
      this.signing = keys.current;
      this.verifying = distinct([keys.current, keys.previous]);
    };
    if (keys.current.equals(this.signing) || activateAfterMs <= 0) {
      settle();
      return;
    }
    this.verifying = distinct([this.signing, keys.current, keys.previous]);
    this.activation = setTimeout(settle, activateAfterMs);
    this.activation.unref();
  }

  /** A new id valid until now + lifetimeMs (rounded up to the second it carries). */
  issue(lifetimeMs: number): { id: string; expiresAt: number } {
    const expirySeconds = Math.ceil((Date.now() + lifetimeMs) / 1000);
    const body = `${randomBytes(16).toString("base64url")}.${expirySeconds.toString(36)}`;
    return { id: `${body}.${sign(this.signing, body).toString("base64url")}`, expiresAt: expirySeconds * 1000 };
  }

  check(id: string): SessionIdCheck {
    const parts = id.split(".");
    if (parts.length !== 3) return { valid: false, reason: "malformed" };
    const [random = "", expiry = "", signature = ""] = parts;
    const given = Buffer.from(signature, "base64url");
    if (given.length !== SIGNATURE_BYTES) return { valid: false, reason: "malformed" };
    const body = `${random}.${expiry}`;
    if (!this.verifying.some((key) => timingSafeEqual(given, sign(key, body)))) return { valid: false, reason: "bad signature" };
    const expiresAt = parseInt(expiry, 36) * 1000;
    if (!(expiresAt > Date.now())) return { valid: false, reason: "expired" };
    return { valid: true, expiresAt };
  }
}

function sign(key: Buffer, body: string): Buffer {
  return createHmac("sha256", key).update(body).digest().subarray(0, SIGNATURE_BYTES);
}

function distinct(keys: Array<Buffer | undefined>): Buffer[] {
  const result: Buffer[] = [];
  for (const key of keys) if (key && !result.some((seen) => seen.equals(key))) result.push(key);
  return result;
}
