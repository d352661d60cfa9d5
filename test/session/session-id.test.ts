// Signed session ids across a key rotation: ids signed before it stay valid (previous key), a new
// key is accepted at once but signed with only after the activation delay, and a second rotation
// retires the oldest key. Real HMACs over real random keys.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { SessionIdSigner } from "../../internal/session/session-id.js";

const HOUR = 3_600_000;
const key = () => randomBytes(32);

describe("session ids: signing and key rotation", () => {
  it("accepts its own ids and refuses tampered, foreign, expired and malformed ones", async () => {
    const signer = new SessionIdSigner({ current: key() });
    const { id, expiresAt } = signer.issue(HOUR);
    expect(signer.check(id)).to.deep.equal({ valid: true, expiresAt });
    const [random = "", expiry = "", signature = ""] = id.split(".");
    expect(signer.check(`${random}.${(parseInt(expiry, 36) + 1).toString(36)}.${signature}`)).to.deep.equal({ valid: false, reason: "bad signature" });
    expect(signer.check(new SessionIdSigner({ current: key() }).issue(HOUR).id)).to.deep.equal({ valid: false, reason: "bad signature" });
    expect(signer.check(`${random}.${expiry}`)).to.deep.equal({ valid: false, reason: "malformed" });
    expect(signer.check(`${random}.${expiry}.c2hvcnQ`)).to.deep.equal({ valid: false, reason: "malformed" });
    const shortLived = signer.issue(1);
    await sleep(1_100);
    expect(signer.check(shortLived.id)).to.deep.equal({ valid: false, reason: "expired" });
  });

  it("refuses keys shorter than 32 bytes, current or previous", () => {
    expect(() => new SessionIdSigner({ current: randomBytes(16) })).to.throw("at least 32 bytes, got 16");
    expect(() => new SessionIdSigner({ current: key(), previous: randomBytes(8) })).to.throw("at least 32 bytes, got 8");
  });

  it("keeps ids of the previous key valid, signs with the new key only after the activation delay", async () => {
    const [first, second, third] = [key(), key(), key()];
    const signer = new SessionIdSigner({ current: first });
    const onlyFirst = new SessionIdSigner({ current: first });
    const onlySecond = new SessionIdSigner({ current: second });
    const before = signer.issue(HOUR).id;

    signer.update({ current: second, previous: first }, 300);
    // A replica that has not seen the rotation yet must still accept what this one signs now.
    const during = signer.issue(HOUR).id;
    expect(onlyFirst.check(during).valid, "signed with the old key during the delay").to.equal(true);
    expect(signer.check(onlySecond.issue(HOUR).id).valid, "the new key is accepted at once").to.equal(true);

    await sleep(400);
    const after = signer.issue(HOUR).id;
    expect(onlySecond.check(after).valid, "signed with the new key after the delay").to.equal(true);
    expect(onlyFirst.check(after).valid).to.equal(false);
    expect([before, during, after].map((id) => signer.check(id).valid), "all still valid").to.deep.equal([true, true, true]);

    // The next rotation retires the first key: its ids end, the second key's live on.
    signer.update({ current: third, previous: second }, 0);
    expect([before, during, after].map((id) => signer.check(id).valid)).to.deep.equal([false, false, true]);
  });

  it("a key replaced without a previous one ends the old ids once the new key is active", async () => {
    const [old, replacement] = [key(), key()];
    const signer = new SessionIdSigner({ current: old });
    const id = signer.issue(HOUR).id;
    signer.update({ current: replacement }, 200);
    expect(signer.check(id).valid, "until the new key is active").to.equal(true);
    await sleep(300);
    expect(signer.check(id)).to.deep.equal({ valid: false, reason: "bad signature" });
  });
});
