// The one backoff: doubling from initialMs, capped, jittered only when asked.
import { expect } from "chai";
import { Backoff, backoffDelay } from "../../internal/retry/backoff.js";

describe("unit: backoff", () => {
  it("doubles per attempt up to the cap, exactly without jitter, and never overflows", () => {
    const exact = { initialMs: 250, maxMs: 5_000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, exact))).to.deep.equal([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(backoffDelay(10_000, exact)).to.equal(5_000);
  });

  it("spreads by ±20 % by default, and Backoff counts attempts until reset", () => {
    const backoff = new Backoff({ initialMs: 1_000, maxMs: 60_000 });
    const first = backoff.next();
    expect(first).to.be.within(800, 1_200);
    expect(backoff.next()).to.be.within(1_600, 2_400);
    backoff.reset();
    expect(backoff.next()).to.be.within(800, 1_200);
  });
});
