import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  mkdtempSync,
  openSync,
  closeSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nativeStatus } from '../../native/index.js';
import {
  type Connection,
  type Logger,
  type PolyloopError,
  lineCodec,
  TcpServer,
} from '../../src/index.js';
import { closed, connect, readBytes, rerunWithoutNative, waitFor } from '../helpers.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };
const mode = nativeStatus().available ? 'sendfile' : 'buffered copy';
const dir = mkdtempSync(join(tmpdir(), 'polyloop-sendfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type LineConn = Connection<string, Uint8Array | string>;

/**
 * A server that answers "PATH OFFSET LENGTH" with those bytes of the file and then closes; the
 * promise of each transfer is kept for the test to inspect.
 */
async function fileServer(): Promise<{
  port: number;
  transfers: Promise<number>[];
  server: TcpServer<string, Uint8Array | string>;
}> {
  const transfers: Promise<number>[] = [];
  const server = new TcpServer(
    {
      codec: lineCodec(),
      onMessage(conn: LineConn, line: string) {
        const [path, offset, length, framing] = line.split(' ');
        if (framing === 'framed') conn.send('HEAD');
        const t = conn.sendFile(path!, { offset: Number(offset), length: Number(length) });
        transfers.push(t);
        if (framing === 'framed') conn.send('TAIL');
        t.then(
          () => conn.close(),
          () => conn.close(),
        );
      },
    },
    { host: '127.0.0.1', logger: quiet },
  );
  after(() => server.close(0));
  const { port } = await server.listen();
  return { port, transfers, server };
}

function readAll(socket: import('node:net').Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

describe(`Connection.sendFile (${mode})`, () => {
  it('sends the exact bytes of random files at random offsets and lengths', async () => {
    const { port } = await fileServer();
    for (const size of [
      0,
      1,
      4095,
      65_536 + 17,
      1024 * 1024 + 3,
      8 * 1024 * 1024,
      64 * 1024 * 1024,
    ]) {
      const data = randomBytes(size);
      const path = join(dir, `f${size}`);
      writeFileSync(path, data);
      for (let i = 0; i < (size > 8 * 1024 * 1024 ? 1 : 3); i++) {
        const offset = Math.floor(Math.random() * (size + 1));
        const length = Math.floor(Math.random() * (size - offset + 1));
        const s = await connect(port);
        const got = readAll(s);
        s.write(`${path} ${offset} ${length}\n`);
        const bytes = await got;
        assert.equal(bytes.length, length, `size ${size} offset ${offset}`);
        assert.ok(
          bytes.equals(data.subarray(offset, offset + length)),
          `size ${size} offset ${offset}`,
        );
      }
    }
  });

  it('keeps order with messages sent before and after it', async () => {
    const { port } = await fileServer();
    const data = randomBytes(300_000);
    const path = join(dir, 'ordered');
    writeFileSync(path, data);
    const s = await connect(port);
    const got = readAll(s);
    s.write(`${path} 0 ${data.length} framed\n`);
    const bytes = await got;
    assert.equal(bytes.subarray(0, 5).toString(), 'HEAD\n');
    assert.ok(bytes.subarray(5, 5 + data.length).equals(data));
    assert.equal(bytes.subarray(5 + data.length).toString(), 'TAIL\n');
  });

  it('resolves 0 for a zero-length range', async () => {
    const { port, transfers } = await fileServer();
    const path = join(dir, 'zero');
    writeFileSync(path, 'abc');
    const s = await connect(port);
    const got = readAll(s);
    s.write(`${path} 1 0\n`);
    assert.equal((await got).length, 0);
    assert.equal(await transfers[0], 0);
  });

  it('reads at offsets past 4 GiB', async () => {
    const path = join(dir, 'sparse');
    const base = 4 * 1024 * 1024 * 1024 + 123;
    const marker = randomBytes(4096);
    const fd = openSync(path, 'w');
    writeSync(fd, marker, 0, marker.length, base);
    closeSync(fd);
    const { port } = await fileServer();
    const s = await connect(port);
    const got = readAll(s);
    s.write(`${path} ${base - 10} ${marker.length + 10}\n`);
    const bytes = await got;
    assert.ok(bytes.subarray(0, 10).equals(Buffer.alloc(10)));
    assert.ok(bytes.subarray(10).equals(marker));
  });

  it('rejects, closes and leaks no fd when the peer disconnects mid-transfer', async () => {
    const path = join(dir, 'big');
    writeFileSync(path, randomBytes(32 * 1024 * 1024));
    const { port, transfers, server } = await fileServer();
    // A first connection opens what a server keeps for good (the acceptor's spare fd).
    const warm = await connect(port);
    const warmed = readAll(warm);
    warm.write(`${path} 0 1\n`);
    await warmed;
    warm.destroy();
    await closed(warm);
    await waitFor(() => server.stats().active === 0);
    const before = fdCount();
    const s = await connect(port);
    s.write(`${path} 0 ${32 * 1024 * 1024}\n`);
    await readBytes(s, 1024 * 1024);
    s.destroy();
    await assert.rejects(transfers[1]!);
    await waitFor(() => server.stats().active === 0);
    await waitFor(() => fdCount() <= before, 10_000, `fd count back to ${before}`);
  });

  it('closes the connection with PL_ERR_FILE_TRUNCATED when the file shrinks during the send', async () => {
    const path = join(dir, 'shrinking');
    const size = 32 * 1024 * 1024;
    writeFileSync(path, randomBytes(size));
    const { port, transfers } = await fileServer();
    const s = await connect(port);
    s.write(`${path} 0 ${size}\n`);
    // Truncate once the transfer is under way (it has measured the file and sent some of it).
    await readBytes(s, 2 * 1024 * 1024);
    truncateSync(path, 1024 * 1024);
    const got = readAll(s).catch(() => Buffer.alloc(0));
    await assert.rejects(
      transfers[0]!,
      (err: PolyloopError) => err.code === 'PL_ERR_FILE_TRUNCATED',
    );
    await closed(s);
    assert.ok((await got).length < size);
  });

  it('rejects a range beyond the end of the file with PL_ERR_INVALID_ARG', async () => {
    const path = join(dir, 'small');
    writeFileSync(path, 'abc');
    const { port, transfers } = await fileServer();
    const s = await connect(port);
    s.write(`${path} 2 5\n`);
    await closed(s);
    await assert.rejects(transfers[0]!, (err: PolyloopError) => err.code === 'PL_ERR_INVALID_ARG');
  });

  it('sends from an fd the caller owns, and rejects a given length past its end as truncated', async () => {
    const path = join(dir, 'by-fd');
    writeFileSync(path, 'abcdef');
    const fd = openSync(path, 'r');
    after(() => closeSync(fd));
    const results: (number | string)[] = [];
    const server = new TcpServer(
      {
        onConnection(conn) {
          conn
            .sendFile(fd, { offset: 1, length: 3 })
            .then((n) => {
              results.push(n);
              return conn.sendFile(fd, { offset: 4, length: 10 });
            })
            .catch((err: PolyloopError) => results.push(err.code));
        },
      },
      { host: '127.0.0.1', logger: quiet },
    );
    after(() => server.close(0));
    const { port } = await server.listen();
    const s = await connect(port);
    const got = readAll(s).catch(() => Buffer.alloc(0));
    await waitFor(() => results.length === 2);
    assert.deepEqual(results, [3, 'PL_ERR_FILE_TRUNCATED']);
    assert.equal((await got).subarray(0, 3).toString(), 'bcd');
  });

  if (nativeStatus().available && process.env['POLYLOOP_NO_NATIVE'] === undefined) {
    it('passes the same cases through the buffered copy when the addon is missing', () => {
      assert.match(rerunWithoutNative(import.meta.url), /buffered copy/);
    });
  }
});
