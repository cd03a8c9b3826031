import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NativeAddon } from '../../native/index.js';
import { closed, waitFor } from '../helpers.js';
import { addon, cleanups, fdCount, NativeListener, rejectsCode, skip } from './support.js';

const MiB = 1024 * 1024;
const SIZES = [0, 1, 1000, 65_537, 3 * MiB + 123, 64 * MiB];

/** A small seeded generator, so that a failing case can be replayed from its seed. */
function random(seed: number): (below: number) => number {
  let s = seed >>> 0;
  return (below) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * below);
  };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads `total` bytes slowly (a 1 ms pause every 16 chunks) and hashes them. The socket is
 * resumed here: until then it stays paused, so the sender's socket fills up.
 */
function receive(socket: net.Socket, total: number): Promise<{ bytes: number; digest: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let chunks = 0;
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error(`closed after ${bytes} of ${total} bytes`));
    const finish = (): void => {
      socket.off('close', onClose);
      socket.pause();
      resolve({ bytes, digest: hash.digest('hex') });
    };
    if (total === 0) return finish();
    socket.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
      if (bytes >= total) return finish();
      if (++chunks % 16 === 0) {
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      }
    });
    socket.once('close', onClose);
    socket.resume();
  });
}

/** Everything until the peer ends the stream. */
function readToEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
    socket.resume();
  });
}

