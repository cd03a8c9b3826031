import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { move, ThreadPool, type ThreadPoolOptions } from '../../src/index.js';
import { fixture, poolConformance, rejectsCode, TASKS } from './pool-conformance.js';

poolConformance('ThreadPool', (o) => new ThreadPool(o));
poolConformance('ThreadPool (atomics: true)', (o) => new ThreadPool({ ...o, atomics: true }));

describe('ThreadPool', { timeout: 120_000 }, () => {
  const pools = new Set<ThreadPool>();
  after(() => Promise.all([...pools].map((p) => p.destroy())));
  const make = (o: Partial<ThreadPoolOptions> = {}): ThreadPool => {
    const p = new ThreadPool({ filename: TASKS, minThreads: 1, maxThreads: 2, ...o });
    pools.add(p);
    return p;
  };

  it('moves a 64 KiB ArrayBuffer in transferList (detached here) and back with move()', async () => {
    const pool = make();
    const buf = new ArrayBuffer(64 * 1024);
    new Uint8Array(buf).fill(1);
    const out = await pool.run(
      { op: 'echoBuffer', buf, reply: 64 * 1024 },
      { transferList: [buf] },
    );
    assert.equal(buf.byteLength, 0, 'the sent buffer is detached');
    assert.ok(out instanceof ArrayBuffer);
    assert.equal(out.byteLength, 64 * 1024);
    assert.equal(new Uint8Array(out)[100], 7);
  });

  it("moves a task wrapped in move(), or in piscina's move() markers", async () => {
    const pool = make({ filename: fixture('add'), name: 'identity' });
    const a = new Uint8Array(1024).fill(3);
    const back = (await pool.run(move(a))) as Uint8Array;
    assert.equal(a.byteLength, 0, 'detached by move()');
    assert.equal(back[10], 3);
    const b = new ArrayBuffer(2048);
    // What piscina's Piscina.move(b) returns, by its Symbol.for keys.
    const piscinaMoved = {
      [Symbol.for('Piscina.transferable')]: b,
      [Symbol.for('Piscina.valueOf')]: b,
    };
    const backB = (await pool.run(piscinaMoved)) as ArrayBuffer;
    assert.equal(b.byteLength, 0, "detached by piscina's marker");
    assert.equal(backB.byteLength, 2048);
  });

  it('fails the task of a worker that runs out of memory with PL_ERR_WORKER_CRASHED', async () => {
    const pool = make({
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    const err = await rejectsCode(pool.run({ op: 'oom' }), 'PL_ERR_WORKER_CRASHED');
    assert.match(String((err.cause as Error | undefined)?.message), /memory/i);
    assert.equal(await pool.run({ op: 'add', x: 1 }), 2);
  });

  it('works when made inside a worker thread', async () => {
    const w = new Worker(fixture('nested-pool'));
    const report = await new Promise<unknown>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`the worker exited with ${code} and no report`)));
    });
    await w.terminate();
    assert.deepEqual(report, { results: [2, 3, 4], threadsAfterClose: 0 });
  });

  it('lists its threads, never more than maxThreads', async () => {
    const pool = make({ minThreads: 0, maxThreads: 2 });
    const work = Array.from({ length: 50 }, (_, x) => pool.run({ op: 'add', x }));
    assert.ok(pool.threads.length <= 2);
    assert.ok(pool.threads.every((t) => t instanceof Worker));
    await Promise.all(work);
    assert.ok(pool.stats().started <= 2);
  });

  it('lets the process exit while its workers are idle and it was never closed', () => {
    const script = `
      import { ThreadPool } from ${JSON.stringify(new URL('../../src/index.js', import.meta.url).href)};
      const pool = new ThreadPool({ filename: ${JSON.stringify(fileURLToPath(TASKS))}, minThreads: 2 });
      console.log(await pool.run({ op: 'add', x: 1 }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '2');
  });
});
