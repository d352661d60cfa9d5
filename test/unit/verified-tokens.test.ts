// The cache of verified JWTs re-checks time on every hit: expiry, not-before, maximum age, its own minute.
import { expect } from "chai";
import { VerifiedTokens } from "../../internal/auth/verified-tokens.js";

describe("unit: VerifiedTokens", () => {
  const now = () => Math.floor(Date.now() / 1000);

  it("returns the claims of a token still valid, and forgets one past exp or past the maximum age", () => {
    const tokens = new VerifiedTokens();
    tokens.set("fresh", { sub: "a", exp: now() + 60, iat: now() });
    tokens.set("expired", { sub: "b", exp: now() - 1 });
    tokens.set("old", { sub: "c", exp: now() + 60, iat: now() - 600 });
    expect(tokens.get("fresh")?.sub).to.equal("a");
    expect(tokens.get("expired")).to.equal(undefined);
    expect(tokens.get("old", 300), "older than the maximum age").to.equal(undefined);
    expect(tokens.get("old"), "forgotten once found too old").to.equal(undefined);
    expect(tokens.get("unknown")).to.equal(undefined);
  });

  it("does not answer for a token that is not valid yet (nbf)", () => {
    const tokens = new VerifiedTokens();
    tokens.set("early", { sub: "a", exp: now() + 60, nbf: now() + 30 });
    expect(tokens.get("early")).to.equal(undefined);
  });
});
