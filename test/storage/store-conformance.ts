// One suite for every Store: run inside a describe() by sqlite-, postgres- and redis-store tests.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { isPolyloopError, type PolyloopError, type Store } from '../../src/index.js';
import { delay } from '../helpers.js';

export interface ConformanceHooks {
  /** Stops the database server (network stores only). */
  stopServer?(): Promise<void>;
  /** Starts it again on the same address. */
  startServer?(): Promise<void>;
}

/** Strings that would break out of a naively built SQL statement, a glob or a LIKE pattern. */
export const HOSTILE = [
  "'); DROP TABLE polyloop_kv; --",
  "' OR '1'='1",
  'Robert"); DELETE FROM polyloop_kv WHERE ("1"="1',
  "\\'; SELECT pg_sleep(10); --",
  '%_*?[a-z]\\',
  '$1 ? :name @p',
  'line\nbreak\ttab\u0001ctl',
  'ünïcödé ✓ 𝄞',
];

const isCode = (code: string) => (e: unknown) => isPolyloopError(e) && e.code === code;

/** Polls `check` until it resolves true; rejects after `limit` ms (a hang guard, not timing). */
async function until(check: () => Promise<boolean>, limit: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limit) throw new Error(`timed out waiting for ${what}`);
    await delay(25);
  }
}

