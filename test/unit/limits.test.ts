// Rate and stream bookkeeping, in process: a batch is charged as its requests sent one by one.
import { expect } from "chai";
import { RateLimiter } from "../../internal/limits/rate-limiter.js";
import { SessionQuota, SessionQuotaError } from "../../internal/limits/session-quota.js";
import { StreamLimiter } from "../../internal/limits/stream-limiter.js";

describe("unit: limits", () => {
  it("RateLimiter takes n tokens at once or none, and says when there will be enough", () => {
    const limiter = new RateLimiter({ perSecond: 10, burst: 5 });
    expect(limiter.take("a", 3)).to.equal(0);
    const wait = limiter.take("a", 3);
    expect(wait).to.be.closeTo(0.1, 0.01);
    expect(limiter.take("a", 2), "the refused take took nothing").to.equal(0);
    expect(limiter.take("a", 6)).to.equal(Infinity);
    expect(limiter.take("b", 5), "keys are apart").to.equal(0);
  });

  it("StreamLimiter holds a batch's slots until its one release", () => {
    const limiter = new StreamLimiter(4);
    const release = limiter.acquire("s", 3);
    expect(release).to.be.a("function");
    expect(limiter.acquire("s", 2)).to.equal(undefined);
    const one = limiter.acquire("s");
    expect(limiter.count("s")).to.equal(4);
    release?.();
    release?.();
    expect(limiter.count("s")).to.equal(1);
    one?.();
    expect(limiter.count("s")).to.equal(0);
  });

  it("SessionQuota counts sessions per client and frees a place on release", () => {
    const quota = new SessionQuota(2);
    quota.take("alice");
    quota.take("alice");
    expect(() => quota.take("alice")).to.throw(SessionQuotaError, /already holds 2 sessions/);
    quota.take("bob");
    quota.release("alice");
    quota.take("alice");
    expect(() => new SessionQuota(0).take("anyone")).to.not.throw();
  });
});
