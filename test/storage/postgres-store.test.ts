import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isPolyloopError, PostgresStore } from '../../src/index.js';
import { findPostgres, freePort, startPostgres, type DbServer } from './servers.js';
import { storeConformance } from './store-conformance.js';

const bins = findPostgres();

describe('PostgresStore', { timeout: 300_000 }, () => {
  if (typeof bins === 'string') {
    // Locally a missing server skips; in CI it must be installed, so its absence fails.
    if (process.env['CI']) it('has a PostgreSQL server to test against', () => assert.fail(bins));
    else it('needs a PostgreSQL server', { skip: bins }, () => {});
    return;
  }
  let server: DbServer | undefined;
  before(async () => {
    server = await startPostgres(bins);
  });
  after(() => server?.dispose());

  const open = () =>
    PostgresStore.open({
      host: server!.host,
      port: server!.port,
      user: 'postgres',
      database: 'postgres',
      pool: { max: 4, acquireTimeout: 10_000 },
    });

  storeConformance(open, {
    stopServer: () => server!.stop(),
    startServer: () => server!.start(),
  });

  it('reports PL_ERR_STORE_UNAVAILABLE at once when nothing listens', async () => {
    const store = await PostgresStore.open({
      host: '127.0.0.1',
      port: await freePort(),
      user: 'postgres',
    });
    after(() => store.close());
    await assert.rejects(store.get('k'), (e) => isPolyloopError(e, 'PL_ERR_STORE_UNAVAILABLE'));
    await assert.rejects(store.query('SELECT 1'), (e) =>
      isPolyloopError(e, 'PL_ERR_STORE_UNAVAILABLE'),
    );
  });

  it('maps a constraint violation to PL_ERR_STORE and keeps the connection', async () => {
    const store = await open();
    after(() => store.close());
    await store.exec('CREATE TABLE uniq (id integer PRIMARY KEY)');
    await store.exec('INSERT INTO uniq (id) VALUES ($1)', [1]);
    await assert.rejects(store.exec('INSERT INTO uniq (id) VALUES ($1)', [1]), (e) => {
      assert.ok(isPolyloopError(e, 'PL_ERR_STORE'));
      assert.equal((e.cause as { code?: string }).code, '23505');
      return true;
    });
    const rows = await store.query<{ n: string }>('SELECT count(*) AS n FROM uniq');
    assert.equal(rows[0]?.n, '1');
  });
});
