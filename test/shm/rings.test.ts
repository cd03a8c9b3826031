import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  ByteRing,
  IntRing,
  MpscIntRing,
  isPolyloopError,
  type ErrorCode,
} from '../../src/index.js';
import { message, nextLength, rng, type Job, type Report } from './ring-worker.js';

const workerUrl = new URL('./ring-worker.js', import.meta.url);
/** A hung wake-up fails the test instead of hanging the run (not a timing assertion). */
const LIMIT = { timeout: 60_000 };

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** Workers still running; a hung one (a lost wake-up) is terminated so the run can end. */
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

describe('IntRing', () => {
  it('returns false when full and undefined when empty, in FIFO order', () => {
    const ring = IntRing.create(4);
    assert.equal(ring.tryPop(), undefined);
    for (const v of [1, -2, 0x7fffffff, -0x80000000]) assert.equal(ring.tryPush(v), true);
    assert.equal(ring.tryPush(5), false);
    assert.equal(ring.size, 4);
    assert.deepEqual([ring.tryPop(), ring.tryPop()], [1, -2]);
    assert.equal(ring.tryPush(6), true);
    assert.deepEqual(
      [ring.tryPop(), ring.tryPop(), ring.tryPop(), ring.tryPop()],
      [0x7fffffff, -0x80000000, 6, undefined],
    );
  });

  it('shares state with a ring opened by from() on the same buffer', () => {
    const a = IntRing.create(8);
    const b = IntRing.from(a.buffer);
    assert.equal(b.capacity, 8);
    a.tryPush(42);
    assert.equal(b.tryPop(), 42);
    assert.equal(a.size, 0);
  });

  it('throws PL_ERR_INVALID_ARG for a bad capacity, value or buffer', () => {
    for (const c of [0, 1, 3, 6, 1.5, 2 ** 31, NaN]) {
      throwsCode(() => IntRing.create(c), 'PL_ERR_INVALID_ARG');
    }
    throwsCode(() => IntRing.create(4).tryPush(2 ** 31), 'PL_ERR_INVALID_ARG');
    throwsCode(() => IntRing.create(4).tryPush(1.5), 'PL_ERR_INVALID_ARG');
    throwsCode(() => IntRing.from(new SharedArrayBuffer(1024)), 'PL_ERR_INVALID_ARG');
    throwsCode(() => IntRing.from(ByteRing.create(64).buffer), 'PL_ERR_INVALID_ARG');
    throwsCode(
      () => IntRing.from(new ArrayBuffer(1024) as unknown as SharedArrayBuffer),
      'PL_ERR_INVALID_ARG',
    );
  });

  it('waitForData resolves false when nothing arrives before the timeout', async () => {
    assert.equal(await IntRing.create(4).waitForData(10), false);
  });

  it('waitForData wakes on the same thread when a timer pushes', LIMIT, async () => {
    const ring = IntRing.create(4);
    setTimeout(() => ring.tryPush(7), 5);
    assert.equal(await ring.waitForData(), true);
    assert.equal(ring.tryPop(), 7);
  });

  it('waitForSpace wakes the producer when the consumer pops', LIMIT, async () => {
    const ring = IntRing.create(2);
    ring.tryPush(1);
    ring.tryPush(2);
    assert.equal(await ring.waitForSpace(5), false);
    setTimeout(() => ring.tryPop(), 5);
    assert.equal(await ring.waitForSpace(), true);
    assert.equal(ring.tryPush(3), true);
  });

  it('wakes a consumer thread parked in waitForData when the producer pushes', LIMIT, async () => {
    const ring = IntRing.create(4);
    const done = spawn({ role: 'wait-one', buffer: ring.buffer });
    // Push only once the worker has announced it sleeps (header word DATA_WAIT = 49), so the
    // push must go through Atomics.notify to reach it.
    const header = new Int32Array(ring.buffer);
    while (Atomics.load(header, 49) === 0) await new Promise((r) => setTimeout(r, 1));
    assert.equal(ring.tryPush(1234), true);
    const report = await done;
    assertClean([report]);
    assert.equal(report.received, 1234);
  });

  it('loses and duplicates nothing across two producer/consumer thread pairs', LIMIT, async () => {
    const count = 500_000;
    const jobs: Job[] = [];
    for (const capacity of [64, 1024]) {
      const buffer = IntRing.create(capacity).buffer;
      jobs.push({ role: 'int-produce', buffer, count }, { role: 'int-consume', buffer, count });
    }
    const reports = await Promise.all(jobs.map(spawn));
    assertClean(reports);
    assert.deepEqual(
      reports.map((r) => r.received),
      [0, count, 0, count],
    );
  });
});

