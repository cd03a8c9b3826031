import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { isPolyloopError, lineCodec, type Logger, UpstreamPool } from '../../src/index.js';
import { delay, waitFor } from '../helpers.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

interface Echo {
  port: number;
  /** Sockets currently open on the server side. */
  sockets: Set<net.Socket>;
  accepted(): number;
}

/** A plain line echo server on loopback, closed (with every socket) after the test. */
async function echoServer(): Promise<Echo> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, sockets, accepted: () => accepted };
}

function linePool(port: number, extra: { max?: number; min?: number; idleTimeout?: number } = {}) {
  const pool = new UpstreamPool({
    host: '127.0.0.1',
    port,
    codec: lineCodec(),
    logger: quiet,
    acquireTimeout: 10_000,
    ...extra,
  });
  after(() => pool.close());
  return pool;
}

describe('UpstreamPool', () => {
  it('sends requests over pooled connections and reuses them', async () => {
    const echo = await echoServer();
    const pool = linePool(echo.port);
    const conn = await pool.acquire();
    assert.equal(await conn.request('hello'), 'hello');
    assert.equal(await conn.request('world'), 'world');
    pool.release(conn);
    const again = await pool.acquire();
    assert.equal(again, conn);
    assert.equal(await again.request('third'), 'third');
    pool.release(again);
    assert.equal(echo.accepted(), 1);
    assert.equal(pool.stats().created, 1);
  });

  it('spreads concurrent requests over at most max connections', async () => {
    const echo = await echoServer();
    const pool = linePool(echo.port, { max: 3 });
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => pool.use((c) => c.request(`msg ${i}`))),
    );
    assert.deepEqual(
      replies,
      Array.from({ length: 40 }, (_, i) => `msg ${i}`),
    );
    assert.ok(echo.accepted() <= 3, `accepted ${echo.accepted()}`);
    assert.equal(pool.stats().borrowed, 0);
  });

  it('replaces connections the upstream closed while they were idle', async () => {
    const echo = await echoServer();
    const pool = linePool(echo.port);
    const first = await pool.acquire();
    assert.equal(await first.request('a'), 'a');
    pool.release(first);
    for (const s of echo.sockets) s.destroy();
    await waitFor(() => !first.open, 10_000, 'client side to see the close');
    const second = await pool.acquire();
    assert.notEqual(second, first);
    assert.equal(await second.request('b'), 'b');
    pool.release(second);
    assert.equal(pool.stats().invalid, 1);
    assert.equal(echo.accepted(), 2);
  });

  it('rejects receive() with PL_ERR_NOT_CONNECTED when the upstream goes away mid-exchange', async () => {
    const server = net.createServer((s) => s.destroy());
    after(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const pool = linePool((server.address() as net.AddressInfo).port);
    const conn = await pool.acquire();
    await assert.rejects(conn.request('x'), (e) => isPolyloopError(e, 'PL_ERR_NOT_CONNECTED'));
    pool.release(conn); // closed: destroyed instead of parked
    assert.deepEqual([pool.stats().idle, pool.stats().size], [0, 0]);
  });

  it('closes a released connection that still has an unread reply', async () => {
    const echo = await echoServer();
    const pool = linePool(echo.port);
    const conn = await pool.acquire();
    conn.send('unread');
    await waitFor(() => !conn.reusable, 10_000, 'the reply to arrive');
    pool.release(conn);
    assert.equal(pool.stats().size, 0);
    const next = await pool.acquire();
    assert.notEqual(next, conn);
    assert.equal(await next.request('fresh'), 'fresh');
    pool.release(next);
  });

  it('rejects with PL_ERR_CONNECT when nothing listens, and recovers when it does', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const pool = linePool(port);
    await assert.rejects(pool.acquire(), (e) => isPolyloopError(e, 'PL_ERR_CONNECT'));
    assert.equal(pool.stats().size, 0);
    const server = net.createServer((s) => s.pipe(s));
    after(() => server.close());
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    assert.equal(await pool.use((c) => c.request('up')), 'up');
  });

  it('closes idle connections after idleTimeout, down to min', async () => {
    const echo = await echoServer();
    const pool = linePool(echo.port, { max: 3, min: 1, idleTimeout: 30 });
    const conns = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    await waitFor(() => echo.sockets.size === 3, 10_000, 'server to accept three');
    for (const c of conns) pool.release(c);
    await waitFor(() => echo.sockets.size === 1, 10_000, 'server to see two closes');
    assert.equal(pool.stats().size, 1);
    await delay(50);
    assert.equal(echo.sockets.size, 1);
  });

  it('close() closes every idle connection', async () => {
    const echo = await echoServer();
    const pool = linePool(echo.port);
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(a);
    pool.release(b);
    await waitFor(() => echo.sockets.size === 2, 10_000, 'two server sockets');
    await pool.close();
    await waitFor(() => echo.sockets.size === 0, 10_000, 'server to see both close');
    await assert.rejects(pool.acquire(), (e) => isPolyloopError(e, 'PL_ERR_POOL_CLOSED'));
  });
});
