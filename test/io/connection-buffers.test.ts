// Connections taking their input and output buffers from a BufferPool: the echoes stay intact,
// and every buffer goes back however the connection ends.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import {
  BufferPool,
  isPolyloopError,
  lengthFieldCodec,
  lineCodec,
  TcpServer,
  type BufferPoolStats,
} from '../../src/index.js';
import { forEachAcceptor, quiet, start } from './server-fixture.js';
import { closed, connect, delay, readBytes, waitFor } from '../helpers.js';

const inUse = (s: BufferPoolStats): number =>
  s.classes.reduce((n, c) => n + c.inUse, 0) + s.unpooledInUse;

/** `payload` framed with a 4-byte big-endian length. */
function framed(payload: Uint8Array): Buffer {
  const f = Buffer.alloc(4 + payload.length);
  f.writeUInt32BE(payload.length, 0);
  f.set(payload, 4);
  return f;
}

forEachAcceptor('Connection with a BufferPool', () => {
  it('echoes frames split at every point and holds no buffer once idle', async () => {
    const pool = new BufferPool({ debug: true });
    const { server, port } = await start(
      { codec: lengthFieldCodec({ maxFrame: 1 << 20 }), onMessage: (c, m) => void c.send(m) },
      { bufferPool: pool },
    );
    const s = await connect(port);
    const sizes = [0, 1, 100, 2040, 2048, 5000, 16 * 1024, 70 * 1024, 300 * 1024];
    for (const size of sizes) {
      const f = framed(randomBytes(size));
      // Header alone, then the payload in three pieces with pauses: partial frames are held.
      const cuts = [2, 4, Math.floor(f.length / 2), f.length];
      let from = 0;
      for (const to of cuts) {
        if (to > from) s.write(f.subarray(from, to));
        from = Math.max(from, to);
        await delay(5);
      }
      assert.ok((await readBytes(s, f.length)).equals(f), `echo of ${size} bytes`);
    }
    await waitFor(() => inUse(pool.stats()) === 0, 10_000, 'every buffer back while idle');
    assert.ok(
      pool.stats().classes.some((c) => c.hits + c.misses > 0),
      'the pool was used',
    );
    // An incomplete frame keeps one buffer until the rest arrives.
    s.write(Buffer.from([0, 0, 0, 10, 1, 2]));
    await waitFor(() => [...server.connections].some((c) => c.bytesIn >= 6));
    await waitFor(() => inUse(pool.stats()) === 1);
    s.write(Buffer.alloc(8));
    assert.equal((await readBytes(s, 14)).length, 14);
    await waitFor(() => inUse(pool.stats()) === 0);
    s.destroy();
    await waitFor(() => server.connections.size === 0);
    assert.deepEqual(pool.leaks(), []);
  });

  it('gives every buffer back when connections close mid-frame or while output is stuck', async () => {
    const pool = new BufferPool();
    const block = randomBytes(256 * 1024);
    const { server, port } = await start(
      {
        codec: lineCodec({ output: 'bytes' }),
        // Each line asks for 8 MiB back: far more than the kernel buffers of a peer not reading.
        onMessage(c) {
          for (let i = 0; i < 32; i++) c.send(block);
        },
      },
      { bufferPool: pool, highWaterMark: 64 * 1024 * 1024 },
    );
    const stuck = await connect(port);
    stuck.pause();
    stuck.write('go\n');
    const partial = await connect(port);
    partial.write('no newline yet');
    await waitFor(() => [...server.connections].every((c) => c.bytesIn > 0));
    await waitFor(() => [...server.connections].some((c) => c.queuedBytes > 1024 * 1024));
    assert.ok(inUse(pool.stats()) >= 2, 'held: the partial line and the pending output');
    stuck.destroy();
    partial.destroy();
    await Promise.all([closed(stuck), closed(partial)]);
    await waitFor(() => server.connections.size === 0, 10_000, 'both closed');
    await waitFor(() => inUse(pool.stats()) === 0, 10_000, 'every buffer back after close');
  });

  it('works without a pool (bufferPool: false) and leaves the default pool alone', async () => {
    const pool = new BufferPool();
    const { port } = await start(
      { codec: lengthFieldCodec(), onMessage: (c, m) => void c.send(m) },
      { bufferPool: false },
    );
    const s = await connect(port);
    const f = framed(randomBytes(40 * 1024));
    s.write(f.subarray(0, 100));
    await delay(10);
    s.write(f.subarray(100));
    assert.ok((await readBytes(s, f.length)).equals(f));
    s.destroy();
    assert.equal(inUse(pool.stats()), 0);
  });

  it('throws PL_ERR_INVALID_ARG for a bufferPool that is not a pool', () => {
    for (const bad of [true, {}, 'pool', null]) {
      assert.throws(
        () =>
          new TcpServer(
            {},
            { logger: quiet, bufferPool: bad as unknown as BufferPool, acceptor: 'node' },
          ),
        (err: unknown) => isPolyloopError(err, 'PL_ERR_INVALID_ARG'),
      );
    }
  });
});
