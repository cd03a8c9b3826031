// Writes that go straight to the kernel (the addon's writeBytes) when the socket has nothing
// queued, with the rest through socket.write: order, completeness, backpressure, onWriteComplete
// and errors must look exactly as with socket.write alone. The whole file runs again with
// POLYLOOP_NO_NATIVE=1, where every write takes the socket.write path.
import assert from 'node:assert/strict';
import net from 'node:net';
import { constants } from 'node:os';
import { describe, it } from 'node:test';
import { nativeStatus, native } from '../../native/index.js';
import { ReadArena } from '../../src/io/adopt.js';
import {
  BufferPool,
  lengthFieldCodec,
  type CloseReason,
  type Connection,
} from '../../src/index.js';
import { connect, delay, readBytes, rerunWithoutNative, waitFor } from '../helpers.js';
import { forEachAcceptor, start } from './server-fixture.js';

const NATIVE = nativeStatus().available;

/** Bytes i % 251 from `from`: any reordering, loss or duplication shows. */
function pattern(length: number, from = 0): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (from + i) % 251;
  return b;
}

/** The socket behind a connection, for counting what went through its queue. */
function socketOf(conn: object): net.Socket {
  return (conn as unknown as { socket: net.Socket }).socket;
}

/** Waits for the connection an `onConnection` handler stores in `box`. */
async function accepted<T>(box: { conn?: T }): Promise<T> {
  await waitFor(() => box.conn !== undefined);
  return box.conn!;
}

if (NATIVE) {
  describe('native writeBytes', () => {
    it('sends a range of the bytes and returns the count', async () => {
      const n = native();
      const [a, b] = n.socketPair();
      const peer = new net.Socket({ fd: b, readable: true, writable: false });
      try {
        const bytes = Buffer.from('..hello world..');
        assert.equal(n.writeBytes(a, bytes, 2, 11), 11);
        assert.equal(n.writeBytes(a, bytes, 0, 0), 0);
        assert.equal((await readBytes(peer, 11)).toString(), 'hello world');
      } finally {
        peer.destroy();
        n.close(a);
      }
    });

    it('returns -EAGAIN once the socket buffer is full and -EPIPE after the peer closed', () => {
      const n = native();
      const [a, b] = n.socketPair();
      try {
        const chunk = Buffer.alloc(64 * 1024);
        let r = 0;
        let total = 0;
        for (let i = 0; i < 10_000 && (r = n.writeBytes(a, chunk, 0, chunk.length)) > 0; i++)
          total += r;
        assert.ok(total > 0);
        assert.equal(r, -constants.errno.EAGAIN);
        n.close(b);
        const after = n.writeBytes(a, chunk, 0, 1);
        assert.ok(
          after === -constants.errno.EPIPE || after === -constants.errno.ECONNRESET,
          `got ${after}`,
        );
      } finally {
        n.close(a);
      }
    });

    it('throws PL_ERR_INVALID_ARG for bad arguments and never writes', () => {
      const n = native();
      const [a, b] = n.socketPair();
      try {
        const bytes = new Uint8Array(8);
        const bad: [unknown, unknown, unknown, unknown][] = [
          [-1, bytes, 0, 1],
          [a, 'text', 0, 1],
          [a, new Uint16Array(4), 0, 1],
          [a, bytes, 9, 0],
          [a, bytes, 4, 5],
          [a, bytes, 0.5, 1],
          [a, bytes, 0, -1],
        ];
        for (const args of bad) {
          const write = n.writeBytes as (...x: unknown[]) => number;
          assert.throws(
            () => write(...args),
            (e: { code?: string }) => e.code === 'PL_ERR_INVALID_ARG',
          );
        }
        assert.equal(n.writeBytes(a, bytes, 4, 4), 4);
      } finally {
        n.close(a);
        n.close(b);
      }
    });
  });
}

describe('ReadArena views', () => {
  it('a read of a length seen before gets the same view; a retired buffer gets none', () => {
    const arena = new ReadArena();
    const a = arena.view(68);
    assert.equal(a.length, 68);
    assert.equal(a.buffer, arena.current.buffer);
    assert.equal(a.byteOffset, arena.current.byteOffset);
    assert.equal(arena.view(68), a);
    const b = arena.view(68 + ReadArena.VIEW_SLOTS); // same slot, other length
    assert.equal(b.length, 68 + ReadArena.VIEW_SLOTS);
    assert.notEqual(arena.view(68), a);
    const kept = arena.view(100);
    arena.retire();
    const fresh = arena.view(100);
    assert.notEqual(fresh, kept);
    assert.equal(fresh.buffer, arena.current.buffer);
    assert.ok(arena.owns(fresh) && !arena.owns(kept));
  });
});

