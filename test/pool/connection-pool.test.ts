import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  ConnectionPool,
  type ConnectionPoolOptions,
  isPolyloopError,
  type Logger,
} from '../../src/index.js';
import { delay, waitFor } from '../helpers.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

interface Res {
  id: number;
  ok: boolean;
  destroyed: boolean;
}

/** A pool of counters whose create/destroy calls are recorded; closed after the test. */
function makePool(options: Partial<ConnectionPoolOptions<Res>> = {}) {
  let next = 1;
  const created: Res[] = [];
  const destroyed: Res[] = [];
  const pool = new ConnectionPool<Res>({
    create: () => {
      const r = { id: next++, ok: true, destroyed: false };
      created.push(r);
      return Promise.resolve(r);
    },
    destroy: (r) => {
      r.destroyed = true;
      destroyed.push(r);
    },
    max: 2,
    acquireTimeout: 10_000,
    logger: quiet,
    ...options,
  });
  after(() => pool.close());
  return { pool, created, destroyed };
}

function settledOrder<T>(promises: Promise<T>[]): { order: number[]; all: Promise<T[]> } {
  const order: number[] = [];
  const all = Promise.all(
    promises.map((p, i) =>
      p.then((v) => {
        order.push(i);
        return v;
      }),
    ),
  );
  return { order, all };
}

