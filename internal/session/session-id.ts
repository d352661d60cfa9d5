// Gateway session ids that cannot be forged and carry their own expiry: 128 random bits, the
// expiry time and an HMAC-SHA256 over both. Any replica holding the key rejects a forged or
// expired id before touching session state, so guessing ids costs an attacker nothing but 404s.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { SESSION_KEY_BYTES } from "./signing-key-secret.js";

const SIGNATURE_BYTES = 16;

export type SessionIdCheck = { valid: true; expiresAt: number } | { valid: false; reason: "malformed" | "bad signature" | "expired" };

export class SessionIdSigner {
  constructor(private readonly key: Buffer) {
    if (key.length < SESSION_KEY_BYTES) throw new Error(`session signing key must have at least ${SESSION_KEY_BYTES} bytes, got ${key.length}`);
  }

  /** A new id valid until now + lifetimeMs (rounded up to the second it carries). */
  issue(lifetimeMs: number): { id: string; expiresAt: number } {
    const expirySeconds = Math.ceil((Date.now() + lifetimeMs) / 1000);
    const body = `${randomBytes(16).toString("base64url")}.${expirySeconds.toString(36)}`;
    return { id: `${body}.${this.sign(body).toString("base64url")}`, expiresAt: expirySeconds * 1000 };
  }

  check(id: string): SessionIdCheck {
    const parts = id.split(".");
    if (parts.length !== 3) return { valid: false, reason: "malformed" };
    const [random = "", expiry = "", signature = ""] = parts;
    const given = Buffer.from(signature, "base64url");
    if (given.length !== SIGNATURE_BYTES) return { valid: false, reason: "malformed" };
    if (!timingSafeEqual(given, this.sign(`${random}.${expiry}`))) return { valid: false, reason: "bad signature" };
    const expiresAt = parseInt(expiry, 36) * 1000;
    if (!(expiresAt > Date.now())) return { valid: false, reason: "expired" };
    return { valid: true, expiresAt };
  }

  private sign(body: string): Buffer {
    return createHmac("sha256", this.key).update(body).digest().subarray(0, SIGNATURE_BYTES);
  }
}