forEachAcceptor('Connection direct writes', () => {
  it('an 8 MiB send to a slow reader arrives complete and in order, then later sends', async () => {
    const box: { conn?: Connection } = {};
    const { port } = await start({ onConnection: (c) => (box.conn = c) });
    const client = await connect(port);
    const conn = await accepted(box);
    const big = pattern(8 * 1024 * 1024);
    conn.send(big);
    conn.send(pattern(1000, big.length));
    conn.send(pattern(24, big.length + 1000));
    assert.ok(conn.queuedBytes > 0, 'the kernel took 8 MiB at once');
    // A slow reader: pauses between small reads, so the write stays partly queued for a while.
    client.pause();
    await delay(30);
    const got = readBytes(client, big.length + 1024);
    client.resume();
    const bytes = await got;
    assert.ok(bytes.equals(pattern(big.length + 1024)), 'bytes lost or reordered');
    await conn.whenDrained();
    assert.equal(conn.queuedBytes, 0);
    assert.equal(conn.bytesOut, big.length + 1024);
    client.destroy();
  });

  it('interleaved small and large sends from onMessage keep their order (length-field codec)', async () => {
    const pool = new BufferPool();
    const { port } = await start(
      {
        codec: lengthFieldCodec({ maxFrame: 1 << 24 }),
        // Each request names a size: answer with that many pattern bytes, then a small trailer.
        onMessage(c, msg) {
          const size = Buffer.from(msg).readUInt32BE(0);
          c.send(pattern(size, size));
          c.send(Buffer.from([size & 255]));
        },
      },
      { bufferPool: pool },
    );
    const client = await connect(port);
    const sizes = [10, 3 * 1024 * 1024, 1, 70_000, 5, 2 * 1024 * 1024, 300, 0, 64];
    const request = Buffer.alloc(8);
    for (const size of sizes) {
      request.writeUInt32BE(4, 0);
      request.writeUInt32BE(size, 4);
      client.write(Buffer.from(request));
    }
    client.pause();
    await delay(20);
    client.resume();
    for (const size of sizes) {
      const head = await readBytes(client, 4);
      assert.equal(head.readUInt32BE(0), size);
      const body = await readBytes(client, size);
      assert.ok(body.equals(pattern(size, size)), `body of ${size} bytes`);
      const trailer = await readBytes(client, 5);
      assert.equal(trailer.readUInt32BE(0), 1);
      assert.equal(trailer[4], size & 255);
    }
    client.destroy();
    await waitFor(() => pool.stats().classes.every((c) => c.inUse === 0));
  });

  it('raw echo of 8 MiB through a reader that lags keeps every byte in order', async () => {
    const { port } = await start({ onMessage: (c, m) => void c.send(m) });
    const client = await connect(port);
    const total = 8 * 1024 * 1024;
    const data = pattern(total);
    const got = readBytes(client, total);
    // Written in bursts while the client's reading is paused: the echo backs up on the server.
    for (let off = 0; off < total; off += 256 * 1024) {
      client.write(data.subarray(off, off + 256 * 1024));
      if (off % (2 * 1024 * 1024) === 0) {
        client.pause();
        await delay(5);
        client.resume();
      }
    }
    assert.ok((await got).equals(data));
    client.destroy();
  });

  it('onWriteComplete fires after writes that went out at once and after backed-up ones', async () => {
    let completes = 0;
    const box: { conn?: Connection } = {};
    const { port } = await start({
      onConnection: (c) => (box.conn = c),
      onMessage: (c, m) => void c.send(m),
      onWriteComplete: () => void completes++,
    });
    const client = await connect(port);
    const conn = await accepted(box);
    client.write('ping');
    assert.equal((await readBytes(client, 4)).toString(), 'ping');
    await waitFor(() => completes >= 1);
    const before = completes;
    client.pause();
    conn.send(pattern(4 * 1024 * 1024));
    await delay(30);
    assert.ok(conn.queuedBytes > 0);
    const got = readBytes(client, 4 * 1024 * 1024);
    client.resume();
    await got;
    await waitFor(() => completes > before);
    assert.equal(conn.queuedBytes, 0);
    if (NATIVE) {
      // With the addon, the small echo bypassed the socket's queue.
      assert.ok(socketOf(conn).bytesWritten < conn.bytesOut, 'no write went out directly');
    } else assert.equal(socketOf(conn).bytesWritten, conn.bytesOut);
    client.destroy();
  });

  it('writes after the peer reset close the connection cleanly, once, without leaks', async () => {
    const pool = new BufferPool();
    const reasons: CloseReason[] = [];
    const box: { conn?: Connection<Uint8Array, Uint8Array | string> } = {};
    const { port } = await start(
      {
        codec: lengthFieldCodec({ maxFrame: 1 << 24 }),
        onConnection: (c) => (box.conn = c),
        onClose: (_c, reason) => void reasons.push(reason),
      },
      { bufferPool: pool },
    );
    const client = await connect(port);
    const conn = await accepted(box);
    client.resetAndDestroy();
    await delay(20);
    // Direct sends now fail (EPIPE/ECONNRESET), fall back to socket.write, which reports it.
    for (let i = 0; i < 20 && conn.connected; i++) {
      conn.send(pattern(100_000));
      await delay(5);
    }
    await waitFor(() => reasons.length === 1);
    await delay(20);
    assert.equal(reasons.length, 1);
    assert.equal(conn.state, 'disconnected');
    assert.equal(conn.send(pattern(10)), false);
    assert.ok(reasons[0]!.by === 'peer' || reasons[0]!.by === 'error', reasons[0]!.by);
    await waitFor(() => pool.stats().classes.every((c) => c.inUse === 0));
  });

  it('a send after close is refused and the fd number is never written again', async () => {
    const box: { conn?: Connection } = {};
    const { port } = await start({ onConnection: (c) => (box.conn = c) });
    const client = await connect(port);
    const conn = await accepted(box);
    conn.send('bye');
    conn.close();
    assert.equal(conn.send('more'), false);
    const rest: Buffer[] = [];
    client.on('data', (d: Buffer) => rest.push(d));
    await new Promise((resolve) => client.once('end', resolve));
    assert.equal(Buffer.concat(rest).toString(), 'bye');
    client.destroy();
  });
});

if (NATIVE && process.env['POLYLOOP_NO_NATIVE'] === undefined) {
  describe('Connection direct writes without the addon', () => {
    it('passes the same cases through socket.write alone', () => {
      const report = rerunWithoutNative(import.meta.url);
      assert.match(report, /onWriteComplete fires/);
      assert.doesNotMatch(report, /native writeBytes/);
    });
  });
}
