import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';
import { connect, readBytes } from '../helpers.js';
import { addon, cleanups, lines, NativeListener, sibling, skip, throwsCode } from './support.js';

describe('native fd passing', { skip, timeout: 60_000 }, () => {
  it('recvFd returns null when nothing has arrived, then each fd and payload in order', (t) => {
    const n = addon();
    const defer = cleanups(t);
    const [a, b] = n.socketPair();
    defer(() => n.close(a));
    defer(() => n.close(b));
    assert.equal(n.recvFd(b), null);
    const [x, y] = n.socketPair();
    defer(() => n.close(x));
    defer(() => n.close(y));
    const payloads = ['héllo ✓', '', 'x'.repeat(16 * 1024)];
    n.sendFd(a, x, payloads[0]);
    n.sendFd(a, x);
    n.sendFd(a, x, payloads[2]);
    const got = [n.recvFd(b), n.recvFd(b), n.recvFd(b)];
    assert.equal(n.recvFd(b), null);
    assert.deepEqual(
      got.map((m) => m?.payload),
      payloads,
    );
    for (const m of got) {
      assert.ok(m !== null);
      defer(() => n.close(m.fd));
      assert.ok(![a, b, x, y].includes(m.fd), 'the received fd is a new number');
    }
    // The received fd is the same socket as x: what is sent through it arrives at y.
    n.sendFd(got[0]!.fd, a, 'through the copy');
    const back = n.recvFd(y);
    assert.ok(back !== null);
    defer(() => n.close(back.fd));
    assert.equal(back.payload, 'through the copy');
  });

  it('recvFd rejects bytes that are not a polyloop message, and a closed peer', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    const [a, b] = n.socketPair();
    defer(() => n.close(b));
    const raw = new net.Socket({ fd: a, readable: false, writable: true });
    defer(() => raw.destroy());
    const write = (data: string | Buffer): Promise<void> =>
      new Promise((resolve) => raw.write(data, () => resolve()));
    await write(Buffer.from([0, 0, 0, 0]));
    throwsCode(() => n.recvFd(b), 'PL_ERR_BAD_FRAME'); // a header without an fd
    await write('garb');
    throwsCode(() => n.recvFd(b), 'PL_ERR_BAD_FRAME'); // a length over 16 KiB
    assert.equal(n.recvFd(b), null);
    raw.destroy();
    await new Promise((r) => raw.once('close', r));
    throwsCode(() => n.recvFd(b), 'PL_ERR_NOT_CONNECTED');
  });

  it('hands a listening and a connected socket to another process, which serves them', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    const [mine, theirs] = n.socketPair();
    let mineOpen = true;
    defer(() => mineOpen && n.close(mine));
    const child = spawn(process.execPath, [sibling('fd-child.js')], {
      stdio: ['pipe', 'pipe', 'inherit', theirs],
    });
    defer(() => child.kill('SIGKILL'));
    n.close(theirs); // the child has its own copy as fd 3
    const next = lines(child.stdout!);

    // A listening socket: once it is sent and our copy closed, only the child can answer.
    const lfd = n.listen({ host: '127.0.0.1', port: 0 });
    const port = n.localPort(lfd);
    n.sendFd(mine, lfd, 'listen');
    n.close(lfd);
    assert.equal(await next(), 'listening');
    const c = await connect(port);
    defer(() => c.destroy());
    c.write('served by the child');
    assert.equal((await readBytes(c, 19)).toString(), 'served by the child');

    // A connected socket, accepted natively here and adopted there.
    const listener = new NativeListener(n);
    defer(() => listener.close());
    const { client, fd } = await listener.connect();
    defer(() => client.destroy());
    n.sendFd(mine, fd, 'conn ✓');
    n.close(fd);
    assert.equal(await next(), 'adopted conn ✓');
    assert.equal((await readBytes(client, 16)).toString(), 'hello from child');
    client.write('ping');
    assert.equal((await readBytes(client, 4)).toString(), 'ping');

    // Closing our end tells the child to finish.
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    n.close(mine);
    mineOpen = false;
    assert.equal(await exited, 0);
  });
});