/** Registers the conformance tests; `open` is called once, before them. */
export function storeConformance(open: () => Promise<Store>, hooks: ConformanceHooks = {}): void {
  let store: Store;
  // Every test writes under its own prefix, so scans see only their own keys.
  let seq = 0;
  const ns = (): string => `t${process.pid}-${seq++}:`;

  before(async () => {
    store = await open();
  });
  after(() => store?.close());

  it('get returns undefined for a missing key and what set stored otherwise', async () => {
    const p = ns();
    assert.equal(await store.get(`${p}missing`), undefined);
    const values = [
      'text',
      0,
      -1.5,
      true,
      false,
      null,
      [1, 'two', [3]],
      { nested: { a: [null, { b: 'c' }] } },
    ];
    for (const [i, v] of values.entries()) await store.set(`${p}${i}`, v);
    for (const [i, v] of values.entries()) assert.deepEqual(await store.get(`${p}${i}`), v);
  });

  it('set replaces a value, and delete removes it once', async () => {
    const k = `${ns()}k`;
    await store.set(k, 1);
    await store.set(k, { two: 2 });
    assert.deepEqual(await store.get(k), { two: 2 });
    assert.equal(await store.delete(k), true);
    assert.equal(await store.delete(k), false);
    assert.equal(await store.get(k), undefined);
  });

  it('keys and values that look like SQL, globs or patterns are stored verbatim', async () => {
    const p = ns();
    for (const [i, s] of HOSTILE.entries()) await store.set(`${p}${s}`, { s, i });
    for (const [i, s] of HOSTILE.entries())
      assert.deepEqual(await store.get(`${p}${s}`), { s, i }, JSON.stringify(s));
    const scanned = await store.scan(p);
    assert.deepEqual(scanned.map((e) => e.key).sort(), HOSTILE.map((s) => `${p}${s}`).sort());
    // A prefix with pattern characters matches only itself, not as a wildcard.
    const wild = await store.scan(`${p}%`);
    assert.deepEqual(
      wild.map((e) => e.key),
      [`${p}%_*?[a-z]\\`],
    );
    assert.deepEqual(await store.scan(`${p}*`), []);
    assert.deepEqual(await store.scan(`${p}_`), []);
  });

  it('scan returns live keys with the prefix, in key order, up to limit', async () => {
    const p = ns();
    const keys = [
      'user:1',
      'user:10',
      'user:2',
      'user:',
      'users',
      'usr:1',
      'user;',
      'user:ö',
      'user:𝄞',
    ];
    for (const k of keys) await store.set(`${p}${k}`, k);
    const got = await store.scan(`${p}user:`);
    // Byte order of UTF-8: ö (U+00F6) before 𝄞 (U+1D11E), both after ASCII.
    assert.deepEqual(
      got.map((e) => e.key),
      ['user:', 'user:1', 'user:10', 'user:2', 'user:ö', 'user:𝄞'].map((k) => `${p}${k}`),
    );
    assert.deepEqual(
      got.map((e) => e.value),
      ['user:', 'user:1', 'user:10', 'user:2', 'user:ö', 'user:𝄞'],
    );
    const limited = await store.scan(`${p}user:`, { limit: 2 });
    assert.deepEqual(
      limited.map((e) => e.key),
      [`${p}user:`, `${p}user:1`],
    );
    assert.equal((await store.scan(p)).length, keys.length);
    assert.deepEqual(await store.scan(`${p}nothing`), []);
  });

  it('a key written with ttlMs expires, and others stay', async () => {
    const p = ns();
    await store.set(`${p}short`, 'gone soon', { ttlMs: 100 });
    await store.set(`${p}long`, 'stays', { ttlMs: 3_600_000 });
    await store.set(`${p}forever`, 'stays');
    await until(
      async () => (await store.get(`${p}short`)) === undefined,
      20_000,
      'the short key to expire',
    );
    assert.equal(await store.get(`${p}long`), 'stays');
    assert.deepEqual(
      (await store.scan(p)).map((e) => e.key),
      [`${p}forever`, `${p}long`],
    );
    assert.equal(await store.delete(`${p}short`), false, 'an expired key is not live');
    // Setting it again without a TTL makes it permanent.
    await store.set(`${p}short`, 'back');
    assert.equal(await store.get(`${p}short`), 'back');
  });

  it('concurrent writes all land, and the last write to a key is one of those written', async () => {
    const p = ns();
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.set(`${p}k${i}`, i)));
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.set(`${p}same`, i)));
    const all = await store.scan(`${p}k`);
    assert.equal(all.length, 200);
    assert.deepEqual(
      all.map((e) => e.value).sort((a, b) => (a as number) - (b as number)),
      Array.from({ length: 200 }, (_, i) => i),
    );
    const last = await store.get<number>(`${p}same`);
    assert.ok(typeof last === 'number' && last >= 0 && last < 50, String(last));
    const reads = await Promise.all(Array.from({ length: 200 }, (_, i) => store.get(`${p}k${i}`)));
    assert.deepEqual(
      reads,
      Array.from({ length: 200 }, (_, i) => i),
    );
  });

  it('rejects bad arguments with PL_ERR_INVALID_ARG', async () => {
    const bad = isCode('PL_ERR_INVALID_ARG');
    const s = store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    await assert.rejects(s['get']!.call(store, 42), bad);
    await assert.rejects(s['get']!.call(store, ''), bad);
    await assert.rejects(s['set']!.call(store, 'k', undefined), bad);
    await assert.rejects(
      s['set']!.call(store, 'k', () => 1),
      bad,
    );
    await assert.rejects(s['set']!.call(store, 'k', 1, { ttlMs: -5 }), bad);
    await assert.rejects(s['set']!.call(store, 'k', 1, { ttlMs: 1.5 }), bad);
    await assert.rejects(s['scan']!.call(store, 'k', { limit: 0 }), bad);
    await assert.rejects(s['scan']!.call(store, 7), bad);
  });

  it('health reports ok', async () => {
    const h = await store.health();
    assert.equal(h.ok, true, h.error?.message);
    assert.ok(typeof h.latencyMs === 'number' && h.latencyMs >= 0);
  });

  it('SQL runs with parameters only: hostile strings round-trip verbatim', async (t) => {
    if (!store.sql) {
      await assert.rejects(store.query('SELECT 1'), isCode('PL_ERR_STORE'));
      await assert.rejects(store.exec('SELECT 1'), isCode('PL_ERR_STORE'));
      t.skip(`${store.kind} runs no SQL`);
      return;
    }
    const q = dialect(store.kind);
    await store.exec(q.create);
    const inserted = await Promise.all(HOSTILE.map((s, i) => store.exec(q.insert, [i, s])));
    assert.ok(inserted.every((r) => r.changes === 1));
    const rows = await store.query<{ id: number; body: string }>(q.selectAll);
    assert.deepEqual(
      rows.map((r) => r.body),
      HOSTILE,
    );
    for (const s of HOSTILE) {
      const found = await store.query<{ id: number }>(q.selectBody, [s]);
      assert.equal(found.length, 1, JSON.stringify(s));
    }
    const echo = await store.query<{ v: string }>(q.echo, [HOSTILE[0]!]);
    assert.equal(echo[0]?.v, HOSTILE[0]);
    // The kv table survived the strings that tried to drop it.
    await store.set(`${ns()}alive`, true);
    const del = await store.exec(q.deleteAll);
    assert.equal(del.changes, HOSTILE.length);
  });

  it('SQL errors are PL_ERR_STORE with the driver error as cause; params must be an array', async (t) => {
    if (!store.sql) {
      t.skip(`${store.kind} runs no SQL`);
      return;
    }
    await assert.rejects(store.query('SELEKT nothing'), (e: PolyloopError) => {
      assert.equal(e.code, 'PL_ERR_STORE');
      assert.ok(e.cause instanceof Error);
      return true;
    });
    const bad = isCode('PL_ERR_INVALID_ARG');
    const loose = store as unknown as { query(sql: string, p: unknown): Promise<unknown> };
    await assert.rejects(loose.query('SELECT 1', 'not an array'), bad);
    await assert.rejects(loose.query('SELECT 1', { 0: 'x' }), bad);
    await assert.rejects(loose.query('SELECT 1', [{ toString: () => '1' }]), bad);
    await assert.rejects(loose.query('SELECT 1', [undefined]), bad);
    // The store still works after failed calls.
    assert.equal((await store.query(dialect(store.kind).echo, ['ok']))[0]?.['v'], 'ok');
  });

  it('concurrent SQL writes all land', async (t) => {
    if (!store.sql) {
      t.skip(`${store.kind} runs no SQL`);
      return;
    }
    const q = dialect(store.kind);
    await store.exec(q.createConc);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => store.exec(q.insertConc, [i, `r${i}`])),
    );
    const rows = await store.query<{ n: number | string }>(q.countConc);
    assert.equal(Number(rows[0]?.n), 100);
  });

  it(
    'rejects with PL_ERR_STORE_UNAVAILABLE while the server is down, and works again once it is back',
    { skip: hooks.stopServer === undefined ? 'no server to stop' : false },
    async () => {
      const p = ns();
      await store.set(`${p}before`, 1);
      await hooks.stopServer!();
      await assert.rejects(store.get(`${p}before`), isCode('PL_ERR_STORE_UNAVAILABLE'));
      await assert.rejects(store.set(`${p}during`, 1), isCode('PL_ERR_STORE_UNAVAILABLE'));
      const h = await store.health();
      assert.equal(h.ok, false);
      assert.equal(h.error?.code, 'PL_ERR_STORE_UNAVAILABLE');
      await hooks.startServer!();
      await until(
        () =>
          store.set(`${p}after`, 'back').then(
            () => true,
            () => false,
          ),
        30_000,
        'the store to work again',
      );
      assert.equal(await store.get(`${p}after`), 'back');
      assert.equal((await store.health()).ok, true);
    },
  );

  it('after close, calls reject with PL_ERR_STORE_UNAVAILABLE', async () => {
    const other = await open();
    await other.set(`${ns()}x`, 1);
    await other.close();
    await other.close(); // twice is fine
    await assert.rejects(other.get('x'), isCode('PL_ERR_STORE_UNAVAILABLE'));
  });
}

