// The worker side of test/shm/contention.test.ts: one role per thread, many threads per test.
// Run directly (node --test treats every .js under test/ as a test file) it does nothing.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { IntRing, MpscIntRing, RwLock, SharedCounters } from '../../src/index.js';

/** Words of the record the rw-lock guards: writers fill all of them with one value. */
export const RECORD_WORDS = 64;
/** Control words of the rw-lock test (an Int32Array on their own buffer). */
export const C_STOP = 0;
export const C_WRITERS_IN = 16;
export const C_READERS_IN = 32;
/** Readers that have read once: writers start only when every reader runs, so both contend. */
export const C_READERS_STARTED = 48;
/** What the `count` role adds to counter 2 per step: it carries into the high word every other step. */
export const BIG_STEP = 2 ** 31 + 1;

export type Job =
  | { role: 'relay'; from: SharedArrayBuffer | null; to: SharedArrayBuffer | null; count: number }
  | { role: 'mpsc-produce'; buffer: SharedArrayBuffer; count: number; id: number }
  | { role: 'mpsc-consume'; buffer: SharedArrayBuffer; count: number; producers: number }
  | {
      role: 'rw-writer' | 'rw-reader';
      lock: SharedArrayBuffer;
      record: SharedArrayBuffer;
      control: SharedArrayBuffer;
      /** Writers: how many writes; readers: read until the stop word is set. */
      count: number;
      id: number;
    }
  | { role: 'count'; buffer: SharedArrayBuffer; count: number; start: number };

/** What a worker posts back: how much it did, and the first mismatches it saw. */
export interface Report {
  done: number;
  errors: string[];
}

async function run(job: Job): Promise<Report> {
  const errors: string[] = [];
  const fail = (e: string): void => {
    if (errors.length < 5) errors.push(e);
  };
  let done = 0;
  switch (job.role) {
    case 'relay': {
      // A chain link: pops from `from` (or makes 0, 1, 2, ... at the head) and pushes to `to`
      // (or checks the order at the tail), parking in the rings' own waits when empty or full.
      const from = job.from === null ? undefined : IntRing.from(job.from);
      const to = job.to === null ? undefined : IntRing.from(job.to);
      for (let i = 0; i < job.count; i++) {
        let v: number | undefined = i;
        if (from !== undefined) {
          while ((v = from.tryPop()) === undefined) await from.waitForData();
          if (to === undefined && v !== i) fail(`tail: got ${v} at ${i}`);
        }
        if (to !== undefined) while (!to.tryPush(v)) await to.waitForSpace();
        done++;
      }
      break;
    }
    case 'mpsc-produce': {
      const ring = MpscIntRing.from(job.buffer);
      for (let i = 0; i < job.count; i++) {
        const v = (job.id << 24) | i;
        while (!ring.tryPush(v)) await ring.waitForSpace();
        done++;
      }
      break;
    }
    case 'mpsc-consume': {
      const ring = MpscIntRing.from(job.buffer);
      const next = new Array<number>(job.producers).fill(0);
      while (done < job.count) {
        const v = ring.tryPop();
        if (v === undefined) {
          await ring.waitForData();
          continue;
        }
        done++;
        const id = v >>> 24;
        const i = v & 0xffffff;
        if (id >= job.producers) fail(`value ${v}: no producer ${id}`);
        else if (next[id] !== i) fail(`producer ${id}: got ${i}, want ${next[id]}`);
        else next[id] = i + 1;
      }
      break;
    }
    case 'rw-writer': {
      const lock = new RwLock(job.lock);
      const record = new Int32Array(job.record);
      const control = new Int32Array(job.control);
      // A worker can take longer to start than all the writes take (a loaded machine, a slow
      // start-up): wait for both readers, or a reader might never get to read at all.
      for (let n; (n = Atomics.load(control, C_READERS_STARTED)) < 2;) {
        Atomics.wait(control, C_READERS_STARTED, n, 1000);
      }
      for (let i = 1; i <= job.count; i++) {
        lock.writeLock();
        if (Atomics.add(control, C_WRITERS_IN, 1) !== 0) fail('two writers in at once');
        if (Atomics.load(control, C_READERS_IN) !== 0) fail('a writer in with readers');
        // Plain stores, one word at a time: a reader let in now would see a mix.
        const value = job.id * 1_000_000 + i;
        for (let w = 0; w < RECORD_WORDS; w++) record[w] = value;
        Atomics.sub(control, C_WRITERS_IN, 1);
        lock.writeUnlock();
        done++;
      }
      break;
    }
    case 'rw-reader': {
      const lock = new RwLock(job.lock);
      const record = new Int32Array(job.record);
      const control = new Int32Array(job.control);
      while (Atomics.load(control, C_STOP) === 0) {
        lock.readLock();
        Atomics.add(control, C_READERS_IN, 1);
        if (Atomics.load(control, C_WRITERS_IN) !== 0) fail('a reader in with a writer');
        const first = record[0];
        for (let w = 1; w < RECORD_WORDS; w++) {
          if (record[w] !== first) {
            fail(`torn read: word 0 = ${first}, word ${w} = ${record[w]}`);
            break;
          }
        }
        Atomics.sub(control, C_READERS_IN, 1);
        lock.readUnlock();
        if (done++ === 0) {
          Atomics.add(control, C_READERS_STARTED, 1);
          Atomics.notify(control, C_READERS_STARTED);
        }
      }
      break;
    }
    case 'count': {
      const counters = SharedCounters.from(job.buffer);
      const slot = counters.claim();
      if (slot === undefined) {
        fail('no free slot');
        break;
      }
      // Counter 0 counts steps, 1 adds i % 7, 2 adds BIG_STEP: its high word changes every
      // other step, so a read mixing two updates' words would be caught (not start + k * step).
      slot.set(2, job.start);
      for (let i = 0; i < job.count; i++) {
        slot.add(0);
        slot.add(1, i % 7);
        slot.add(2, BIG_STEP);
        done++;
      }
      break;
    }
  }
  return { done, errors };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  run(workerData as Job).then(
    (report) => port.postMessage(report),
    (err: unknown) => port.postMessage({ done: -1, errors: [String(err)] }),
  );
}
