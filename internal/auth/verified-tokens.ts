// Verified JWTs, remembered by their exact text: a client sends the same token on every request
// for its whole life, and an ES256 verification costs ~150 µs of CPU (issue 9). Verification is a
// pure function of the token and the accepted keys and claims, except for time: a hit re-checks
// exp, nbf and the maximum age against the clock. Entries live at most a minute, so a key taken
// out of the JWKS stops being honoured within that time, and the map is bounded.
import type { JWTPayload } from "jose";

const MAX_ENTRIES = 10_000;
const ENTRY_LIFETIME_MS = 60_000;

interface Entry {
  claims: JWTPayload;
  until: number;
}

export class VerifiedTokens {
  /** Oldest first (insertion order), so the first key is the one to drop. */
  private readonly entries = new Map<string, Entry>();

  /** The claims of a token verified within the last minute and still within its times, else undefined. */
  get(key: string, maxAgeSeconds?: number): JWTPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = Date.now();
    const seconds = now / 1000;
    const { exp, nbf, iat } = entry.claims;
    const expired = (exp !== undefined && exp <= seconds) || (maxAgeSeconds !== undefined && iat !== undefined && iat + maxAgeSeconds < seconds);
    if (now >= entry.until || expired) {
      this.entries.delete(key);
      return undefined;
    }
    // Not yet valid: verified early, kept for when it is.
    if (nbf !== undefined && nbf > seconds) return undefined;
    return entry.claims;
  }

  set(key: string, claims: JWTPayload): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { claims, until: Date.now() + ENTRY_LIFETIME_MS });
  }
}
