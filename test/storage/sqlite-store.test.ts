import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { isPolyloopError, SqliteStore } from '../../src/index.js';
import { storeConformance } from './store-conformance.js';

const CHILD = fileURLToPath(new URL('./sqlite-child.js', import.meta.url));
const THREAD = new URL('./sqlite-thread.js', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'polyloop-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the child script; resolves with its exit code and output (killed after 60 s). */
function child(args: string[], cwd?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CHILD, ...args], {
      cwd: cwd ?? process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      timeout: 60_000,
    });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => resolve({ code, out }));
  });
}

/** Runs the writer thread; resolves with its message, rejects if it fails (killed after 60 s). */
function thread(path: string, prefix: string, n: number): Promise<unknown> {
  const w = new Worker(THREAD, { workerData: { path, prefix, n } });
  const guard = setTimeout(() => void w.terminate(), 60_000);
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`writer thread exited with ${code}`));
    });
  });
}

describe('SqliteStore', { timeout: 180_000 }, () => {
  storeConformance(() => SqliteStore.open({ path: join(dir, 'conformance', 'store.db') }));

  it('opens in WAL mode and creates the folders of its file', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'a', 'b', 'wal.db') });
    after(() => store.close());
    const rows = await store.query<{ journal_mode: string }>('PRAGMA journal_mode');
    assert.deepEqual(rows, [{ journal_mode: 'wal' }]);
    assert.equal(store.path, join(dir, 'a', 'b', 'wal.db'));
  });

  it('defaults to data/polyloop.db under the working directory', async () => {
    const cwd = join(dir, 'cwd');
    mkdirSync(cwd);
    const r = await child(['close', 'default'], cwd);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), `done ${join(cwd, 'data', 'polyloop.db')}`);
    const store = await SqliteStore.open({ path: join(cwd, 'data', 'polyloop.db') });
    after(() => store.close());
    assert.equal(await store.get('child'), 'closed');
  });

  it('a process that never closes its store still exits when idle', async () => {
    const path = join(dir, 'open.db');
    const r = await child(['leave-open', path]);
    assert.equal(r.code, 0, r.out);
    const store = await SqliteStore.open({ path });
    after(() => store.close());
    assert.equal(await store.get('child'), 'left open');
  });

  it('several loops (threads and processes) write to one file concurrently', async () => {
    const path = join(dir, 'shared.db');
    const [s1, s2] = await Promise.all([SqliteStore.open({ path }), SqliteStore.open({ path })]);
    after(() => Promise.all([s1.close(), s2.close()]));
    const n = 300;
    const write = (s: SqliteStore, prefix: string) =>
      Promise.all(Array.from({ length: n }, (_, i) => s.set(`${prefix}${i}`, i)));
    const [c1, c2, w1] = await Promise.all([
      child(['write', path, 'p1:', String(n)]),
      child(['write', path, 'p2:', String(n)]),
      thread(path, 'w1:', n),
      write(s1, 't1:'),
      write(s2, 't2:'),
    ]);
    assert.equal(w1, 'done');
    assert.equal(c1.code, 0, c1.out);
    assert.equal(c2.code, 0, c2.out);
    for (const prefix of ['p1:', 'p2:', 'w1:', 't1:', 't2:']) {
      assert.equal((await s1.scan(prefix)).length, n, prefix);
    }
    const count = await s2.query<{ n: number }>('SELECT count(*) AS n FROM polyloop_kv');
    assert.equal(count[0]?.n, 5 * n);
  });

  it('answers many requests sent in one tick, each with its own result, in order', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'batch.db') });
    after(() => store.close());
    await Promise.all(Array.from({ length: 1000 }, (_, i) => store.set(`k${i}`, i)));
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      calls.push(store.get(`k${i}`));
      if (i % 100 === 0) calls.push(store.query('SELEKT').catch((e: unknown) => e));
    }
    const results = await Promise.all(calls);
    let expect = 0;
    for (const r of results) {
      if (isPolyloopError(r)) assert.equal(r.code, 'PL_ERR_STORE');
      else assert.equal(r, expect++);
    }
    assert.equal(expect, 1000);
    assert.equal(store.inFlight, 0);
  });

  it('returns BLOBs as bytes and takes booleans and bigints as parameters', async () => {
    const store = await SqliteStore.open({ path: ':memory:' });
    after(() => store.close());
    const [row] = await store.query<{ b: Uint8Array; t: number; big: number }>(
      'SELECT ? AS b, ? AS t, ? AS big',
      [new Uint8Array([1, 2, 3]), true, 2n ** 40n],
    );
    assert.deepEqual([...row!.b], [1, 2, 3]);
    assert.equal(row!.t, 1);
    assert.equal(row!.big, 2 ** 40);
  });

  it('rejects open with PL_ERR_STORE_UNAVAILABLE when the file cannot be opened', async () => {
    const blocker = join(dir, 'not-a-dir');
    mkdirSync(join(blocker, 'db.sqlite'), { recursive: true }); // a folder where the file should be
    await assert.rejects(SqliteStore.open({ path: join(blocker, 'db.sqlite') }), (e) =>
      isPolyloopError(e, 'PL_ERR_STORE_UNAVAILABLE'),
    );
  });

  it('a thread that dies fails its calls as unavailable, and a new one takes over', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'crash.db') });
    after(() => store.close());
    await store.set('before', 1);
    const inFlight = Array.from({ length: 20 }, (_, i) => store.set(`lost${i}`, i));
    const { worker } = store as unknown as { worker: Worker };
    await worker.terminate();
    for (const r of await Promise.allSettled(inFlight)) {
      if (r.status === 'rejected')
        assert.ok(isPolyloopError(r.reason, 'PL_ERR_STORE_UNAVAILABLE'), String(r.reason));
    }
    const start = Date.now();
    for (;;) {
      try {
        assert.equal(await store.get('before'), 1);
        break;
      } catch (err) {
        assert.ok(isPolyloopError(err, 'PL_ERR_STORE_UNAVAILABLE'), String(err));
        if (Date.now() - start > 20_000) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await store.set('after', 2);
    assert.equal(await store.get('after'), 2);
  });

  it('close answers what was already asked, then ends its thread', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'close.db') });
    const writes = Array.from({ length: 50 }, (_, i) => store.set(`c${i}`, i));
    const closing = store.close();
    await Promise.all(writes);
    await closing;
    await assert.rejects(store.get('c1'), (e) => isPolyloopError(e, 'PL_ERR_STORE_UNAVAILABLE'));
    const again = await SqliteStore.open({ path: join(dir, 'close.db') });
    after(() => again.close());
    assert.equal((await again.scan('c')).length, 50);
  });
});
