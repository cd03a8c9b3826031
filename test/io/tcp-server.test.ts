import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import {
  type CloseReason,
  type Connection,
  lengthFieldCodec,
  TcpServer,
  type TcpServerOptions,
} from '../../src/index.js';
import { forEachAcceptor, quiet, start } from './server-fixture.js';
import { closed, connect, delay, readBytes, waitFor } from '../helpers.js';

function ipv6Available(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

forEachAcceptor('TcpServer', () => {
  it('echoes random data to many concurrent clients byte for byte', async () => {
    const { server, port } = await start({
      onMessage(conn, data) {
        conn.send(data);
      },
    });
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(port)));
    await Promise.all(
      clients.map(async (s) => {
        const data = randomBytes(64 * 1024 + Math.floor(Math.random() * 4096));
        s.write(data);
        assert.ok((await readBytes(s, data.length)).equals(data));
        s.destroy();
      }),
    );
    await waitFor(() => server.stats().active === 0);
    const st = server.stats();
    assert.equal(st.accepted, 50);
    assert.equal(st.bytesIn, st.bytesOut);
  });

  it('listens on IPv6 loopback when asked', async (t) => {
    if (!(await ipv6Available())) return t.skip('no IPv6 loopback here');
    const { server, port } = await start({ onMessage: (c, d) => void c.send(d) }, { host: '::1' });
    assert.equal(server.address.family, 'IPv6');
    const s = await connect(port, '::1');
    s.write('six');
    assert.equal((await readBytes(s, 3)).toString(), 'six');
    s.destroy();
  });

  it('closes connections beyond maxConnections at once and counts them', async () => {
    const { server, port } = await start(
      { onMessage: (c, d) => void c.send(d) },
      { maxConnections: 2 },
    );
    const a = await connect(port);
    const b = await connect(port);
    await waitFor(() => server.stats().active === 2);
    const c = await connect(port);
    c.on('error', () => {});
    await closed(c);
    assert.equal(server.stats().rejected, 1);
    // The admitted ones still work, and a slot frees up when one leaves.
    a.write('x');
    assert.equal((await readBytes(a, 1)).toString(), 'x');
    a.destroy();
    await waitFor(() => server.stats().active === 1);
    const d = await connect(port);
    d.write('y');
    assert.equal((await readBytes(d, 1)).toString(), 'y');
    b.destroy();
    d.destroy();
  });

  it('closes idle connections and keeps busy ones', async () => {
    const reasons: CloseReason['by'][] = [];
    const { server, port } = await start(
      {
        onMessage: (c, d) => void c.send(d),
        onClose: (_c, r) => void reasons.push(r.by),
      },
      { idleTimeout: 300 },
    );
    const idle = await connect(port);
    const busy = await connect(port);
    let busyOpen = true;
    busy.on('close', () => (busyOpen = false));
    const t0 = Date.now();
    // Keep `busy` talking for well over the timeout.
    while (Date.now() - t0 < 900) {
      busy.write('.');
      await readBytes(busy, 1);
      await delay(50);
    }
    await closed(idle);
    assert.ok(busyOpen, 'busy connection was closed');
    assert.deepEqual(reasons, ['idle']);
    assert.equal(server.stats().idleClosed, 1);
    busy.destroy();
  });

  it('close() sends queued output, then FIN, and resolves once every connection is gone', async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const reasons: CloseReason['by'][] = [];
    const { server, port } = await start({
      onMessage(conn) {
        conn.send(payload);
      },
      onClose: (_c, r) => void reasons.push(r.by),
    });
    const s = await connect(port);
    s.write('go');
    await waitFor(
      () => server.stats().bytesOut > 0 || [...server.connections].some((c) => c.bytesOut > 0),
    );
    const got = readAll(s);
    await server.close(5000);
    assert.ok((await got).equals(payload));
    assert.deepEqual(reasons, ['server']);
    // The listener is gone.
    await assert.rejects(connect(port));
  });

  it('close() force-closes connections still open at the deadline', async () => {
    const { server, port } = await start({ onMessage: (c, d) => void c.send(d) });
    const s = await connect(port);
    // A peer that never reads: the server cannot finish sending, so only the deadline ends it.
    s.pause();
    await waitFor(() => server.stats().active === 1);
    for (const c of server.connections) c.send(Buffer.alloc(32 * 1024 * 1024));
    const t0 = Date.now();
    await server.close(200);
    assert.equal(server.stats().active, 0);
    assert.ok(Date.now() - t0 < 10_000);
    s.destroy();
  });

  it('rejects listen on a port in use with PL_ERR_LISTEN', async () => {
    const { port } = await start({});
    const second = new TcpServer({}, { host: '127.0.0.1', port, logger: quiet });
    await assert.rejects(second.listen(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PL_ERR_LISTEN');
      assert.match(err.message, /EADDRINUSE/);
      return true;
    });
  });

  it('rejects wrong options with PL_ERR_INVALID_ARG naming the option', () => {
    const bad: [TcpServerOptions, RegExp][] = [
      [{ port: 70000 }, /port/],
      [{ port: -1 }, /port/],
      [{ idleTimeout: 1.5 }, /idleTimeout/],
      [{ maxConnections: -3 }, /maxConnections/],
      [{ host: '' }, /host/],
    ];
    for (const [options, re] of bad) {
      assert.throws(
        () => new TcpServer({}, options),
        (err: Error & { code?: string }) =>
          err.code === 'PL_ERR_INVALID_ARG' && re.test(err.message),
      );
    }
  });

  it('closes only the connection whose handler threw, and keeps serving', async () => {
    const reasons: (string | undefined)[] = [];
    const { server, port } = await start({
      onMessage(conn, data) {
        if (data.toString() === 'boom') throw new Error('handler bug');
        conn.send(data);
      },
      onClose: (_c, r) => void reasons.push(r.error?.code),
    });
    const bad = await connect(port);
    bad.write('boom');
    await closed(bad);
    const good = await connect(port);
    good.write('fine');
    assert.equal((await readBytes(good, 4)).toString(), 'fine');
    good.destroy();
    await waitFor(() => reasons.length === 2);
    assert.equal(reasons[0], 'PL_ERR_HANDLER');
    assert.equal(server.stats().errors['PL_ERR_HANDLER'], 1);
  });

  it('gives each connection its own typed context', async () => {
    const seen: number[] = [];
    let next = 0;
    const { port } = await start({
      codec: lengthFieldCodec(),
      context: () => ({ n: ++next, messages: 0 }),
      onMessage(
        conn: Connection<Uint8Array, Uint8Array | string, { n: number; messages: number }>,
      ) {
        conn.context.messages++;
        conn.send(`${conn.context.n}:${conn.context.messages}`);
      },
      onClose: (conn) => void seen.push(conn.context.messages),
    });
    const s = await connect(port);
    const frame = Buffer.from([0, 0, 0, 1, 0x41]);
    s.write(Buffer.concat([frame, frame, frame]));
    const back = await readBytes(s, 3 * (4 + 3));
    assert.equal(back.subarray(4, 7).toString(), '1:1');
    assert.equal(back.subarray(18, 21).toString(), '1:3');
    s.destroy();
    await waitFor(() => seen.length === 1);
    assert.deepEqual(seen, [3]);
  });
});

function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

describe('TcpServer without the native addon', () => {
  it("uses Node's listener by default, and refuses acceptor: native with PL_ERR_NATIVE_UNAVAILABLE", () => {
    const script = `
      const { TcpServer } = await import(${JSON.stringify(new URL('../../src/index.js', import.meta.url).href)});
      const quiet = { error() {}, warn() {}, info() {}, debug() {} };
      const plain = new TcpServer({}, { host: '127.0.0.1', logger: quiet });
      await plain.listen();
      console.log('default', plain.acceptor);
      await plain.close(0);
      try {
        await new TcpServer({}, { host: '127.0.0.1', acceptor: 'native', logger: quiet }).listen();
      } catch (err) {
        console.log('native', err.code, err.message);
      }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, POLYLOOP_NO_NATIVE: '1' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^default node$/m);
    assert.match(r.stdout, /^native PL_ERR_NATIVE_UNAVAILABLE .*native acceptor.*npm rebuild/m);
  });
});
