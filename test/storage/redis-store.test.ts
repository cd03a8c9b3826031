import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isPolyloopError, RedisStore } from '../../src/index.js';
import { findRedis, freePort, startRedis, type DbServer } from './servers.js';
import { storeConformance } from './store-conformance.js';

const found = findRedis();

describe('RedisStore', { timeout: 300_000 }, () => {
  if (typeof found === 'string') {
    // Locally a missing server skips; in CI it must be installed, so its absence fails.
    if (process.env['CI']) it('has a Redis server to test against', () => assert.fail(found));
    else it('needs a Redis server', { skip: found }, () => {});
    return;
  }
  let server: DbServer | undefined;
  before(async () => {
    server = await startRedis(found.bin);
  });
  after(() => server?.dispose());

  const open = () =>
    RedisStore.open({
      host: server!.host,
      port: server!.port,
      namespace: `test${process.pid}:`,
      pool: { max: 4, acquireTimeout: 10_000 },
    });

  storeConformance(open, {
    stopServer: () => server!.stop(),
    startServer: () => server!.start(),
  });

  it('reports PL_ERR_STORE_UNAVAILABLE at once when nothing listens', async () => {
    const store = await RedisStore.open({ host: '127.0.0.1', port: await freePort() });
    after(() => store.close());
    await assert.rejects(store.get('k'), (e) => isPolyloopError(e, 'PL_ERR_STORE_UNAVAILABLE'));
  });

  it('command() sends arguments as values, and a Redis error is PL_ERR_STORE', async () => {
    const store = await open();
    after(() => store.close());
    const key = `test${process.pid}:raw`;
    assert.equal(await store.command('SET', [key, '"; FLUSHALL; "']), 'OK');
    assert.equal(await store.command('GET', [key]), '"; FLUSHALL; "');
    assert.equal(await store.command('INCRBY', [`${key}:n`, 5]), 5);
    await assert.rejects(store.command('INCR', [key]), (e) => isPolyloopError(e, 'PL_ERR_STORE'));
    await assert.rejects(store.command('GET key', []), (e) =>
      isPolyloopError(e, 'PL_ERR_INVALID_ARG'),
    );
  });

  it('scan skips keys that expired and drops their index entries', async () => {
    const store = await open();
    after(() => store.close());
    const p = 'expiring:';
    await store.set(`${p}a`, 1, { ttlMs: 50 });
    await store.set(`${p}b`, 2);
    const index = `test${process.pid}:kv-index`;
    assert.equal(await store.command('ZSCORE', [index, `${p}a`]), '0');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await store.scan(p), [{ key: `${p}b`, value: 2 }]);
    assert.equal(await store.command('ZSCORE', [index, `${p}a`]), null);
  });
});