describe('ByteRing', () => {
  it('returns copies in order and false when full', () => {
    const ring = ByteRing.create(64);
    assert.equal(ring.maxMessage, 56);
    assert.equal(ring.tryPop(), undefined);
    assert.equal(ring.tryPush(Uint8Array.of(1, 2, 3)), true); // 16 bytes: 8 header, 3 padded to 8
    assert.equal(ring.tryPush(new Uint8Array(0)), true); // 8 bytes
    assert.equal(ring.tryPush(new Uint8Array(32).fill(9)), true); // 40 bytes: 64 used
    assert.equal(ring.usedBytes, 64);
    assert.equal(ring.tryPush(new Uint8Array(0)), false);
    const first = ring.tryPop();
    assert.deepEqual(first, Uint8Array.of(1, 2, 3));
    assert.ok(!(first?.buffer instanceof SharedArrayBuffer), 'a copy, not a view of the ring');
    assert.deepEqual(ring.tryPop(), new Uint8Array(0));
    assert.deepEqual(ring.tryPop(), new Uint8Array(32).fill(9));
    assert.equal(ring.tryPop(), undefined);
  });

  it('tryPopInto copies into the caller buffer and keeps a message too long for it', () => {
    const ring = ByteRing.create(64);
    const target = new Uint8Array(8);
    assert.equal(ring.tryPopInto(target), -1);
    ring.tryPush(Uint8Array.of(5, 6, 7));
    ring.tryPush(new Uint8Array(9));
    assert.equal(ring.tryPopInto(target), 3);
    assert.deepEqual(target.subarray(0, 3), Uint8Array.of(5, 6, 7));
    throwsCode(() => ring.tryPopInto(target), 'PL_ERR_INVALID_ARG');
    assert.equal(ring.tryPopInto(new Uint8Array(9)), 9);
    assert.equal(ring.tryPopInto(target), -1);
  });

  it('pads to the end instead of splitting a record that would wrap', () => {
    const ring = ByteRing.create(32);
    ring.tryPush(new Uint8Array(16)); // 24 bytes at 0
    ring.tryPop(); // head = tail = 24
    // 8 bytes left before the end; a 5-byte message needs 16: PAD to 32, record at 0.
    assert.equal(ring.tryPush(message(1, 5)), true);
    assert.equal(ring.usedBytes, 8 + 16);
    assert.deepEqual(ring.tryPop(), message(1, 5));
    assert.equal(ring.usedBytes, 0);
  });

  it('gets a maxMessage record in from any offset once the consumer catches up', () => {
    const ring = ByteRing.create(64);
    for (let offset = 0; offset < 64; offset += 8) {
      const big = message(offset, ring.maxMessage);
      // Where it does not fit before the end, the first try pads and says false; the consumer
      // skips the PAD (nothing to pop yet) and the second try has the whole region.
      if (!ring.tryPush(big)) {
        assert.notEqual(offset, 0);
        assert.equal(ring.tryPop(), undefined);
        assert.equal(ring.tryPush(big), true, `offset ${offset}`);
      }
      assert.deepEqual(ring.tryPop(), big);
      if (offset + 8 < 64) {
        // Advance the offset by 8: one empty record.
        ring.tryPush(new Uint8Array(0));
        ring.tryPop();
      }
    }
  });

  it('matches a single-threaded model over random sizes that wrap', () => {
    const ring = ByteRing.create(256);
    const next = rng(99);
    const queue: Uint8Array[] = [];
    let pushed = 0;
    for (let step = 0; step < 20_000; step++) {
      if (next() % 2 === 0) {
        const m = message(pushed, nextLength(next, ring.maxMessage));
        if (ring.tryPush(m)) {
          queue.push(m);
          pushed++;
        }
      } else {
        assert.deepEqual(ring.tryPop(), queue.shift());
      }
    }
    assert.ok(pushed > 1000, `only ${pushed} pushes succeeded`);
  });

  it('tryPop copies of every size stay intact while the ring reuses its bytes', () => {
    const ring = ByteRing.create(1 << 16);
    const sizes = [0, 1, 64, 65, 100, 4096, 16 * 1024, 16 * 1024 + 1, 40_000];
    const kept: Uint8Array[] = [];
    for (let round = 0; round < 40; round++) {
      for (const [i, size] of sizes.entries()) {
        const m0 = message(round * 16 + i, size);
        // A push that needs to wrap pads first and says false; the consumer skips the pad.
        if (!ring.tryPush(m0)) assert.equal(ring.tryPop(), undefined);
        if (ring.usedBytes === 0) assert.equal(ring.tryPush(m0), true);
        const m = ring.tryPop()!;
        assert.ok(!(m.buffer instanceof SharedArrayBuffer));
        kept.push(m);
      }
    }
    kept.forEach((m, k) => {
      const round = Math.floor(k / sizes.length);
      const i = k % sizes.length;
      assert.deepEqual(m, message(round * 16 + i, sizes[i]!), `copy ${k}`);
    });
    kept[5]!.fill(0); // a carved copy: its neighbours in the chunk are untouched
    assert.deepEqual(kept[4], message(4, sizes[4]!));
    assert.deepEqual(kept[3], message(3, sizes[3]!));
  });

  it('throws PL_ERR_INVALID_ARG for a message longer than maxMessage', () => {
    const ring = ByteRing.create(16);
    assert.equal(ring.maxMessage, 8);
    throwsCode(() => ring.tryPush(new Uint8Array(9)), 'PL_ERR_INVALID_ARG');
    assert.equal(ring.tryPush(new Uint8Array(8)), true);
    throwsCode(() => ByteRing.create(8), 'PL_ERR_INVALID_ARG');
    throwsCode(() => ByteRing.from(IntRing.create(4).buffer), 'PL_ERR_INVALID_ARG');
  });

  it('loses, duplicates and corrupts nothing across two thread pairs', LIMIT, async () => {
    const count = 100_000;
    const jobs: Job[] = [];
    for (const [capacity, seed] of [
      [256, 1],
      [4096, 2],
    ] as const) {
      const buffer = ByteRing.create(capacity).buffer;
      jobs.push(
        { role: 'byte-produce', buffer, count, seed },
        { role: 'byte-consume', buffer, count, seed },
      );
    }
    const reports = await Promise.all(jobs.map(spawn));
    assertClean(reports);
    assert.deepEqual(
      reports.map((r) => r.received),
      [0, count, 0, count],
    );
  });
});

