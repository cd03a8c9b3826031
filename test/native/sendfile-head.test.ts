// sendFile's `head`: bytes sent before the file, in its first packet.
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NativeAddon } from '../../native/index.js';
import { addon, cleanups, NativeListener, skip } from './support.js';

/** Reads until `total` bytes came (a pause now and then, so the sender's socket fills up). */
function receive(socket: net.Socket, total: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let bytes = 0;
  let chunks = 0;
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error(`closed after ${bytes} of ${total} bytes`));
    socket.on('data', (d: Buffer) => {
      parts.push(d);
      bytes += d.length;
      if (bytes >= total) {
        socket.off('close', onClose);
        resolve(Buffer.concat(parts));
      } else if (++chunks % 16 === 0) {
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      }
    });
    socket.once('close', onClose);
    socket.resume();
  });
}

describe('native sendFile with a head', { skip, timeout: 120_000 }, () => {
  let n: NativeAddon;
  let listener: NativeListener;
  let dir: string;
  let fd: number;
  const data = randomFillSync(Buffer.allocUnsafe(8 * 1024 * 1024 + 5));

  before(() => {
    n = addon();
    listener = new NativeListener(n);
    dir = mkdtempSync(join(tmpdir(), 'polyloop-sendfile-head-'));
    const path = join(dir, 'data.bin');
    writeFileSync(path, data);
    fd = openSync(path, 'r');
  });
  after(() => {
    listener?.close();
    if (fd !== undefined) closeSync(fd);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the addon says it takes a head', () => {
    assert.equal(n.sendFileHead, true);
  });

  for (const [what, offset, length] of [
    ['a small range', 3, 1000],
    ['a range larger than the socket buffers', 1, 8 * 1024 * 1024],
    ['no file bytes', 0, 0],
  ] as const) {
    it(`sendFile sends the head, then ${what}, and counts the file bytes only`, async (t) => {
      const defer = cleanups(t);
      const { client, fd: sock } = await listener.connect();
      client.pause();
      defer(() => client.destroy());
      const server = new net.Socket({ fd: sock, readable: true, writable: true });
      server.on('error', () => {});
      defer(() => server.destroy());
      const head = Buffer.from(`HEAD ${what}\r\n\r\n`);
      // A view into a larger buffer: only its own bytes may go out.
      const framed = Buffer.concat([Buffer.from('xx'), head, Buffer.from('yy')]);
      const task = n.sendFile(sock, fd, offset, length, framed.subarray(2, 2 + head.length));
      framed.fill(0); // copied at the call: later changes do not reach the peer
      const got = receive(client, head.length + length);
      assert.equal(await task, length);
      const bytes = await got;
      assert.deepEqual(bytes.subarray(0, head.length), head);
      assert.ok(bytes.subarray(head.length).equals(data.subarray(offset, offset + length)));
    });
  }

  it('sendFile refuses a head that is not a Uint8Array', async (t) => {
    const defer = cleanups(t);
    const { client, fd: sock } = await listener.connect();
    defer(() => client.destroy());
    const server = new net.Socket({ fd: sock, readable: true, writable: true });
    defer(() => server.destroy());
    const loose = n.sendFile as unknown as (...args: unknown[]) => unknown;
    for (const bad of ['text', new Uint16Array(2), {}]) {
      assert.throws(() => loose(sock, fd, 0, 1, bad), { code: 'PL_ERR_INVALID_ARG' });
    }
  });
});
