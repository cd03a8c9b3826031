// The worker side of test/shm/rings.test.ts: one producer or consumer of one ring per thread.
// Run directly (node --test treats every .js under test/ as a test file) it does nothing.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ByteRing, IntRing, MpscIntRing } from '../../src/index.js';

export type Job =
  | { role: 'int-produce' | 'int-consume'; buffer: SharedArrayBuffer; count: number }
  | {
      role: 'byte-produce' | 'byte-consume' | 'view-produce' | 'view-consume' | 'read-consume';
      buffer: SharedArrayBuffer;
      count: number;
      seed: number;
    }
  | { role: 'mpsc-produce'; buffer: SharedArrayBuffer; count: number; id: number }
  | { role: 'mpsc-consume'; buffer: SharedArrayBuffer; count: number; producers: number }
  | { role: 'wait-one'; buffer: SharedArrayBuffer };

/** What a worker posts back when it is done: `errors` lists the first mismatches seen. */
export interface Report {
  received: number;
  errors: string[];
}

/** xorshift32: the producer and the consumer derive the same message sizes from one seed. */
export function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Message i of a byte stream: its length comes from `next`, byte k is (i + k * 7) & 255. */
export function message(i: number, length: number): Uint8Array {
  const m = new Uint8Array(length);
  for (let k = 0; k < length; k++) m[k] = (i + k * 7) & 255;
  return m;
}

/** Sizes 0..200 mostly, sometimes near the ring's maximum, so records wrap at every offset. */
export function nextLength(next: () => number, max: number): number {
  const r = next();
  return r % 16 === 0 ? r % (max + 1) : r % 201;
}

async function run(job: Job): Promise<Report> {
  const errors: string[] = [];
  const fail = (e: string): void => {
    if (errors.length < 5) errors.push(e);
  };
  let received = 0;
  switch (job.role) {
    case 'int-produce': {
      const ring = IntRing.from(job.buffer);
      for (let i = 0; i < job.count; i++) while (!ring.tryPush(i)) await ring.waitForSpace();
      break;
    }
    case 'int-consume': {
      const ring = IntRing.from(job.buffer);
      while (received < job.count) {
        const v = ring.tryPop();
        if (v === undefined) await ring.waitForData();
        else if (v !== received++) fail(`value ${v} at position ${received - 1}`);
      }
      break;
    }
    case 'byte-produce': {
      const ring = ByteRing.from(job.buffer);
      const next = rng(job.seed);
      for (let i = 0; i < job.count; i++) {
        const m = message(i, nextLength(next, ring.maxMessage));
        while (!ring.tryPush(m)) await ring.waitForSpace(m.length);
      }
      break;
    }
    case 'byte-consume': {
      const ring = ByteRing.from(job.buffer);
      const next = rng(job.seed);
      while (received < job.count) {
        const m = ring.tryPop();
        if (m === undefined) {
          await ring.waitForData();
          continue;
        }
        const i = received++;
        const want = message(i, nextLength(next, ring.maxMessage));
        if (m.length !== want.length) fail(`message ${i}: ${m.length} bytes, want ${want.length}`);
        else if (!m.every((b, k) => b === want[k])) fail(`message ${i}: wrong bytes`);
      }
      break;
    }
    case 'view-produce': {
      // In place: reserve a little more than needed (up to maxMessage), write, commit the length.
      const ring = ByteRing.from(job.buffer);
      const next = rng(job.seed);
      for (let i = 0; i < job.count; i++) {
        const length = nextLength(next, ring.maxMessage);
        let at: number;
        while ((at = ring.tryReserve(Math.min(length + (i % 9), ring.maxMessage))) < 0) {
          await ring.waitForSpace(length);
        }
        for (let k = 0; k < length; k++) ring.bytes[at + k] = (i + k * 7) & 255;
        ring.commit(length);
      }
      break;
    }
    case 'view-consume':
    case 'read-consume': {
      const ring = ByteRing.from(job.buffer);
      const next = rng(job.seed);
      const check = (bytes: Uint8Array, at: number, length: number): void => {
        const i = received++;
        const want = nextLength(next, ring.maxMessage);
        if (length !== want) fail(`message ${i}: ${length} bytes, want ${want}`);
        for (let k = 0; k < length; k++) {
          if (bytes[at + k] !== ((i + k * 7) & 255)) {
            fail(`message ${i}: wrong byte ${k}`);
            break;
          }
        }
      };
      while (received < job.count) {
        if (job.role === 'read-consume') {
          if (!ring.tryRead(check)) await ring.waitForData();
          continue;
        }
        const at = ring.tryPeek();
        if (at < 0) {
          await ring.waitForData();
          continue;
        }
        check(ring.bytes, at, ring.peekLength);
        ring.release();
      }
      break;
    }
    case 'mpsc-produce': {
      const ring = MpscIntRing.from(job.buffer);
      for (let i = 0; i < job.count; i++) {
        const v = (job.id << 24) | i;
        while (!ring.tryPush(v)) await ring.waitForSpace();
      }
      break;
    }
    case 'mpsc-consume': {
      const ring = MpscIntRing.from(job.buffer);
      const nextOf = new Array<number>(job.producers).fill(0);
      while (received < job.count) {
        const v = ring.tryPop();
        if (v === undefined) {
          await ring.waitForData();
          continue;
        }
        received++;
        const id = v >>> 24;
        const i = v & 0xffffff;
        if (id >= job.producers) fail(`value ${v}: no producer ${id}`);
        else if (nextOf[id] !== i) fail(`producer ${id}: got ${i}, want ${nextOf[id]}`);
        else nextOf[id] = i + 1;
      }
      break;
    }
    case 'wait-one': {
      const ring = IntRing.from(job.buffer);
      const woke = await ring.waitForData();
      const v = ring.tryPop();
      if (!woke || v === undefined) fail(`woke=${woke} value=${v}`);
      else received = v;
      break;
    }
  }
  return { received, errors };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  run(workerData as Job).then(
    (report) => port.postMessage(report),
    (err: unknown) => port.postMessage({ received: -1, errors: [String(err)] }),
  );
}
