// A database that goes away: requests that need it get 503 with a clear error, /healthz and the
// static files keep answering, and the site recovers by itself once the database is back.
// PostgreSQL and Redis are real servers stopped and started again; SQLite, which cannot be
// "down" as a file, is a store made to fail under the same handlers.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  createError,
  SqliteStore,
  TcpServer,
  type Logger,
  type SqlParam,
  type Store,
  type StoreValue,
} from '../../../src/index.js';
import runHashTask from '../../../examples/site/hash-task.js';
import { createSite } from '../../../examples/site/site.js';
import {
  findPostgres,
  findRedis,
  startPostgres,
  startRedis,
  type DbServer,
} from '../../storage/servers.js';
import { Client, errorOf, startSite, type Site } from './support.js';

const PUBLIC = fileURLToPath(new URL('../../../../public', import.meta.url));

/** Polls /api/health until it answers 200 (the hang guard is generous; no timing is asserted). */
async function healthy(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(`${url}/api/health`).catch(() => undefined);
    if (r?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url}/api/health not 200 within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** While the store is down: 503 on storage routes, everything else still answers. */
async function checkDown(url: string, c: Client, kind: string): Promise<void> {
  for (const r of [
    await c.post('while down'),
    await c.call('GET', '/api/messages'),
    await c.call('GET', '/api/me'),
    await new Client(url).login('erin', 'password123'),
    await new Client(url).register('frank', 'password123'),
  ]) {
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.match(
      errorOf(r),
      new RegExp(`storage unavailable: the ${kind} database cannot be reached`),
    );
    assert.equal(r.headers.get('retry-after'), '1');
  }
  const health = await fetch(`${url}/api/health`);
  assert.equal(health.status, 503);
  assert.deepEqual(await health.json(), { store: kind, ok: false, error: 'storage unavailable' });
  // Input that is wrong is still refused as such: validation comes before the store.
  assert.equal((await new Client(url).register('x', 'short')).status, 400);
  const live = await fetch(`${url}/healthz`);
  assert.equal(live.status, 200);
  assert.equal(await live.text(), 'ok');
  const page = await fetch(`${url}/board.html`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Message board/);
}

/** The same story against a real server that is stopped and started again. */
function networkStore(
  kind: 'postgres' | 'redis',
  find: () => unknown,
  start: () => Promise<DbServer>,
  /** Command-line arguments and environment that point the site at `db`. */
  args: (db: DbServer) => [string[], NodeJS.ProcessEnv],
  persistent: boolean,
): void {
  describe(
    `polyloop site --store ${kind}: the database goes down and comes back`,
    { timeout: 240_000 },
    () => {
      const found = find();
      if (typeof found === 'string') {
        // Locally a missing server skips; in CI it must be installed.
        if (process.env['CI']) it(`has a ${kind} server to test against`, () => assert.fail(found));
        else it(`needs a ${kind} server`, { skip: found }, () => {});
        return;
      }
      let db: DbServer | undefined;
      let site: Site;
      before(async () => {
        db = await start();
        const [flags, env] = args(db);
        site = await startSite(['--loops', '2', ...flags], env);
      });
      after(async () => {
        await site?.stop('SIGKILL');
        await db?.dispose();
      });

      it('answers 503 while it is down, keeps serving the rest, and recovers', async () => {
        await healthy(site.url);
        const c = new Client(site.url);
        assert.equal((await c.register('erin', 'password123')).status, 201);
        assert.equal((await c.login('erin', 'password123')).status, 200);
        assert.equal((await c.post('before the outage')).status, 201);

        await db!.stop();
        await checkDown(site.url, c, kind);

        await db!.start();
        await healthy(site.url);
        if (!persistent) {
          // A Redis without persistence comes back empty: the session is gone, and that is a 401.
          assert.equal((await c.post('after')).status, 401);
          assert.equal((await c.register('erin', 'password123')).status, 201);
          assert.equal((await c.login('erin', 'password123')).status, 200);
        }
        const r = await c.post('after the outage');
        assert.equal(r.status, 201, JSON.stringify(r.body));
        const texts = (await c.messages()).map((m) => m.text);
        assert.deepEqual(
          texts,
          persistent ? ['after the outage', 'before the outage'] : ['after the outage'],
        );
        assert.equal(await site.stop('SIGTERM'), 0);
      });

      it('exits 0 on SIGTERM with one loop on the main thread and its connections open', async () => {
        const [flags, env] = args(db!);
        const one = await startSite(['--loops', '1', ...flags], env);
        assert.match(one.stdout(), /model: reactor, 1 loop/);
        const c = new Client(one.url);
        assert.equal((await c.register('one_loop', 'password123')).status, 201);
        assert.equal((await c.login('one_loop', 'password123')).status, 200);
        assert.equal(await one.stop('SIGTERM'), 0);
      });
    },
  );
}

networkStore(
  'postgres',
  findPostgres,
  () => {
    const b = findPostgres();
    if (typeof b === 'string') throw new Error(b);
    return startPostgres(b);
  },
  (db) => [
    ['--store', 'postgres', '--pg-url', `postgres://postgres@${db.host}:${db.port}/postgres`],
    process.env,
  ],
  true,
);

networkStore(
  'redis',
  findRedis,
  () => {
    const r = findRedis();
    if (typeof r === 'string') throw new Error(r);
    return startRedis(r.bin);
  },
  // The URL from the environment, as a deployment would give it.
  (db) => [
    ['--store', 'redis'],
    { ...process.env, POLYLOOP_REDIS_URL: `redis://${db.host}:${db.port}` },
  ],
  false,
);

/** A store that fails every call with PL_ERR_STORE_UNAVAILABLE while `down` is set. */
class Outage implements Store {
  readonly kind: string;
  readonly sql: boolean;
  down = false;

  constructor(private readonly inner: Store) {
    this.kind = inner.kind;
    this.sql = inner.sql;
  }

  private gate<T>(call: () => Promise<T>): Promise<T> {
    if (this.down)
      return Promise.reject(
        createError('PL_ERR_STORE_UNAVAILABLE', `${this.kind}: disk went away`),
      );
    return call();
  }

  get<V = StoreValue>(key: string): Promise<V | undefined> {
    return this.gate(() => this.inner.get<V>(key));
  }
  set(key: string, value: unknown, options?: { ttlMs?: number }): Promise<void> {
    return this.gate(() => this.inner.set(key, value, options));
  }
  delete(key: string): Promise<boolean> {
    return this.gate(() => this.inner.delete(key));
  }
  scan<V = StoreValue>(prefix: string, options?: { limit?: number }) {
    return this.gate(() => this.inner.scan<V>(prefix, options));
  }
  query<Row extends object = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]) {
    return this.gate(() => this.inner.query<Row>(sql, params));
  }
  exec(sql: string, params?: readonly SqlParam[]) {
    return this.gate(() => this.inner.exec(sql, params));
  }
  async health() {
    if (this.down)
      return { ok: false, error: createError('PL_ERR_STORE_UNAVAILABLE', 'disk went away') };
    return this.inner.health();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('the site on a SQLite store that fails', { timeout: 120_000 }, () => {
  it('answers 503 while the store fails, logs it once, and recovers when it works again', async () => {
    const store = new Outage(await SqliteStore.open({ path: ':memory:' }));
    const warnings: string[] = [];
    const logger: Logger = {
      error: (_o, msg) => warnings.push(`error: ${msg}`),
      warn: (_o, msg) => warnings.push(`warn: ${msg}`),
      info: () => {},
      debug: () => {},
    };
    const app = createSite({
      store,
      hash: (task) => Promise.resolve(runHashTask(task)),
      publicDir: PUBLIC,
      logger,
    });
    const server = new TcpServer(app, { host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    after(async () => {
      await server.close();
      await store.close();
    });
    const url = `http://127.0.0.1:${port}`;
    const c = new Client(url);
    assert.equal((await c.register('erin', 'password123')).status, 201);
    assert.equal((await c.login('erin', 'password123')).status, 200);
    assert.equal((await c.post('before')).status, 201);

    store.down = true;
    await checkDown(url, c, 'sqlite');
    assert.deepEqual(warnings, ['warn: sqlite store unavailable: answering 503']);

    store.down = false;
    assert.equal((await c.post('after')).status, 201);
    assert.deepEqual(
      (await c.messages()).map((m) => m.text),
      ['after', 'before'],
    );
  });
});
