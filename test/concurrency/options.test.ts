import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { resolveOptions } from '../../src/concurrency/options.js';
import { BufferPool, serve, defineApp } from '../../src/index.js';
import { LineClient, startServer } from './support.js';

describe('serve options', () => {
  it('defaults to half-sync on every core, reactor on one loop', () => {
    const o = resolveOptions({});
    assert.equal(o.loops, availableParallelism());
    assert.equal(o.model, o.loops > 1 ? 'half-sync' : 'reactor');
    assert.equal(o.workers, 'thread');
    assert.equal(o.dispatch, 'round-robin');
    assert.equal(o.handoff, 'ring');
    assert.equal(resolveOptions({ loops: 1 }).model, 'reactor');
    assert.equal(resolveOptions({ loops: 3 }).model, 'half-sync');
  });

  it('rejects wrong options with PL_ERR_INVALID_ARG naming the option', () => {
    const bad: [object, RegExp][] = [
      [{ model: 'fork' }, /model must be one of/],
      [{ loops: 0 }, /loops must be an integer/],
      [{ loops: 2.5 }, /loops/],
      [{ model: 'reactor', loops: 2 }, /loops must be 1 with model 'reactor'/],
      [{ workers: 'fiber' }, /workers must be one of/],
      [{ model: 'reuse-port', dispatch: 'ip-hash' }, /dispatch must be unset/],
      [{ model: 'leader-follower', workers: 'process' }, /workers must be 'thread'/],
      [{ model: 'half-sync', loops: 2, acceptor: 'node' }, /acceptor must be unset/],
      [{ port: 70000 }, /port/],
      [{ host: '' }, /host/],
      [{ maxConnections: -1 }, /maxConnections/],
      [{ handoff: 'pigeon' }, /handoff/],
      [{ bufferPool: true }, /bufferPool must be a BufferPool or false/],
      [
        { model: 'half-sync', loops: 2, bufferPool: new BufferPool() },
        /bufferPool must be false or unset with model 'half-sync'/,
      ],
      [
        { model: 'reuse-port', loops: 2, bufferPool: new BufferPool() },
        /bufferPool must be false or unset with model 'reuse-port'/,
      ],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => resolveOptions(options),
        (err: Error & { code?: string }) =>
          err.code === 'PL_ERR_INVALID_ARG' && message.test(err.message),
        JSON.stringify(options),
      );
    }
  });

  it("uses the reactor's bufferPool, and sends `false` to worker loops", async () => {
    const pool = new BufferPool();
    const reactor = await startServer({ model: 'reactor', bufferPool: pool });
    const a = await LineClient.connect(reactor.address.port);
    assert.equal(await a.ask('echo pooled'), 'pooled');
    a.close();
    const used = pool.stats().classes.reduce((n, c) => n + c.hits + c.misses, 0);
    assert.ok(used > 0, 'the connection took its buffers from the given pool');

    const workers = await startServer({ model: 'half-sync', bufferPool: false });
    const b = await LineClient.connect(workers.address.port);
    assert.equal(await b.ask('echo plain'), 'plain');
    b.close();
    assert.equal(
      resolveOptions({ model: 'half-sync', loops: 2, bufferPool: false }).bufferPool,
      false,
    );
  });

  it('refuses an inline app for worker models: loops load modules', async () => {
    const app = defineApp({});
    await assert.rejects(serve(app, { model: 'half-sync', loops: 2 }), /a module URL/);
  });

  it('rejects when the app module cannot be loaded, leaving nothing running', async () => {
    const missing = new URL('./fixtures/no-such-app.js', import.meta.url);
    await assert.rejects(
      serve(missing, { model: 'half-sync', loops: 2, host: '127.0.0.1' }),
      (err: Error & { code?: string }) => err.code === 'PL_ERR_WORKER_START',
    );
  });
});