interface Dialect {
  create: string;
  insert: string;
  selectAll: string;
  selectBody: string;
  deleteAll: string;
  createConc: string;
  insertConc: string;
  countConc: string;
  echo: string;
}

// Whole statements, values only as parameters. Each database has its own placeholders.
const POSTGRES: Dialect = {
  create: 'CREATE TABLE conf_rows (id integer PRIMARY KEY, body text NOT NULL)',
  insert: 'INSERT INTO conf_rows (id, body) VALUES ($1, $2)',
  selectAll: 'SELECT id, body FROM conf_rows ORDER BY id',
  selectBody: 'SELECT id FROM conf_rows WHERE body = $1',
  deleteAll: 'DELETE FROM conf_rows',
  createConc: 'CREATE TABLE conf_conc (id integer PRIMARY KEY, body text NOT NULL)',
  insertConc: 'INSERT INTO conf_conc (id, body) VALUES ($1, $2)',
  countConc: 'SELECT count(*) AS n FROM conf_conc',
  echo: 'SELECT $1::text AS v',
};

const SQLITE: Dialect = {
  create: 'CREATE TABLE conf_rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)',
  insert: 'INSERT INTO conf_rows (id, body) VALUES (?, ?)',
  selectAll: 'SELECT id, body FROM conf_rows ORDER BY id',
  selectBody: 'SELECT id FROM conf_rows WHERE body = ?',
  deleteAll: 'DELETE FROM conf_rows',
  createConc: 'CREATE TABLE conf_conc (id INTEGER PRIMARY KEY, body TEXT NOT NULL)',
  insertConc: 'INSERT INTO conf_conc (id, body) VALUES (?, ?)',
  countConc: 'SELECT count(*) AS n FROM conf_conc',
  echo: 'SELECT ? AS v',
};

function dialect(kind: string): Dialect {
  return kind === 'postgres' ? POSTGRES : SQLITE;
}