describe('ByteRing in place (tryReserve/commit, tryPeek/release, tryRead)', () => {
  /** Writes message(i, length) straight into the ring at `at`. */
  function fill(ring: ByteRing, at: number, i: number, length: number): void {
    for (let k = 0; k < length; k++) ring.bytes[at + k] = (i + k * 7) & 255;
  }
  const peeked = (ring: ByteRing, at: number): Uint8Array =>
    ring.bytes.slice(at, at + ring.peekLength);

  it('publishes a reservation only on commit, at 8-aligned offsets in bytes', () => {
    const ring = ByteRing.create(64);
    assert.ok(ring.bytes.buffer === ring.buffer && ring.bytes.length === 64);
    const at = ring.tryReserve(5);
    assert.equal(at, 8);
    fill(ring, at, 1, 5);
    assert.equal(ring.tryPeek(), -1, 'nothing visible before commit');
    assert.equal(ring.peekLength, -1);
    assert.equal(ring.usedBytes, 0);
    ring.commit();
    assert.equal(ring.usedBytes, 16);
    assert.equal(ring.tryReserve(0), 24); // the second record at 16
    ring.commit();
    assert.equal(ring.tryPeek(), 8);
    assert.equal(ring.tryPeek(), 8, 'peeking again finds the same message');
    assert.equal(ring.peekLength, 5);
    assert.deepEqual(peeked(ring, 8), message(1, 5));
    ring.release();
    assert.equal(ring.peekLength, -1);
    assert.equal(ring.tryPeek(), 24);
    assert.equal(ring.peekLength, 0);
    ring.release();
    assert.equal(ring.tryPeek(), -1);
    assert.equal(ring.usedBytes, 0);
  });

  it('commits fewer bytes than reserved, and drops a reservation replaced or pushed over', () => {
    const ring = ByteRing.create(128);
    let at = ring.tryReserve(40);
    fill(ring, at, 2, 10);
    ring.commit(10);
    assert.equal(ring.usedBytes, 8 + 16, 'the record shrinks to what was committed');
    // A reservation that is never committed leaves no trace; the next one takes its place.
    at = ring.tryReserve(30);
    ring.bytes.fill(0xee, at, at + 30);
    at = ring.tryReserve(3);
    fill(ring, at, 3, 3);
    ring.commit();
    ring.tryReserve(7);
    assert.equal(ring.tryPush(message(4, 4)), true); // drops the reservation of 7
    throwsCode(() => ring.commit(), 'PL_ERR_LOCK_STATE');
    assert.deepEqual(ring.tryPop(), message(2, 10));
    assert.deepEqual(ring.tryPop(), message(3, 3));
    assert.deepEqual(ring.tryPop(), message(4, 4));
    assert.equal(ring.tryPop(), undefined);
  });

  it('throws for misuse and leaves the ring as it was', () => {
    const ring = ByteRing.create(64);
    throwsCode(() => ring.commit(), 'PL_ERR_LOCK_STATE');
    throwsCode(() => ring.release(), 'PL_ERR_LOCK_STATE');
    throwsCode(() => ring.tryReserve(57), 'PL_ERR_INVALID_ARG'); // maxMessage is 56
    throwsCode(() => ring.tryReserve(-1), 'PL_ERR_INVALID_ARG');
    throwsCode(() => ring.tryReserve(1.5), 'PL_ERR_INVALID_ARG');
    throwsCode(() => ring.tryReserve(Number.NaN), 'PL_ERR_INVALID_ARG');
    ring.tryReserve(4);
    throwsCode(() => ring.commit(5), 'PL_ERR_INVALID_ARG'); // more than reserved
    throwsCode(() => ring.commit(-1), 'PL_ERR_INVALID_ARG');
    ring.commit(4); // the reservation survived the bad commits
    throwsCode(() => ring.commit(), 'PL_ERR_LOCK_STATE'); // committed already
    assert.equal(ring.tryPeek(), 8);
    ring.release();
    throwsCode(() => ring.release(), 'PL_ERR_LOCK_STATE'); // released already
    // A maxMessage reservation from offset 16: the PAD first, then the whole region.
    assert.equal(ring.tryReserve(56), -1);
    assert.equal(ring.tryPeek(), -1);
    assert.equal(ring.tryReserve(56), 8);
    assert.equal(ring.usedBytes, 0);
  });

  it('keeps a peeked message intact while the producer fills the ring, until release', () => {
    const ring = ByteRing.create(64);
    ring.tryPush(message(5, 24)); // 32 bytes at 0
    const at = ring.tryPeek();
    // The producer fills every byte it may: the other 32, then nothing more.
    const second = ring.tryReserve(24);
    assert.equal(second, 40);
    ring.bytes.fill(0xff, second, second + 24);
    ring.commit();
    assert.equal(ring.tryReserve(0), -1, 'full: the peeked record still holds its bytes');
    assert.deepEqual(peeked(ring, at), message(5, 24));
    ring.release();
    assert.equal(ring.tryPeek(), 40);
    ring.release();
    assert.equal(ring.tryReserve(0), 8 + 0, 'the bytes came back once released');
  });

  it('wraps with PAD at the end of the region', () => {
    const ring = ByteRing.create(64);
    ring.tryPush(new Uint8Array(32)); // 40 bytes at 0
    ring.tryPop(); // head = tail = 40: 24 bytes before the end
    // 17 bytes need 8 + 24 = 32 > 24: PAD at 40, the record at 0.
    const at = ring.tryReserve(17);
    assert.equal(at, 8);
    assert.equal(ring.usedBytes, 24, 'the PAD is published; the record not yet');
    fill(ring, at, 6, 17);
    ring.commit();
    assert.equal(ring.usedBytes, 24 + 32);
    assert.equal(ring.tryPeek(), 8, 'the consumer skips the PAD');
    assert.deepEqual(peeked(ring, 8), message(6, 17));
    ring.release();
    assert.equal(ring.usedBytes, 0);

    // Where the record cannot fit yet, the PAD goes out alone and the reservation fails.
    ring.tryPush(new Uint8Array(8)); // 16 bytes at 32
    ring.tryPush(new Uint8Array(0)); // 8 bytes at 48: tail at 56
    assert.equal(ring.tryPop()?.length, 8); // head at 48
    assert.equal(ring.tryReserve(41), -1); // PAD at 56 (8 bytes); 56 at 0 do not fit yet
    assert.equal(ring.usedBytes, 8 + 8);
    assert.equal(ring.tryPop()?.length, 0);
    assert.equal(ring.tryPeek(), -1, 'skips the PAD; nothing else there');
    assert.equal(ring.usedBytes, 0);
    assert.equal(ring.tryReserve(41), 8);
  });

  it('tryRead hands the message in place and removes it, also when fn throws', () => {
    const ring = ByteRing.create(256);
    const calls: [number, number][] = [];
    assert.equal(
      ring.tryRead(() => assert.fail('not called when empty')),
      false,
    );
    ring.tryPush(message(7, 20));
    ring.tryPush(message(8, 3));
    ring.tryPush(message(9, 1));
    assert.equal(
      ring.tryRead((bytes, offset, length) => {
        assert.equal(bytes, ring.bytes);
        assert.deepEqual(bytes.subarray(offset, offset + length), message(7, 20));
        calls.push([offset, length]);
      }),
      true,
    );
    assert.deepEqual(calls, [[8, 20]]);
    assert.throws(
      () =>
        ring.tryRead(() => {
          throw new Error('handler failed');
        }),
      /handler failed/,
    );
    assert.deepEqual(ring.tryPop(), message(9, 1), 'the message fn threw on is gone');
    assert.equal(ring.usedBytes, 0);
  });

  it('tryPop and tryPopInto take the peeked message; release then has nothing', () => {
    const ring = ByteRing.create(256);
    ring.tryPush(message(1, 9));
    ring.tryPush(message(2, 9));
    ring.tryPeek();
    assert.deepEqual(ring.tryPop(), message(1, 9));
    throwsCode(() => ring.release(), 'PL_ERR_LOCK_STATE');
    ring.tryPeek();
    const into = new Uint8Array(16);
    assert.equal(ring.tryPopInto(into), 9);
    assert.deepEqual(into.subarray(0, 9), message(2, 9));
    throwsCode(() => ring.release(), 'PL_ERR_LOCK_STATE');
    // A target too short keeps the message peeked, and release still removes it.
    ring.tryPush(message(3, 9));
    throwsCode(() => ring.tryPopInto(new Uint8Array(4)), 'PL_ERR_INVALID_ARG');
    assert.equal(ring.peekLength, 9);
    ring.release();
    assert.equal(ring.tryPeek(), -1);
  });

  it('matches a single-threaded model mixing copies and in-place calls over wrapping sizes', () => {
    const ring = ByteRing.create(512);
    const next = rng(7);
    const queue: Uint8Array[] = [];
    let pushed = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = next();
      if (r % 2 === 0) {
        const length = nextLength(next, ring.maxMessage);
        const m = message(pushed, length);
        if (r % 4 === 0) {
          if (!ring.tryPush(m)) continue;
        } else {
          const at = ring.tryReserve(Math.min(length + (r % 5), ring.maxMessage));
          if (at < 0) continue;
          assert.equal(at % 8, 0);
          fill(ring, at, pushed, length);
          ring.commit(length);
        }
        queue.push(m);
        pushed++;
      } else if (r % 4 === 1) {
        const at = ring.tryPeek();
        const want = queue.shift();
        if (want === undefined) {
          assert.equal(at, -1);
          continue;
        }
        assert.equal(at % 8, 0);
        assert.deepEqual(peeked(ring, at), want);
        ring.release();
      } else {
        assert.deepEqual(ring.tryPop(), queue.shift());
      }
    }
    assert.ok(pushed > 1000, `only ${pushed} pushes succeeded`);
  });

  it(
    'moves 200,000 messages in place between two threads, none lost or doubled',
    LIMIT,
    async () => {
      const count = 200_000;
      const jobs: Job[] = [];
      for (const [capacity, seed, consume] of [
        [256, 3, 'view-consume'],
        [4096, 4, 'read-consume'],
      ] as const) {
        const buffer = ByteRing.create(capacity).buffer;
        jobs.push(
          { role: 'view-produce', buffer, count, seed },
          { role: consume, buffer, count, seed },
        );
      }
      const reports = await Promise.all(jobs.map(spawn));
      assertClean(reports);
      assert.deepEqual(
        reports.map((r) => r.received),
        [0, count, 0, count],
      );
    },
  );
});

