// Gateway session ids that cannot be forged and carry their own expiry: 128 random bits, the
// expiry time and an HMAC-SHA256 over both. Any replica holding the key rejects a forged or
// expired id before touching session state, so guessing ids costs an attacker nothing but 404s.
// Keys rotate without ending sessions: ids signed with the previous key stay valid.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { SESSION_KEY_BYTES } from "../contract/session-key.js";

const SIGNATURE_BYTES = 16;

export type SessionIdCheck = { valid: true; expiresAt: number } | { valid: false; reason: "malformed" | "bad signature" | "expired" };

/** The key new ids are signed with, and the one before it, still accepted. */
export interface SessionKeys {
  current: Buffer;
  previous?: Buffer;
}

/**
 * A key with its KeyObject: createHmac turns a Buffer key into a KeyObject on every call, which
 * cost more than the HMAC itself (19 µs vs 4 µs per check, measured in issue 9).
 */
interface Key {
  raw: Buffer;
  object: KeyObject;
}

function keyOf(raw: Buffer): Key {
  return { raw, object: createSecretKey(raw) };
}

export class SessionIdSigner {
  private signing: Key;
  private verifying: Key[];
  private activation?: NodeJS.Timeout;
  /**
   * Bumped whenever the accepted keys change: an id verified under an older generation must be
   * verified again (its key may no longer be accepted), a later one need not.
   */
  generation = 0;

  constructor(keys: SessionKeys) {
    for (const key of [keys.current, keys.previous]) {
      if (key && key.length < SESSION_KEY_BYTES) throw new Error(`session signing key must have at least ${SESSION_KEY_BYTES} bytes, got ${key.length}`);
    }
    this.signing = keyOf(keys.current);
    this.verifying = distinct([this.signing, keys.previous && keyOf(keys.previous)]);
  }

  /**
   * New keys (a rotation): accepted at once, signed with only after activateAfterMs. Replicas
   * learn of a new key at slightly different moments; until all of them know it, an id signed with
   * it would get 404 from the others.
   */
  update(keys: SessionKeys, activateAfterMs: number): void {
    clearTimeout(this.activation);
    const current = keyOf(keys.current);
    const previous = keys.previous && keyOf(keys.previous);
    const settle = () => {
      this.signing = current;
      this.verifying = distinct([current, previous]);
      this.generation++;
    };
    if (keys.current.equals(this.signing.raw) || activateAfterMs <= 0) {
      settle();
      return;
    }
    this.verifying = distinct([this.signing, current, previous]);
    this.generation++;
    this.activation = setTimeout(settle, activateAfterMs);
    this.activation.unref();
  }

  /** A new id valid until now + lifetimeMs (rounded up to the second it carries). */
  issue(lifetimeMs: number): { id: string; expiresAt: number } {
    const expirySeconds = Math.ceil((Date.now() + lifetimeMs) / 1000);
    const body = `${randomBytes(16).toString("base64url")}.${expirySeconds.toString(36)}`;
    return { id: `${body}.${sign(this.signing, body).toString("base64url")}`, expiresAt: expirySeconds * 1000 };
  }

  /** Signs something else than a session id with the same keys; `purpose` keeps the two (and any others) apart. */
  signFor(purpose: string, body: string): string {
    return sign(this.signing, `${purpose}\n${body}`).toString("base64url");
  }

  verifiesFor(purpose: string, body: string, signature: string): boolean {
    const given = signatureBytes(signature);
    return given !== undefined && this.verifying.some((key) => timingSafeEqual(given, sign(key, `${purpose}\n${body}`)));
  }

  check(id: string): SessionIdCheck {
    const parts = id.split(".");
    if (parts.length !== 3) return { valid: false, reason: "malformed" };
    const [random = "", expiry = "", signature = ""] = parts;
    const given = signatureBytes(signature);
    if (given === undefined) return { valid: false, reason: "malformed" };
    const body = `${random}.${expiry}`;
    if (!this.verifying.some((key) => timingSafeEqual(given, sign(key, body)))) return { valid: false, reason: "bad signature" };
    const expiresAt = parseInt(expiry, 36) * 1000;
    if (!(expiresAt > Date.now())) return { valid: false, reason: "expired" };
    return { valid: true, expiresAt };
  }
}

/**
 * A signature's bytes, only from their one base64url spelling: Node's decoder skips characters
 * outside the alphabet and ignores the unused bits of the last one, so other spellings of the same
 * bytes would pass for a token the gateway never issued.
 */
function signatureBytes(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, "base64url");
  return bytes.length === SIGNATURE_BYTES && bytes.toString("base64url") === text ? bytes : undefined;
}

function sign(key: Key, body: string): Buffer {
  return createHmac("sha256", key.object).update(body).digest().subarray(0, SIGNATURE_BYTES);
}

function distinct(keys: Array<Key | undefined>): Key[] {
  const result: Key[] = [];
  for (const key of keys) if (key && !result.some((seen) => seen.raw.equals(key.raw))) result.push(key);
  return result;
}