describe('ConnectionPool', () => {
  it('opens resources on demand and reuses released ones', async () => {
    const { pool, created } = makePool();
    const a = await pool.acquire();
    pool.release(a);
    const b = await pool.acquire();
    assert.equal(b, a);
    assert.equal(created.length, 1);
    pool.release(b);
    assert.deepEqual(
      { size: pool.stats().size, idle: pool.stats().idle, acquired: pool.stats().acquired },
      { size: 1, idle: 1, acquired: 2 },
    );
  });

  it('never opens more than max, and waiters get released resources', async () => {
    const { pool, created } = makePool({ max: 3 });
    let peak = 0;
    const jobs = Array.from({ length: 12 }, (_, i) =>
      pool.use(async (r) => {
        peak = Math.max(peak, pool.stats().borrowed);
        await delay(5);
        return `${i}:${r.id}`;
      }),
    );
    const results = await Promise.all(jobs);
    assert.equal(results.length, 12);
    assert.equal(created.length, 3);
    assert.ok(peak <= 3, `peak ${peak}`);
    assert.equal(pool.stats().size, 3);
  });

  it('serves waiters first come, first served, and a late acquire does not jump the queue', async () => {
    const { pool } = makePool({ max: 1 });
    const held = await pool.acquire();
    const waiters = [pool.acquire(), pool.acquire(), pool.acquire()];
    const { order, all } = settledOrder(waiters);
    assert.equal(pool.stats().waiting, 3);
    pool.release(held);
    const first = await waiters[0]!;
    const late = pool.acquire(); // queued behind waiters 1 and 2
    pool.release(first);
    pool.release(await waiters[1]!);
    pool.release(await waiters[2]!);
    const last = await late;
    assert.deepEqual(order, [0, 1, 2]);
    pool.release(last);
    await all;
  });

  it('rejects with PL_ERR_ACQUIRE_TIMEOUT when nothing is freed in time, and keeps working', async () => {
    const { pool } = makePool({ max: 1, acquireTimeout: 50 });
    const held = await pool.acquire();
    await assert.rejects(pool.acquire(), (e) => isPolyloopError(e, 'PL_ERR_ACQUIRE_TIMEOUT'));
    assert.equal(pool.stats().timeouts, 1);
    assert.equal(pool.stats().waiting, 0);
    pool.release(held);
    const again = await pool.acquire();
    assert.equal(again, held);
    pool.release(again);
  });

  it('hands a failed create to the waiter and stays usable', async () => {
    let fail = 1;
    const { pool } = makePool({
      create: () => (fail-- > 0 ? Promise.reject(new Error('refused')) : Promise.resolve(res(7))),
    });
    await assert.rejects(pool.acquire(), /refused/);
    assert.deepEqual([pool.stats().size, pool.stats().createErrors], [0, 1]);
    const r = await pool.acquire();
    assert.equal(r.id, 7);
    pool.release(r);
  });

  it('rejects every waiter when create keeps failing, without wedging', async () => {
    let calls = 0;
    const { pool } = makePool({
      max: 2,
      create: () => {
        calls++;
        return Promise.reject(new Error('down'));
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => pool.acquire()));
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.equal(calls, 5);
    assert.deepEqual([pool.stats().size, pool.stats().waiting], [0, 0]);
  });

  it('a create that throws synchronously rejects the waiter', async () => {
    const { pool } = makePool({
      create: () => {
        throw new Error('sync boom');
      },
    });
    await assert.rejects(pool.acquire(), /sync boom/);
    assert.equal(pool.stats().size, 0);
  });

  it('destroys idle resources that fail validate and opens fresh ones', async () => {
    const { pool, created, destroyed } = makePool({ validate: (r) => r.ok });
    const a = await pool.acquire();
    pool.release(a);
    a.ok = false;
    const b = await pool.acquire();
    assert.notEqual(b, a);
    assert.deepEqual(destroyed, [a]);
    assert.equal(created.length, 2);
    assert.equal(pool.stats().invalid, 1);
    pool.release(b);
  });

  it('supports an asynchronous validate, including one that throws', async () => {
    const { pool, destroyed } = makePool({
      validate: async (r) => {
        await delay(1);
        if (r.id === 1) throw new Error('ping failed');
        return r.ok;
      },
    });
    const a = await pool.acquire();
    pool.release(a);
    const b = await pool.acquire();
    assert.equal(b.id, 2);
    assert.deepEqual(destroyed, [a]);
    pool.release(b);
    const c = await pool.acquire();
    assert.equal(c, b);
    pool.release(c);
  });

  it('evicts idle resources after idleTimeout down to min', async () => {
    const { pool, destroyed } = makePool({ min: 1, max: 4, idleTimeout: 30 });
    const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const r of held) pool.release(r);
    await waitFor(() => pool.stats().size === 1, 10_000, 'eviction to min');
    assert.equal(destroyed.length, 2);
    await delay(100);
    assert.equal(pool.stats().size, 1, 'never below min');
  });

  it('fills up to min in the background and retries a failing create with back-off', async () => {
    let failures = 2;
    const { pool } = makePool({
      min: 2,
      max: 3,
      create: () =>
        failures-- > 0 ? Promise.reject(new Error('not yet')) : Promise.resolve(res(1)),
    });
    await waitFor(() => pool.stats().idle === 2, 10_000, 'refill to min');
    assert.equal(pool.stats().createErrors, 2);
  });

  it('the health check destroys idle resources that became invalid', async () => {
    const { pool, destroyed } = makePool({ validate: (r) => r.ok, healthCheckInterval: 20 });
    const a = await pool.acquire();
    pool.release(a);
    a.ok = false;
    await waitFor(() => destroyed.length === 1, 10_000, 'health check');
    assert.equal(pool.stats().size, 0);
  });

  it('the health check keeps the idle age, so eviction still happens', async () => {
    const { pool, destroyed } = makePool({
      validate: (r) => r.ok,
      healthCheckInterval: 10,
      idleTimeout: 60,
    });
    const a = await pool.acquire();
    pool.release(a);
    await waitFor(() => destroyed.length === 1, 10_000, 'eviction despite health checks');
    assert.deepEqual(destroyed, [a]);
    assert.equal(pool.stats().invalid, 0);
  });

  it('use() releases on success and destroys on a throw', async () => {
    const { pool, destroyed } = makePool();
    const id = await pool.use((r) => r.id);
    assert.equal(id, 1);
    assert.equal(pool.stats().idle, 1);
    await assert.rejects(
      pool.use(() => Promise.reject(new Error('mid-conversation'))),
      /mid-conversation/,
    );
    assert.equal(destroyed.length, 1);
    assert.equal(pool.stats().size, 0);
  });

  it('destroy() opens a replacement for a waiter', async () => {
    const { pool, created } = makePool({ max: 1 });
    const a = await pool.acquire();
    const waiting = pool.acquire();
    await pool.destroy(a);
    const b = await waiting;
    assert.notEqual(b, a);
    assert.equal(created.length, 2);
    pool.release(b);
  });

  it('a double release or a foreign resource throws PL_ERR_INVALID_ARG', async () => {
    const { pool } = makePool();
    const a = await pool.acquire();
    pool.release(a);
    assert.throws(
      () => pool.release(a),
      (e) => isPolyloopError(e, 'PL_ERR_INVALID_ARG'),
    );
    assert.throws(
      () => pool.release(res(99)),
      (e) => isPolyloopError(e, 'PL_ERR_INVALID_ARG'),
    );
  });

  it('close() rejects queued waiters and later acquires with PL_ERR_POOL_CLOSED', async () => {
    const { pool, destroyed } = makePool({ max: 1 });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    await pool.close();
    await assert.rejects(waiting, (e) => isPolyloopError(e, 'PL_ERR_POOL_CLOSED'));
    await assert.rejects(pool.acquire(), (e) => isPolyloopError(e, 'PL_ERR_POOL_CLOSED'));
    assert.equal(destroyed.length, 0, 'borrowed resources are not torn from their borrower');
    pool.release(held);
    await waitFor(() => destroyed.length === 1, 10_000, 'destroy on release');
  });

  it('drain() serves queued waiters, waits for borrowers, then destroys everything', async () => {
    const { pool, destroyed } = makePool({ max: 1 });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    let drained = false;
    const draining = pool.drain().then(() => (drained = true));
    await assert.rejects(pool.acquire(), (e) => isPolyloopError(e, 'PL_ERR_POOL_CLOSED'));
    pool.release(held);
    const next = await waiting;
    assert.equal(next, held);
    await delay(20);
    assert.equal(drained, false);
    pool.release(next);
    await draining;
    assert.deepEqual(destroyed, [held]);
    assert.equal(pool.stats().size, 0);
  });

  it('rejects bad options with PL_ERR_INVALID_ARG', () => {
    const base = { create: () => Promise.resolve(1), destroy: () => {} };
    for (const bad of [{ max: 0 }, { min: 3, max: 2 }, { acquireTimeout: -1 }, { max: 1.5 }]) {
      assert.throws(
        () => new ConnectionPool({ ...base, ...bad }),
        (e) => isPolyloopError(e, 'PL_ERR_INVALID_ARG'),
        JSON.stringify(bad),
      );
    }
  });
});

function res(id: number): Res {
  return { id, ok: true, destroyed: false };
}
