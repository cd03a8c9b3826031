import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPolyloopError, OrderedQueue, ordered, ThreadPool } from '../../src/index.js';
import { TASKS } from './pool-conformance.js';

/** A promise with its resolve/reject outside, to settle in any order. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('OrderedQueue', () => {
  it('delivers in push order when promises settle in reverse order', async () => {
    const got: string[] = [];
    const q = new OrderedQueue<string>(
      (v, seq) => got.push(`${seq}:${v}`),
      () => assert.fail('no errors here'),
    );
    const ds = [0, 1, 2, 3].map(() => deferred<string>());
    for (const d of ds) q.push(d.promise);
    assert.equal(q.pending, 4);
    ds[3]!.resolve('d');
    ds[2]!.resolve('c');
    await tick();
    assert.deepEqual(got, [], 'nothing before the head settles');
    ds[0]!.resolve('a');
    await tick();
    assert.deepEqual(got, ['0:a']);
    ds[1]!.resolve('b');
    await q.drained();
    assert.deepEqual(got, ['0:a', '1:b', '2:c', '3:d']);
    assert.equal(q.pending, 0);
  });

  it('delivers a rejection in its place and goes on', async () => {
    const got: string[] = [];
    const q = ordered<number>(
      (v) => got.push(`v${v}`),
      (e) => got.push(`e:${(e as Error).message}`),
    );
    const a = deferred<number>();
    const b = deferred<number>();
    q.push(a.promise);
    q.push(b.promise);
    q.push(3);
    b.reject(new Error('b failed'));
    a.resolve(1);
    await q.drained();
    assert.deepEqual(got, ['v1', 'e:b failed', 'v3']);
  });

  it('delivers a plain value at the head at once', () => {
    const got: number[] = [];
    const q = ordered<number>(
      (v) => got.push(v),
      () => {},
    );
    q.push(1);
    q.push(2);
    assert.deepEqual(got, [1, 2]);
  });

  it('drops what is pending after close()', async () => {
    const got: number[] = [];
    const q = ordered<number>(
      (v) => got.push(v),
      () => {},
    );
    const a = deferred<number>();
    q.push(a.promise);
    q.close();
    a.resolve(1);
    await q.drained();
    await tick();
    assert.deepEqual(got, []);
    assert.equal(q.pending, 0);
  });

  it('keeps order when a callback pushes a ready value', async () => {
    const got: number[] = [];
    const q: OrderedQueue<number> = ordered<number>(
      (v) => {
        got.push(v);
        if (v === 1) q.push(3);
      },
      () => {},
    );
    const a = deferred<number>();
    q.push(a.promise);
    q.push(2);
    a.resolve(1);
    await q.drained();
    assert.deepEqual(got, [1, 2, 3]);
  });

  it('throws PL_ERR_INVALID_ARG without callbacks', () => {
    assert.throws(
      () => new OrderedQueue(undefined as unknown as () => void, () => {}),
      (err) => isPolyloopError(err, 'PL_ERR_INVALID_ARG'),
    );
  });

  describe('with a ThreadPool', { timeout: 60_000 }, () => {
    const pool = new ThreadPool({ filename: TASKS, minThreads: 2, maxThreads: 2 });
    after(() => pool.destroy());

    it('answers in request order though later tasks finish first', async () => {
      const got: unknown[] = [];
      const finished: unknown[] = [];
      const q = ordered<unknown>(
        (v) => got.push(v),
        (e) => got.push(e),
      );
      // The first task waits until the other five are done: they complete first, for sure.
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const first = pool.run({ op: 'waitFlag', flag, value: 0 });
      void first.then((v) => finished.push(v));
      q.push(first);
      const rest = [1, 2, 3, 4, 5].map((value) => {
        const p = pool.run({ op: 'delay', ms: 1, value });
        void p.then((v) => finished.push(v));
        q.push(p);
        return p;
      });
      await Promise.all(rest);
      assert.deepEqual(got, [], 'nothing is delivered before the first');
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await q.drained();
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(finished, [1, 2, 3, 4, 5, 0], 'they completed out of order');
    });
  });
});
