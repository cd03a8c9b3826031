import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { it } from 'node:test';
import { type CloseReason, lengthFieldCodec, lineCodec } from '../../src/index.js';
import { forEachAcceptor, start } from './server-fixture.js';
import { closed, connect, delay, readBytes, waitFor } from '../helpers.js';

forEachAcceptor('Connection', () => {
  it('reports a peer reset in the middle of a frame and keeps serving others', async () => {
    const reasons: CloseReason[] = [];
    const { server, port } = await start({
      codec: lengthFieldCodec(),
      onMessage: (c, m) => void c.send(m),
      onClose: (_c, r) => void reasons.push(r),
    });
    const s = await connect(port);
    s.write(Buffer.from([0, 0, 0, 100, 1, 2, 3])); // 3 of 100 payload bytes
    await waitFor(
      () => server.stats().bytesIn >= 7 || [...server.connections].some((c) => c.bytesIn >= 7),
    );
    s.resetAndDestroy();
    await waitFor(() => reasons.length === 1);
    assert.equal(reasons[0]!.by, 'peer');
    assert.equal(reasons[0]!.error?.code, 'PL_ERR_CONNECTION_RESET');
    const t = await connect(port);
    t.write(Buffer.from([0, 0, 0, 2, 7, 8]));
    assert.deepEqual([...(await readBytes(t, 6))], [0, 0, 0, 2, 7, 8]);
    t.destroy();
  });

  it('closes a connection that sends an oversize frame with PL_ERR_FRAME_TOO_LARGE', async () => {
    const reasons: CloseReason[] = [];
    const { server, port } = await start({
      codec: lengthFieldCodec({ maxFrame: 1000 }),
      onMessage: (c, m) => void c.send(m),
      onClose: (_c, r) => void reasons.push(r),
    });
    const s = await connect(port);
    s.on('error', () => {});
    s.write(Buffer.from([0, 0, 0x03, 0xe9])); // 1001
    await closed(s);
    await waitFor(() => reasons.length === 1);
    assert.equal(reasons[0]!.by, 'error');
    assert.equal(reasons[0]!.error?.code, 'PL_ERR_FRAME_TOO_LARGE');
    assert.equal(server.stats().errors['PL_ERR_FRAME_TOO_LARGE'], 1);
  });

  it('bounds memory near the high-water mark when the peer never reads, and loses nothing', async () => {
    const highWaterMark = 1024 * 1024;
    let maxQueued = 0;
    let marks = 0;
    const { server, port } = await start(
      {
        onMessage(conn, data) {
          conn.send(data);
          maxQueued = Math.max(maxQueued, conn.queuedBytes);
        },
        onHighWaterMark: () => void marks++,
      },
      { highWaterMark },
    );
    const total = 100 * 1024 * 1024;
    const s = await connect(port);
    s.pause();
    let written = 0;
    const chunk = randomBytes(64 * 1024);
    const writeAll = (async () => {
      while (written < total) {
        written += chunk.length;
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      }
    })();
    // Wait until the sender is stuck: the server stopped reading, the kernel buffers are full.
    let last = -1;
    while (written !== last) {
      last = written;
      await delay(300);
    }
    assert.ok(written < total, 'the peer managed to send everything without reading');
    assert.ok(marks >= 1, 'onHighWaterMark did not fire');
    const conn = [...server.connections][0]!;
    assert.equal(conn.reading, false);
    // One read chunk (at most 64 KiB) can land on top of the mark before reading pauses.
    assert.ok(maxQueued <= highWaterMark + 256 * 1024, `queued ${maxQueued} bytes`);
    // Now read: everything comes back, and the sender finishes.
    let got = 0;
    let intact = true;
    s.on('data', (d: Buffer) => {
      // The sender repeats one block, so byte i of the echo must equal block[i % block.length].
      for (let at = 0; at < d.length;) {
        const off = (got + at) % chunk.length;
        const n = Math.min(d.length - at, chunk.length - off);
        if (!d.subarray(at, at + n).equals(chunk.subarray(off, off + n))) intact = false;
        at += n;
      }
      got += d.length;
    });
    s.resume();
    await writeAll;
    await waitFor(() => got === total, 60_000, 'the full echo');
    assert.ok(intact, 'the echo differs from what was sent');
    s.destroy();
  });

  it('half-close: data sent before shutdown() arrives in full, and reading goes on', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const received: string[] = [];
    const reasons: CloseReason['by'][] = [];
    const { port } = await start({
      onMessage(conn, data) {
        received.push(data.toString());
        if (data.toString() === 'go') {
          conn.send(payload);
          conn.shutdown();
          assert.equal(conn.state, 'disconnecting');
          assert.equal(conn.send('late'), false);
        }
      },
      onClose: (_c, r) => void reasons.push(r.by),
    });
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    const ended = new Promise((r) => s.once('end', r));
    s.once('connect', () => s.write('go'));
    await ended;
    assert.ok(Buffer.concat(parts).equals(payload));
    s.end('after');
    await waitFor(() => reasons.length === 1);
    assert.deepEqual(received, ['go', 'after']);
    assert.deepEqual(reasons, ['peer']);
  });

  it('pauseReading holds back buffered messages until resumeReading, in order', async () => {
    const lines: string[] = [];
    const { port } = await start({
      codec: lineCodec(),
      onMessage(conn, line) {
        lines.push(line);
        if (line === 'pause') {
          conn.pauseReading();
          assert.equal(conn.reading, false);
          setTimeout(() => {
            lines.push('(resumed)');
            conn.resumeReading();
          }, 100);
        }
        if (line === 'c') conn.send('done');
      },
    });
    const s = await connect(port);
    s.write('a\npause\nb\nc\n');
    assert.equal((await readBytes(s, 5)).toString(), 'done\n');
    assert.deepEqual(lines, ['a', 'pause', '(resumed)', 'b', 'c']);
    s.destroy();
  });

  it('onWriteComplete fires once the queued output has reached the kernel', async () => {
    const payload = randomBytes(3 * 1024 * 1024);
    const queuedAtComplete: number[] = [];
    const { port } = await start({
      onConnection: (conn) => void conn.send(payload),
      onWriteComplete: (conn) => void queuedAtComplete.push(conn.queuedBytes),
    });
    const s = await connect(port);
    assert.ok((await readBytes(s, payload.length)).equals(payload));
    await waitFor(() => queuedAtComplete.length >= 1);
    assert.ok(queuedAtComplete.every((q) => q === 0));
    s.destroy();
  });

  it('forceCloseWithDelay gives the peer time, then closes', async () => {
    const reasons: CloseReason['by'][] = [];
    const { port } = await start({
      onConnection(conn) {
        conn.send('bye');
        conn.forceCloseWithDelay(50);
      },
      onClose: (_c, r) => void reasons.push(r.by),
    });
    const s = await connect(port);
    assert.equal((await readBytes(s, 3)).toString(), 'bye');
    await closed(s);
    await waitFor(() => reasons.length === 1);
    assert.deepEqual(reasons, ['local']);
  });

  it('send returns false once the connection is closed', async () => {
    const results: boolean[] = [];
    const { port } = await start({
      onMessage: (conn) => conn.forceClose(),
      onClose(conn) {
        results.push(conn.send('x'));
        results.push(conn.state === 'disconnected');
      },
    });
    const s = await connect(port);
    s.write('hello');
    await closed(s);
    await waitFor(() => results.length === 2);
    assert.deepEqual(results, [false, true]);
  });

  it('counts bytes in and out and records activity', async () => {
    const { server, port } = await start({ onMessage: (c, d) => void c.send(d) });
    const s = await connect(port);
    s.write(Buffer.alloc(1000));
    await readBytes(s, 1000);
    const conn = [...server.connections][0]!;
    assert.equal(conn.bytesIn, 1000);
    assert.equal(conn.bytesOut, 1000);
    assert.ok(conn.lastActiveAt >= conn.createdAt);
    assert.equal(conn.remoteAddress, '127.0.0.1');
    s.destroy();
  });
});