describe('MpscIntRing', () => {
  it('returns false when full and undefined when empty, in FIFO order', () => {
    const ring = MpscIntRing.create(2);
    assert.equal(ring.tryPop(), undefined);
    assert.equal(ring.tryPush(1), true);
    assert.equal(ring.tryPush(2), true);
    assert.equal(ring.tryPush(3), false);
    assert.equal(ring.tryPop(), 1);
    assert.equal(ring.tryPush(3), true);
    assert.deepEqual([ring.tryPop(), ring.tryPop(), ring.tryPop()], [2, 3, undefined]);
    const other = MpscIntRing.from(ring.buffer);
    other.tryPush(-1);
    assert.equal(ring.tryPop(), -1);
  });

  it('keeps per-producer order and loses nothing with 3 producer threads', LIMIT, async () => {
    const count = 200_000;
    const producers = 3;
    const buffer = MpscIntRing.create(256).buffer;
    const jobs: Job[] = [{ role: 'mpsc-consume', buffer, count: count * producers, producers }];
    for (let id = 0; id < producers; id++) jobs.push({ role: 'mpsc-produce', buffer, count, id });
    const reports = await Promise.all(jobs.map(spawn));
    assertClean(reports);
    assert.equal(reports[0]?.received, count * producers);
  });
});