describe('native sendFile', { skip, timeout: 180_000 }, () => {
  let n: NativeAddon;
  let listener: NativeListener;
  let dir: string;
  const files = new Map<number, { fd: number; data: Buffer; path: string }>();

  before(() => {
    n = addon();
    listener = new NativeListener(n);
    dir = mkdtempSync(join(tmpdir(), 'polyloop-sendfile-'));
    for (const size of SIZES) {
      const data = randomFillSync(Buffer.allocUnsafe(size));
      const path = join(dir, `f${size}`);
      writeFileSync(path, data);
      files.set(size, { fd: openSync(path, 'r'), data, path });
    }
  });
  after(() => {
    listener?.close();
    for (const f of files.values()) closeSync(f.fd);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A connected pair: a paused client, and the server side as a net.Socket over the fd. */
  async function connection(
    defer: (fn: () => unknown) => void,
  ): Promise<{ client: net.Socket; server: net.Socket; fd: number }> {
    const { client, fd } = await listener.connect();
    client.pause();
    defer(() => client.destroy());
    const server = new net.Socket({ fd, readable: true, writable: true });
    server.on('error', () => {});
    defer(() => server.destroy()); // registered after the client: runs first
    return { client, server, fd };
  }

  function file(size: number): { fd: number; data: Buffer; path: string } {
    const f = files.get(size);
    assert.ok(f !== undefined);
    return f;
  }

  it('sendFile sends the exact bytes of random ranges of 0 B to 64 MiB files to a slow reader', async (t) => {
    const seed = Date.now();
    const pick = random(seed);
    let waitedOnBigFile = 0;
    for (const size of SIZES) {
      const ranges: [number, number][] = [[0, size]];
      for (let i = 0; i < 2; i++) {
        const offset = pick(size + 1);
        ranges.push([offset, pick(size - offset + 1)]);
      }
      for (const [offset, length] of ranges) {
        const what = `size ${size}, offset ${offset}, length ${length} (seed ${seed})`;
        const defer = cleanups(t);
        const { client, fd } = await connection(defer);
        const f = file(size);
        const task = n.sendFile(fd, f.fd, offset, length);
        await waitFor(() => task.waits > 0 || task.settled, 10_000, 'the socket to fill up');
        const received = receive(client, length);
        assert.equal(await task, length, what);
        const got = await received;
        assert.equal(got.bytes, length, what);
        assert.equal(got.digest, sha256(f.data.subarray(offset, offset + length)), what);
        assert.equal(task.sent, length, what);
        if (size === 64 * MiB && length === size) waitedOnBigFile = task.waits;
        client.destroy();
      }
    }
    // A 64 MiB transfer to a paused reader cannot fit in the socket buffers: it must have hit
    // EAGAIN and waited for writability (the path this test exists for).
    assert.ok(waitedOnBigFile > 0, 'the 64 MiB transfer never waited for writability');
  });

  it('sendFile runs several transfers at once on different sockets', async (t) => {
    const defer = cleanups(t);
    const f = file(64 * MiB);
    const length = 8 * MiB;
    const conns = await Promise.all([0, 1, 2, 3].map(() => connection(defer)));
    const tasks = conns.map((c, i) => n.sendFile(c.fd, f.fd, i * 5 * MiB + i, length));
    await waitFor(() => tasks.every((task) => task.waits > 0), 10_000, 'all sockets to fill');
    const results = await Promise.all(conns.map((c) => receive(c.client, length)));
    assert.deepEqual(await Promise.all(tasks), [length, length, length, length]);
    results.forEach((r, i) => {
      const start = i * 5 * MiB + i;
      assert.equal(r.digest, sha256(f.data.subarray(start, start + length)), `transfer ${i}`);
    });
  });

  it('sendFile resolves 0 at once when length is 0', async (t) => {
    const defer = cleanups(t);
    const { fd } = await connection(defer);
    const before = fdCount();
    const task = n.sendFile(fd, file(1000).fd, 10, 0);
    assert.equal(task.settled, true);
    assert.equal(fdCount(), before);
    assert.equal(await task, 0);
    assert.equal(task.cancel(), false);
  });

  it('sendFile rejects PL_ERR_CONNECTION_RESET when the peer resets mid-transfer, leaving no fd behind', async (t) => {
    const defer = cleanups(t);
    const before = fdCount();
    // The server side stays a bare fd here: a net.Socket over it would close it on the reset.
    const { client, fd } = await listener.connect();
    defer(() => client.destroy());
    client.pause();
    const task = n.sendFile(fd, file(64 * MiB).fd, 0, 64 * MiB);
    await waitFor(() => task.waits > 0, 10_000, 'the socket to fill up');
    client.resetAndDestroy();
    const err = await rejectsCode(task, 'PL_ERR_CONNECTION_RESET');
    assert.ok(err.errno === 'EPIPE' || err.errno === 'ECONNRESET', `errno ${err.errno}`);
    assert.equal(err.syscall, 'sendfile');
    assert.ok(err.sent !== undefined && err.sent > 0 && err.sent < 64 * MiB, `sent ${err.sent}`);
    await closed(client);
    n.close(fd);
    assert.equal(fdCount(), before, 'the dups of the socket and the file were not closed');
  });

  it('sendFile cancel() rejects PL_ERR_CANCELLED, closes its dups at once and sends no more', async (t) => {
    const defer = cleanups(t);
    const { client, server, fd } = await connection(defer);
    const f = file(64 * MiB);
    const before = fdCount();
    const task = n.sendFile(fd, f.fd, 0, 64 * MiB);
    await waitFor(() => task.waits > 0, 10_000, 'the socket to fill up');
    assert.equal(fdCount(), before + 2, 'a waiting task holds a dup of the socket and the file');
    assert.equal(task.cancel(), true);
    assert.equal(fdCount(), before, 'cancel() did not close the dups');
    const err = await rejectsCode(task, 'PL_ERR_CANCELLED');
    assert.equal(err.sent, task.sent);
    assert.ok(task.sent > 0 && task.sent < 64 * MiB, `sent ${task.sent}`);
    assert.equal(task.cancel(), false);
    // The peer gets exactly the bytes sent before cancel(), then our FIN: nothing more.
    server.end();
    const got = await readToEnd(client);
    assert.equal(got.length, task.sent);
    assert.ok(got.equals(f.data.subarray(0, task.sent)));
  });

  it('sendFile rejects PL_ERR_FILE_TRUNCATED when the file is shorter than offset + length', async (t) => {
    const defer = cleanups(t);
    const { client, server, fd } = await connection(defer);
    const f = file(1000);
    const err = await rejectsCode(n.sendFile(fd, f.fd, 200, 5000), 'PL_ERR_FILE_TRUNCATED');
    assert.equal(err.sent, 800);
    assert.match(err.message, /truncated/);
    server.end();
    assert.ok((await readToEnd(client)).equals(f.data.subarray(200)));
  });

  it('sendFile rejects PL_ERR_FILE_TRUNCATED when the file is truncated during the transfer', async (t) => {
    const defer = cleanups(t);
    const { client, fd } = await connection(defer);
    const path = join(dir, 'shrinking');
    const data = randomFillSync(Buffer.allocUnsafe(16 * MiB));
    writeFileSync(path, data);
    const ffd = openSync(path, 'r+');
    defer(() => closeSync(ffd));
    const task = n.sendFile(fd, ffd, 0, data.length);
    await waitFor(() => task.waits > 0, 10_000, 'the socket to fill up');
    // The task only moves in its poll callback, so nothing is sent between these two lines.
    const cut = task.sent;
    ftruncateSync(ffd, cut);
    const received = receive(client, cut);
    const err = await rejectsCode(task, 'PL_ERR_FILE_TRUNCATED');
    assert.equal(err.sent, cut);
    assert.equal((await received).digest, sha256(data.subarray(0, cut)));
  });
});
