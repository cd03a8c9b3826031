// The behaviour ThreadPool and ProcessPool share, run against each (see thread-pool.test.ts and
// process-pool.test.ts). Every pool a test makes is destroyed in `after`, pass or fail.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isPolyloopError,
  type ErrorCode,
  type PoolOptions,
  type PoolStats,
  type RunOptions,
} from '../../src/index.js';
import type { Op } from './fixtures/tasks.js';

/** What the suite needs of a pool. */
export interface TestPool {
  run(task: unknown, options?: RunOptions): Promise<unknown>;
  close(options?: { force?: boolean }): Promise<void>;
  destroy(): Promise<void>;
  stats(): PoolStats;
  readonly queueSize: number;
  readonly completed: number;
}

export const fixture = (name: string): URL => new URL(`./fixtures/${name}.js`, import.meta.url);
export const TASKS = fixture('tasks');

/** Rejects with a PolyloopError of `code`; returns it for further checks. */
export async function rejectsCode(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    assert.ok(isPolyloopError(err), `expected a PolyloopError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
  return caught as Error;
}

/** Polls `probe` until true; fails after `ms` (a hang guard, not a timing assertion). */
export async function eventually(probe: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs the shared suite for the pool made by `factory`. */
export function poolConformance(kind: string, factory: (o: PoolOptions) => TestPool): void {
  const pools = new Set<TestPool>();
  after(() => Promise.all([...pools].map((p) => p.destroy())));
  const make = (o: Partial<PoolOptions> = {}): TestPool => {
    const p = factory({ filename: TASKS, minThreads: 1, maxThreads: 2, ...o });
    pools.add(p);
    return p;
  };
  const op = (pool: TestPool, t: Op, o?: RunOptions): Promise<unknown> => pool.run(t, o);
  /** A pool whose only worker is up (a task went through), so the next task runs at once. */
  const ready = async (o: Partial<PoolOptions> = {}): Promise<TestPool> => {
    const pool = make({ minThreads: 1, maxThreads: 1, ...o });
    assert.equal(await op(pool, { op: 'add', x: 0 }), 1);
    return pool;
  };

  describe(`${kind}: shared behaviour`, { timeout: 120_000 }, () => {
    it('resolves with what the task function returned, for many tasks at once', async () => {
      const pool = make();
      const xs = Array.from({ length: 200 }, (_, i) => i);
      const out = await Promise.all(xs.map((x) => op(pool, { op: 'add', x })));
      assert.deepEqual(
        out,
        xs.map((x) => x + 1),
      );
      assert.equal(pool.completed, 200);
      assert.ok(pool.stats().threads <= 2);
    });

    it('rejects with the thrown error, keeping class, message, stack and code', async () => {
      const pool = make();
      await assert.rejects(
        op(pool, { op: 'throw', message: 'bad input', code: 'E_BAD' }),
        (err) => {
          assert.ok(err instanceof RangeError);
          assert.equal(err.message, 'bad input');
          assert.equal((err as RangeError & { code: string }).code, 'E_BAD');
          assert.deepEqual((err as RangeError & { detail: unknown }).detail, { n: 1 });
          assert.match(err.stack ?? '', /fixtures\/tasks\.js/);
          return true;
        },
      );
      await assert.rejects(op(pool, { op: 'reject', message: 'later' }), /later/);
      await assert.rejects(op(pool, { op: 'throwValue', value: 42 }), (v) => v === 42);
      // The worker survives a task error.
      assert.equal(await op(pool, { op: 'add', x: 1 }), 2);
      assert.equal(pool.stats().crashed, 0);
    });

    it('rejects a result that cannot be cloned and keeps working', async () => {
      const pool = make();
      await assert.rejects(op(pool, { op: 'unclonable' }));
      assert.equal(await op(pool, { op: 'add', x: 2 }), 3);
    });

    it('rejects a task that cannot be cloned, whether a worker was idle or not', async () => {
      const pool = await ready();
      const bad = { op: 'add', x: () => 1 } as unknown as Op;
      await assert.rejects(op(pool, bad), /could not be cloned/);
      const busy = op(pool, { op: 'delay', ms: 20, value: 'ok' });
      const queued = assert.rejects(op(pool, bad), /could not be cloned/);
      assert.equal(await busy, 'ok');
      await queued;
      assert.equal(await op(pool, { op: 'add', x: 2 }), 3);
      assert.equal(pool.stats().crashed, 0);
    });

    it('rejects with PL_ERR_QUEUE_FULL when every worker is busy and the queue is full', async () => {
      const pool = await ready({ maxQueue: 2 });
      const running = op(pool, { op: 'delay', ms: 200, value: 'a' });
      const queued = [op(pool, { op: 'add', x: 1 }), op(pool, { op: 'add', x: 2 })];
      assert.equal(pool.queueSize, 2);
      await rejectsCode(op(pool, { op: 'add', x: 3 }), 'PL_ERR_QUEUE_FULL');
      assert.deepEqual(await Promise.all([running, ...queued]), ['a', 2, 3]);
    });

    it('fails only the task of a worker that exits, and replaces the worker', async () => {
      const pool = make({ minThreads: 2, maxThreads: 2 });
      const others = Array.from({ length: 20 }, (_, x) => op(pool, { op: 'add', x }));
      const err = await rejectsCode(op(pool, { op: 'exit', code: 7 }), 'PL_ERR_WORKER_CRASHED');
      assert.equal((err as Error & { exitCode: unknown }).exitCode, 7);
      assert.equal((await Promise.all(others)).length, 20);
      assert.equal(await op(pool, { op: 'add', x: 1 }), 2);
      assert.equal(pool.stats().crashed, 1);
      await eventually(() => pool.stats().threads === 2, 'the worker was replaced');
    });

    it('fails the task of a worker killed by an uncaught error outside the task', async () => {
      const pool = make();
      const err = await rejectsCode(
        op(pool, { op: 'uncaught', message: 'stray timer' }),
        'PL_ERR_WORKER_CRASHED',
      );
      assert.match(err.message, /stray timer/);
      assert.equal(await op(pool, { op: 'add', x: 1 }), 2);
    });

    it('times out a running task with PL_ERR_TASK_TIMEOUT and replaces its worker', async () => {
      const pool = await ready();
      const started = pool.stats().started;
      await rejectsCode(op(pool, { op: 'spin' }, { timeout: 100 }), 'PL_ERR_TASK_TIMEOUT');
      assert.equal(await op(pool, { op: 'add', x: 1 }), 2);
      assert.equal(pool.stats().started, started + 1);
      assert.equal(pool.stats().crashed, 0);
    });

    it('drops a queued task that times out without touching the running one', async () => {
      const pool = await ready();
      const started = pool.stats().started;
      const running = rejectsCode(op(pool, { op: 'spin' }), 'PL_ERR_POOL_CLOSED');
      await rejectsCode(op(pool, { op: 'add', x: 1 }, { timeout: 50 }), 'PL_ERR_TASK_TIMEOUT');
      assert.equal(pool.queueSize, 0);
      assert.equal(pool.stats().busy, 1);
      assert.equal(pool.stats().started, started);
      await pool.destroy();
      await running;
    });

    it('cancels with PL_ERR_CANCELLED: before run, while queued, and while running', async () => {
      const pool = await ready();
      await rejectsCode(
        op(pool, { op: 'add', x: 1 }, { signal: AbortSignal.abort() }),
        'PL_ERR_CANCELLED',
      );
      const runningCtl = new AbortController();
      const queuedCtl = new AbortController();
      const running = op(pool, { op: 'spin' }, { signal: runningCtl.signal });
      const queued = op(pool, { op: 'add', x: 1 }, { signal: queuedCtl.signal });
      assert.equal(pool.queueSize, 1);
      queuedCtl.abort();
      await rejectsCode(queued, 'PL_ERR_CANCELLED');
      assert.equal(pool.queueSize, 0);
      runningCtl.abort();
      await rejectsCode(running, 'PL_ERR_CANCELLED');
      // The spinning worker was stopped; a fresh one takes the next task.
      assert.equal(await op(pool, { op: 'add', x: 41 }), 42);
    });

    it('retires idle workers beyond minThreads after idleTimeout', async () => {
      const pool = make({ minThreads: 1, maxThreads: 2, idleTimeout: 50 });
      await Promise.all([
        op(pool, { op: 'sleep', ms: 100, value: 1 }),
        op(pool, { op: 'sleep', ms: 100, value: 2 }),
        op(pool, { op: 'sleep', ms: 100, value: 3 }),
      ]);
      await eventually(() => pool.stats().threads === 1, 'the pool shrank to minThreads');
      assert.equal(await op(pool, { op: 'add', x: 1 }), 2);
    });

    it('close() lets queued and running tasks finish, then refuses new ones', async () => {
      const pool = make({ maxThreads: 1 });
      const tasks = [1, 2, 3].map((x) => op(pool, { op: 'delay', ms: 20, value: x }));
      const closed = pool.close();
      await rejectsCode(op(pool, { op: 'add', x: 1 }), 'PL_ERR_POOL_CLOSED');
      assert.deepEqual(await Promise.all(tasks), [1, 2, 3]);
      await closed;
      assert.equal(pool.stats().threads, 0);
    });

    it('close({ force: true }) fails queued and running tasks with PL_ERR_POOL_CLOSED', async () => {
      const pool = await ready();
      const running = rejectsCode(op(pool, { op: 'spin' }), 'PL_ERR_POOL_CLOSED');
      const queued = rejectsCode(op(pool, { op: 'add', x: 1 }), 'PL_ERR_POOL_CLOSED');
      await pool.close({ force: true });
      await Promise.all([running, queued]);
      assert.equal(pool.stats().threads, 0);
    });

    it('rejects with PL_ERR_WORKER_START when the module fails to load, without respawning on every run', async () => {
      const pool = make({ filename: fixture('broken'), minThreads: 1, maxThreads: 2 });
      const first = await rejectsCode(pool.run(1), 'PL_ERR_WORKER_START');
      assert.match(first.message, /cannot load/);
      assert.match(String((first.cause as Error).message), /cannot load/);
      const burst = Array.from({ length: 20 }, () => pool.run(1));
      for (const p of burst) await rejectsCode(p, 'PL_ERR_WORKER_START');
      // Back-off: the burst found the pool waiting after its failures, not 20 new workers.
      assert.ok(pool.stats().started <= 4, `started ${pool.stats().started} workers`);
    });

    it('rejects with PL_ERR_WORKER_START when the module has no such export', async () => {
      const pool = make({ filename: fixture('no-export') });
      const err = await rejectsCode(pool.run(1), 'PL_ERR_WORKER_START');
      assert.match(err.message, /no function export 'default'/);
    });

    it('runs a named export and hands workerData to the module', async () => {
      const named = make({ filename: fixture('add'), name: 'double' });
      assert.equal(await named.run(21), 42);
      const withData = make({ workerData: { region: 'eu', n: [1, 2] } });
      const who = (await op(withData, { op: 'whoami' })) as { workerData: unknown };
      assert.deepEqual(who.workerData, { region: 'eu', n: [1, 2] });
    });

    it('counts in stats()', async () => {
      const pool = make({ maxThreads: 1 });
      await op(pool, { op: 'add', x: 1 });
      await assert.rejects(op(pool, { op: 'throw', message: 'x' }));
      const s = pool.stats();
      assert.equal(s.completed, 1);
      assert.equal(s.failed, 1);
      assert.equal(s.queueSize, 0);
      assert.equal(s.busy, 0);
      assert.ok(s.utilization >= 0 && s.utilization <= 1);
      assert.ok(s.meanRunTime > 0);
    });

    it('throws PL_ERR_INVALID_ARG for bad options', () => {
      const bad: Partial<PoolOptions>[] = [
        { filename: 'http://example.com/x.js' },
        { minThreads: 3, maxThreads: 2 },
        { maxThreads: 0 },
        { maxQueue: -1 },
        { idleTimeout: -5 },
      ];
      for (const o of bad) {
        assert.throws(
          () => factory({ filename: TASKS, ...o }),
          (err) => isPolyloopError(err, 'PL_ERR_INVALID_ARG'),
        );
      }
      const pool = make({ minThreads: 0 });
      assert.throws(
        () => pool.run(1, { timeout: -1 }),
        (err) => isPolyloopError(err, 'PL_ERR_INVALID_ARG'),
      );
    });
  });
}
