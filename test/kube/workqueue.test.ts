// The work queue's controller-runtime semantics: dedupe, one worker per key, retries with exponential
// backoff that a success resets, delayed adds, and a shutdown that waits for the work in progress.
import { expect } from "chai";
import { WorkQueue, type WorkQueueOptions } from "../../internal/kube/workqueue.js";
import { capturingLogger } from "../helpers/logs.js";
import { expectEventually, sleep } from "../helpers/poll.js";

/** A promise the test resolves by hand, to hold a key in processing. */
function gate(): { opened: Promise<void>; open: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { opened: promise, open: () => resolve() };
}

describe("kube WorkQueue", () => {
  const queues: WorkQueue[] = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((queue) => queue.shutdown()));
  });

  function queue(options: Partial<WorkQueueOptions>, process: (key: string) => Promise<void>): WorkQueue {
    const created = new WorkQueue({ name: "test", workers: 1, ...options }, process, capturingLogger().log);
    queues.push(created);
    return created;
  }

  it("holds a waiting key once, and processes keys in the order they came", async () => {
    const processed: string[] = [];
    const q = queue({}, async (key) => void processed.push(key));
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.depth).to.equal(2);
    q.start();
    await expectEventually(() => expect(processed).to.deep.equal(["a", "b"]));
    expect(q.depth).to.equal(0);
  });

  it("never gives one key to two workers; a key added while in process runs once more afterwards", async () => {
    const hold = gate();
    let running = 0;
    let mostAtOnce = 0;
    let runs = 0;
    const q = queue({ workers: 4 }, async () => {
      runs++;
      mostAtOnce = Math.max(mostAtOnce, ++running);
      if (runs === 1) await hold.opened;
      running--;
    });
    q.start();
    q.add("k");
    await expectEventually(() => expect(runs).to.equal(1));
    q.add("k");
    q.add("k");
    q.add("k");
    expect(q.depth).to.equal(1);
    await sleep(50);
    expect(runs).to.equal(1);
    hold.open();
    await expectEventually(() => expect(runs).to.equal(2));
    await sleep(50);
    expect(runs).to.equal(2);
    expect(mostAtOnce).to.equal(1);
  });

  it("runs different keys in parallel, up to the number of workers", async () => {
    const hold = gate();
    let running = 0;
    let mostAtOnce = 0;
    const q = queue({ workers: 2 }, async () => {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await hold.opened;
      running--;
    });
    q.start();
    for (const key of ["a", "b", "c", "d"]) q.add(key);
    await expectEventually(() => expect(running).to.equal(2));
    expect(q.depth).to.equal(2);
    hold.open();
    await expectEventually(() => expect(q.depth).to.equal(0));
    expect(mostAtOnce).to.equal(2);
  });

  it("retries a failing key after base * 2^failures (capped), and a success resets the count", async () => {
    const attempts: number[] = [];
    let failuresLeft = 4;
    const q = queue({ baseDelayMs: 40, maxDelayMs: 200 }, async () => {
      attempts.push(performance.now());
      if (failuresLeft-- > 0) throw new Error("not yet");
    });
    const outcomes: Array<string> = [];
    q.onProcessed = (key, durationMs, error) => {
      expect(durationMs).to.be.a("number").and.at.least(0);
      outcomes.push(error ? `${key} failed` : `${key} ok`);
    };
    q.start();
    q.add("k");
    // Fails 4 times (retries after 40, 80, 160, 200 ms), then succeeds.
    await expectEventually(() => expect(attempts).to.have.length(5), 3_000);
    const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] ?? 0));
    [40, 80, 160, 200].forEach((expected, i) => expect(gaps[i]).to.be.within(expected - 5, expected + 100));
    expect(outcomes).to.deep.equal(["k failed", "k failed", "k failed", "k failed", "k ok"]);

    // After the success the next failure waits the base delay again.
    failuresLeft = 1;
    const before = attempts.length;
    q.add("k");
    await expectEventually(() => expect(attempts).to.have.length(before + 2), 3_000);
    const gap = (attempts[before + 1] ?? 0) - (attempts[before] ?? 0);
    expect(gap).to.be.within(35, 150);
  });

  it("adds a key after a delay, the earliest of several delays winning", async () => {
    const processedAt: number[] = [];
    const q = queue({}, async () => void processedAt.push(performance.now()));
    q.start();
    const start = performance.now();
    q.addAfter("k", 400);
    q.addAfter("k", 100);
    q.addAfter("k", 300);
    expect(q.depth).to.equal(0);
    await sleep(600);
    expect(processedAt).to.have.length(1);
    expect((processedAt[0] ?? 0) - start).to.be.within(95, 250);
  });

  it("shutdown drops waiting keys and resolves when the key in process is done", async () => {
    const hold = gate();
    const processed: string[] = [];
    const q = queue({}, async (key) => {
      if (key === "slow") await hold.opened;
      processed.push(key);
    });
    q.start();
    q.add("slow");
    q.add("waiting");
    q.addAfter("delayed", 20);
    let done = false;
    const shutdown = q.shutdown().then(() => (done = true));
    q.add("too-late");
    await sleep(100);
    expect(done).to.equal(false);
    hold.open();
    await shutdown;
    await sleep(50);
    expect(processed).to.deep.equal(["slow"]);
    expect(q.depth).to.equal(0);
  });
});
