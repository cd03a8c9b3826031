import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';
import { connect, delay, readBytes, waitFor } from '../helpers.js';
import { addon, cleanups, fdCount, sibling, skip, throwsCode } from './support.js';

/** Adopts an accepted fd as an echo server socket. */
function echo(fd: number): net.Socket {
  const s = new net.Socket({ fd, readable: true, writable: true });
  s.on('data', (d: Buffer) => s.write(d));
  s.on('error', () => {});
  return s;
}

describe('native listen and Acceptor', { skip, timeout: 60_000 }, () => {
  it('accepts 50 waiting clients in one batch, and their fds echo over net.Socket', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    const lfd = n.listen({ host: '127.0.0.1', port: 0, backlog: 128 });
    defer(() => n.close(lfd));
    const port = n.localPort(lfd);
    assert.ok(port > 0);
    const batches: { fds: number[]; peers: string[] }[] = [];
    const served: net.Socket[] = [];
    defer(() => served.forEach((s) => s.destroy()));
    const acceptor = n.createAcceptor(lfd, (fds, peers) => {
      assert.ok(fds instanceof Int32Array);
      batches.push({ fds: [...fds], peers });
      for (const fd of fds) served.push(echo(fd));
    });
    defer(() => acceptor.close());
    assert.equal(acceptor.active, false);

    // Created stopped: the handshakes complete in the kernel and wait in the backlog.
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(port)));
    defer(() => clients.forEach((c) => c.destroy()));
    await delay(50);
    assert.equal(batches.length, 0, 'accepted before start()');
    acceptor.start();
    assert.equal(acceptor.active, true);
    await waitFor(() => served.length === 50, 10_000, '50 accepted connections');

    assert.equal(batches.length, 1, 'all 50 waiting connections come in one batch');
    assert.equal(batches[0]!.fds.length, 50);
    assert.equal(new Set(batches[0]!.fds).size, 50);
    assert.deepEqual(
      [...batches[0]!.peers].sort(),
      clients.map((c) => `127.0.0.1:${c.localPort}`).sort(),
    );
    await Promise.all(
      clients.map(async (c, i) => {
        const msg = `hello ${i} `.repeat(i + 1);
        c.write(msg);
        assert.equal((await readBytes(c, Buffer.byteLength(msg))).toString(), msg);
      }),
    );
    assert.equal(acceptor.accepted, 50);
    assert.equal(acceptor.shed, 0);
    assert.equal(acceptor.errors, 0);
    assert.equal(acceptor.lastError, null);
    assert.equal(acceptor.fd, lfd);
  });

  it('accepts nothing while stopped and the waiting client once started again', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    const lfd = n.listen({ host: '127.0.0.1', port: 0 });
    defer(() => n.close(lfd));
    const port = n.localPort(lfd);
    const served: net.Socket[] = [];
    defer(() => served.forEach((s) => s.destroy()));
    const acceptor = n.createAcceptor(lfd, (fds) => fds.forEach((fd) => served.push(echo(fd))));
    defer(() => acceptor.close());
    for (let round = 1; round <= 3; round++) {
      acceptor.start();
      acceptor.start(); // a second start is a no-op
      const a = await connect(port);
      defer(() => a.destroy());
      await waitFor(() => served.length === round * 2 - 1, 10_000, 'the first client');
      acceptor.stop();
      acceptor.stop();
      assert.equal(acceptor.active, false);
      const b = await connect(port);
      defer(() => b.destroy());
      await delay(100);
      assert.equal(served.length, round * 2 - 1, 'accepted while stopped');
      acceptor.start();
      await waitFor(() => served.length === round * 2, 10_000, 'the waiting client');
      b.write('ping');
      assert.equal((await readBytes(b, 4)).toString(), 'ping');
      acceptor.stop();
    }
    assert.equal(acceptor.accepted, 6);
  });

  it('stops for good when closed from inside its callback, leaving the fds usable', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    const lfd = n.listen({ host: '127.0.0.1', port: 0 });
    defer(() => n.close(lfd));
    const port = n.localPort(lfd);
    const served: net.Socket[] = [];
    defer(() => served.forEach((s) => s.destroy()));
    const acceptor = n.createAcceptor(lfd, (fds) => {
      acceptor.close();
      fds.forEach((fd) => served.push(echo(fd)));
    });
    acceptor.start();
    const a = await connect(port);
    defer(() => a.destroy());
    await waitFor(() => served.length === 1, 10_000, 'the first client');
    assert.equal(acceptor.closed, true);
    assert.equal(acceptor.active, false);
    a.write('still here');
    assert.equal((await readBytes(a, 10)).toString(), 'still here');
    throwsCode(() => acceptor.start(), 'PL_ERR_SERVER_CLOSED');
    acceptor.close(); // idempotent
    const b = await connect(port);
    defer(() => b.destroy());
    await delay(100);
    assert.equal(served.length, 1, 'a closed acceptor accepted');
  });

  it('refuses a second watcher of a watched fd in one thread, and takes a dup() of it', (t) => {
    const n = addon();
    const defer = cleanups(t);
    const lfd = n.listen({ host: '127.0.0.1', port: 0 });
    defer(() => n.close(lfd));
    const first = n.createAcceptor(lfd, () => {});
    defer(() => first.close());
    const idle = n.createAcceptor(lfd, () => {}); // fine while nobody watches
    defer(() => idle.close());
    first.start();
    throwsCode(() => idle.start(), 'PL_ERR_NATIVE', 'EEXIST');
    assert.equal(idle.active, false);
    throwsCode(() => n.createAcceptor(lfd, () => {}), 'PL_ERR_NATIVE', 'EEXIST');
    const copy = n.dup(lfd);
    defer(() => n.close(copy));
    assert.notEqual(copy, lfd);
    const second = n.createAcceptor(copy, () => {});
    defer(() => second.close());
    second.start();
    assert.equal(second.active, true);
  });

  it('listens on a port that another socket holds when both ask for reusePort', (t) => {
    const n = addon();
    const defer = cleanups(t);
    const a = n.listen({ host: '127.0.0.1', port: 0, reusePort: true });
    defer(() => n.close(a));
    const port = n.localPort(a);
    throwsCode(() => n.listen({ host: '127.0.0.1', port }), 'PL_ERR_LISTEN', 'EADDRINUSE');
    const b = n.listen({ host: '127.0.0.1', port, reusePort: true });
    defer(() => n.close(b));
    assert.equal(n.localPort(b), port);
  });

  it('reports IPv6 peers as [ip]:port, and IPv4 ones on a dual-stack socket as mapped', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    let v6: number;
    try {
      v6 = n.listen({ host: '::1', port: 0 });
    } catch {
      return t.skip('no IPv6 loopback here');
    }
    defer(() => n.close(v6));
    const dual = n.listen({ port: 0 }); // the default host '::', dual-stack
    defer(() => n.close(dual));
    const peers: string[] = [];
    for (const fd of [v6, dual]) {
      const acceptor = n.createAcceptor(fd, (fds, p) => {
        peers.push(...p);
        fds.forEach((f) => n.close(f));
      });
      defer(() => acceptor.close());
      acceptor.start();
    }
    const a = await connect(n.localPort(v6), '::1');
    defer(() => a.destroy());
    await waitFor(() => peers.length === 1, 10_000, 'the IPv6 client');
    const b = await connect(n.localPort(dual), '127.0.0.1');
    defer(() => b.destroy());
    await waitFor(() => peers.length === 2, 10_000, 'the IPv4 client');
    assert.deepEqual(peers, [`[::1]:${a.localPort}`, `[::ffff:127.0.0.1]:${b.localPort}`]);
  });

  it('leaves no fd behind once listeners and acceptors are closed', async () => {
    const n = addon();
    const before = fdCount();
    for (let i = 0; i < 20; i++) {
      const lfd = n.listen({ host: '127.0.0.1', port: 0 });
      const acceptor = n.createAcceptor(lfd, () => {});
      acceptor.start();
      acceptor.close();
      n.close(lfd);
    }
    await delay(10); // the poll handles close on the next loop turn
    assert.equal(fdCount(), before);
  });

  it('works in worker threads, which exit cleanly with a started acceptor and a waiting sendFile', () => {
    // In a child process: if a worker left a handle open, Node would abort the whole process.
    const r = spawnSync(process.execPath, [sibling('worker-child.js')], {
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, `worker-child failed (${r.signal ?? r.status}): ${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      'worker 1 accepted 127.0.0.1',
      'worker 2 accepted 127.0.0.1',
      'worker 2 sendFile waiting',
      'terminated 1',
      'terminated 2',
      'main still accepts',
    ]);
  });
});
