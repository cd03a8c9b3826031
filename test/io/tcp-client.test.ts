import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import {
  type CloseReason,
  type Logger,
  type PolyloopError,
  TcpClient,
  TcpServer,
} from '../../src/index.js';
import { waitFor } from '../helpers.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };
const fast = { initialDelay: 20, maxDelay: 100, jitter: 0 };

/** A port with nothing listening on it (bound, read, released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function echoServer(port = 0): Promise<TcpServer> {
  const server = new TcpServer(
    { onMessage: (c, d) => void c.send(d) },
    { host: '127.0.0.1', port, logger: quiet },
  );
  after(() => server.close(0));
  await server.listen();
  return server;
}

describe('TcpClient', () => {
  it('keeps dialing with backoff until the server appears', async () => {
    const port = await freePort();
    const failures: number[] = [];
    const client = new TcpClient(
      { onMessage: (c, d) => void (d.toString() === 'ping' && c.close()) },
      {
        host: '127.0.0.1',
        port,
        backoff: fast,
        logger: quiet,
        onConnectError: (_e, attempt) => void failures.push(attempt),
      },
    );
    after(() => client.stop());
    const connecting = client.connect();
    await waitFor(() => failures.length >= 2, 10_000, 'two failed attempts');
    await echoServer(port);
    const conn = await connecting;
    assert.equal(conn.connected, true);
    assert.deepEqual(failures.slice(0, 2), [0, 1]);
  });

  it('rejects with PL_ERR_CONNECT when retry is off', async () => {
    const port = await freePort();
    const client = new TcpClient({}, { host: '127.0.0.1', port, retry: false, logger: quiet });
    await assert.rejects(client.connect(), (err: PolyloopError) => {
      assert.equal(err.code, 'PL_ERR_CONNECT');
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  });

  it('stop() rejects a pending connect with PL_ERR_CLIENT_STOPPED and stops dialing', async () => {
    const port = await freePort();
    let attempts = 0;
    const client = new TcpClient(
      {},
      {
        host: '127.0.0.1',
        port,
        backoff: fast,
        logger: quiet,
        onConnectError: () => void attempts++,
      },
    );
    const p = client.connect();
    await waitFor(() => attempts >= 1);
    client.stop();
    await assert.rejects(p, (err: PolyloopError) => err.code === 'PL_ERR_CLIENT_STOPPED');
    const seen = attempts;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(attempts, seen);
  });

  it('reconnects after losing the connection when reconnect is on', async () => {
    const server = await echoServer();
    let established = 0;
    const reasons: CloseReason['by'][] = [];
    const client = new TcpClient(
      { onConnection: () => void established++, onClose: (_c, r) => void reasons.push(r.by) },
      {
        host: '127.0.0.1',
        port: server.address.port,
        reconnect: true,
        backoff: fast,
        logger: quiet,
      },
    );
    after(() => client.stop());
    await client.connect();
    await waitFor(() => server.stats().active === 1);
    for (const c of server.connections) c.forceClose();
    await waitFor(() => established === 2, 10_000, 'a second connection');
    assert.deepEqual(reasons, ['peer']);
    assert.ok(client.connection?.connected);
  });

  it('does not reconnect after stop()', async () => {
    const server = await echoServer();
    let established = 0;
    const client = new TcpClient(
      { onConnection: () => void established++ },
      {
        host: '127.0.0.1',
        port: server.address.port,
        reconnect: true,
        backoff: fast,
        logger: quiet,
      },
    );
    await client.connect();
    client.stop();
    await waitFor(() => server.stats().active === 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(established, 1);
    assert.equal(client.connection, undefined);
  });

  it('rejects wrong options with PL_ERR_INVALID_ARG', () => {
    assert.throws(
      () => new TcpClient({}, { host: '127.0.0.1', port: 0 }),
      /PL_ERR_INVALID_ARG|port must be/,
    );
    assert.throws(
      () => new TcpClient({}, { host: '127.0.0.1', port: 1, backoff: { jitter: 2 } }),
      (err: PolyloopError) => err.code === 'PL_ERR_INVALID_ARG',
    );
  });
});
