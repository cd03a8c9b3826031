// The shared-memory structures under contention: 4 (or 5) worker threads on one structure,
// millions of operations, checked for lost, duplicated, reordered or torn data.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { IntRing, MpscIntRing, RwLock, SharedCounters } from '../../src/index.js';
import { BIG_STEP, C_STOP, RECORD_WORDS, type Job, type Report } from './contention-worker.js';

const workerUrl = new URL('./contention-worker.js', import.meta.url);
/** A hung thread fails the test instead of hanging the run (not a timing assertion). */
const LIMIT = { timeout: 90_000 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Workers still running; a hung one is terminated so the run can end. */
const live = new Set<Worker>();
after(() => Promise.all([...live].map((w) => w.terminate())));

/** Runs `job` in a new worker thread and resolves with its report; rejects if it dies. */
function spawn(job: Job): Promise<Report> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: job });
    live.add(w);
    let report: Report | undefined;
    w.once('message', (r: Report) => (report = r));
    w.once('error', reject);
    w.once('exit', (code) => {
      live.delete(w);
      if (report !== undefined) resolve(report);
      else reject(new Error(`worker ${job.role} exited with ${code} and no report`));
    });
  });
}

function assertClean(reports: Report[]): void {
  for (const r of reports) assert.deepEqual(r.errors, []);
}

describe('shared memory under contention', () => {
  it(
    'an IntRing relay through 4 threads loses, duplicates and reorders nothing',
    LIMIT,
    async () => {
      // 500,000 values through three rings: 1.5 million pushes and as many pops.
      const count = 500_000;
      const [a, b, c] = [256, 64, 1024].map((n) => IntRing.create(n).buffer);
      const reports = await Promise.all(
        (
          [
            [null, a],
            [a, b],
            [b, c],
            [c, null],
          ] as const
        ).map(([from, to]) => spawn({ role: 'relay', from: from ?? null, to: to ?? null, count })),
      );
      assertClean(reports);
      assert.deepEqual(
        reports.map((r) => r.done),
        [count, count, count, count],
      );
    },
  );

  it(
    'an MpscIntRing takes 4 producer threads at once, each in order, none lost',
    LIMIT,
    async () => {
      const count = 250_000;
      const producers = 4;
      const buffer = MpscIntRing.create(64).buffer;
      const jobs: Job[] = [{ role: 'mpsc-consume', buffer, count: count * producers, producers }];
      for (let id = 0; id < producers; id++) jobs.push({ role: 'mpsc-produce', buffer, count, id });
      const reports = await Promise.all(jobs.map(spawn));
      assertClean(reports);
      assert.equal(reports[0]?.done, count * producers);
    },
  );

  it(
    'an RwLock admits no torn read and no overlap, and readers never starve writers',
    LIMIT,
    async () => {
      const lock = new RwLock();
      const record = new SharedArrayBuffer(RECORD_WORDS * 4);
      const control = new SharedArrayBuffer(64 * 4);
      const writes = 20_000;
      const common = { lock: lock.buffer, record, control };
      // Readers read back to back until told to stop: only writer preference lets writers finish.
      const readers = [0, 1].map((id) => spawn({ role: 'rw-reader', ...common, count: 0, id }));
      const writers = [1, 2].map((id) =>
        spawn({ role: 'rw-writer', ...common, count: writes, id }),
      );
      let writersDone = false;
      const allWritten = Promise.all(writers).finally(() => (writersDone = true));
      // This thread reads too, through the async lock, while the workers contend.
      const words = new Int32Array(record);
      let asyncReads = 0;
      const torn: string[] = [];
      while (!writersDone) {
        assert.equal(await lock.readLockAsync(), true);
        const first = words[0];
        for (let w = 1; w < RECORD_WORDS; w++) {
          if (words[w] !== first) torn.push(`word 0 = ${first}, word ${w} = ${words[w]}`);
        }
        lock.readUnlock();
        asyncReads++;
        await tick();
      }
      const written = await allWritten;
      Atomics.store(new Int32Array(control), C_STOP, 1);
      const read = await Promise.all(readers);
      assertClean([...written, ...read]);
      assert.deepEqual(torn, []);
      assert.deepEqual(
        written.map((r) => r.done),
        [writes, writes],
      );
      assert.ok(
        read.every((r) => r.done > 0),
        `reads: ${read.map((r) => r.done).join(', ')}`,
      );
      assert.ok(asyncReads > 0);
      assert.equal(lock.readers, 0);
      assert.equal(lock.writeLocked, false);
      const last = words[0]! % 1_000_000;
      assert.equal(last, writes, 'the record holds a last write');
    },
  );

  it('SharedCounters sum exactly over 4 threads and are never read torn', LIMIT, async () => {
    const count = 1_000_000;
    const threads = 4;
    const start = 2 ** 32 - 3;
    const counters = SharedCounters.create({ names: ['steps', 'sum', 'big'], slots: threads });
    let running = threads;
    const reports = Array.from({ length: threads }, () =>
      spawn({ role: 'count', buffer: counters.buffer, count, start }).finally(() => running--),
    );
    // Read while they count: every row's `big` is 0 (not started) or start + k * BIG_STEP (a
    // whole update), and never goes back; `steps` only grows.
    const lastBig = new Array<number>(threads).fill(0);
    let lastSteps = 0;
    const bad: string[] = [];
    let polls = 0;
    while (running > 0) {
      counters.bySlot('big').forEach((v, s) => {
        const k = (v - start) / BIG_STEP;
        if (v !== 0 && !(Number.isInteger(k) && k >= 0 && k <= count)) {
          bad.push(`slot ${s}: big = ${v}, not start + k * step`);
        }
        if (v < lastBig[s]!) bad.push(`slot ${s}: big went back from ${lastBig[s]} to ${v}`);
        lastBig[s] = v;
      });
      const steps = counters.total('steps');
      if (steps < lastSteps) bad.push(`steps went back from ${lastSteps} to ${steps}`);
      lastSteps = steps;
      polls++;
      await tick();
    }
    assertClean(await Promise.all(reports));
    assert.deepEqual(bad.slice(0, 5), []);
    assert.ok(polls > 0);
    let sum = 0;
    for (let i = 0; i < count; i++) sum += i % 7;
    assert.deepEqual(counters.totals(), {
      steps: threads * count,
      sum: threads * sum,
      big: threads * (start + count * BIG_STEP),
    });
  });
});
