import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { NativeAcceptor, NativeAddon, SendFileTask } from '../../native/index.js';
import { isPolyloopError, PolyloopArgumentError, PolyloopNetworkError } from '../../src/index.js';
import { addon, cleanups, NativeListener, rejectsCode, skip, throwsCode } from './support.js';

/** Calls `fn` with arguments the types forbid, as plain JavaScript callers can. */
function loose<F>(fn: F): (...args: unknown[]) => unknown {
  return fn as unknown as (...args: unknown[]) => unknown;
}

const NOT_FDS: unknown[] = ['3', -1, 1.5, NaN, Infinity, 2 ** 31, null, undefined, {}, 3n];

describe('native bad arguments', { skip, timeout: 60_000 }, () => {
  /** An fd number that is surely closed: opened, then closed. */
  function closedFd(): number {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    return fd;
  }

  it('every fd-taking function throws PL_ERR_INVALID_ARG for values that are not fds', () => {
    const n = addon();
    const calls: [string, (fd: unknown) => unknown][] = [
      ['dup', (fd) => loose(n.dup)(fd)],
      ['close', (fd) => loose(n.close)(fd)],
      ['localPort', (fd) => loose(n.localPort)(fd)],
      ['createAcceptor', (fd) => loose(n.createAcceptor)(fd, () => {})],
      ['sendFile socket', (fd) => loose(n.sendFile)(fd, 0, 0, 1)],
      ['sendFile file', (fd) => loose(n.sendFile)(1, fd, 0, 1)],
      ['sendFd socket', (fd) => loose(n.sendFd)(fd, 0)],
      ['sendFd fd', (fd) => loose(n.sendFd)(1, fd)],
      ['recvFd', (fd) => loose(n.recvFd)(fd)],
    ];
    for (const [name, call] of calls) {
      for (const bad of NOT_FDS) {
        const err = throwsCode(() => call(bad), 'PL_ERR_INVALID_ARG');
        assert.ok(err instanceof PolyloopArgumentError, `${name}(${String(bad)})`);
        assert.match(err.message, /must be a file descriptor/, name);
      }
    }
  });

  it('closed fds give PL_ERR_NATIVE with EBADF in the code, errno, syscall and message', (t) => {
    const n = addon();
    const defer = cleanups(t);
    const socket = n.listen({ host: '127.0.0.1' }); // any non-blocking socket
    defer(() => n.close(socket));
    const fd = closedFd();
    const checks: [() => unknown, string][] = [
      [() => n.dup(fd), 'fcntl'],
      [() => n.close(fd), 'close'],
      [() => n.localPort(fd), 'getsockname'],
      [() => n.createAcceptor(fd, () => {}), 'getsockopt'],
      [() => n.sendFile(fd, 0, 0, 1), 'fcntl'],
      [() => n.sendFile(socket, fd, 0, 1), 'fcntl'],
      [() => n.sendFd(fd, 1), 'getsockopt'],
      [() => n.recvFd(fd), 'getsockopt'],
    ];
    for (const [call, syscall] of checks) {
      const err = throwsCode(call, 'PL_ERR_NATIVE', 'EBADF');
      assert.equal(err.syscall, syscall);
      assert.ok(err instanceof PolyloopNetworkError);
      assert.match(err.message, new RegExp(String(fd)), 'the message names the fd');
    }
  });

  it('listen throws PL_ERR_INVALID_ARG for bad options and PL_ERR_LISTEN for a taken port', (t) => {
    const n = addon();
    const defer = cleanups(t);
    const listen = loose(n.listen);
    const bad: unknown[] = [
      'x',
      42,
      { port: -1 },
      { port: 65536 },
      { port: 1.5 },
      { port: '80' },
      { host: 'localhost' },
      { host: '1.2.3.4.5' },
      { host: 7 },
      { backlog: -1 },
      { backlog: 'many' },
      { reuseAddr: 1 },
      { reusePort: 'yes' },
      { ipv6Only: null },
    ];
    for (const options of bad) {
      throwsCode(() => listen(options), 'PL_ERR_INVALID_ARG');
    }
    const fd = n.listen({ host: '127.0.0.1' });
    defer(() => n.close(fd));
    const err = throwsCode(
      () => n.listen({ host: '127.0.0.1', port: n.localPort(fd) }),
      'PL_ERR_LISTEN',
      'EADDRINUSE',
    );
    assert.equal(err.syscall, 'bind');
  });

  it('createAcceptor checks its callback and that the fd is a listening socket', (t) => {
    const n = addon();
    const defer = cleanups(t);
    const lfd = n.listen({ host: '127.0.0.1' });
    defer(() => n.close(lfd));
    for (const cb of [undefined, null, 'f', {}]) {
      throwsCode(() => loose(n.createAcceptor)(lfd, cb), 'PL_ERR_INVALID_ARG');
    }
    const [a, b] = n.socketPair();
    defer(() => n.close(a));
    defer(() => n.close(b));
    const err = throwsCode(() => n.createAcceptor(a, () => {}), 'PL_ERR_INVALID_ARG');
    assert.match(err.message, /not a listening socket/);
    const file = openSync('/dev/null', 'r');
    defer(() => closeSync(file));
    throwsCode(() => n.createAcceptor(file, () => {}), 'PL_ERR_NATIVE', 'ENOTSOCK');
  });

  it('Acceptor methods called on the wrong object throw, never crash', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    const listener = new NativeListener(n);
    defer(() => listener.close());
    const acceptor: NativeAcceptor = listener.acceptor;
    // V8 itself refuses a foreign receiver ("Illegal invocation"); either way, a clean throw.
    const refused = (err: unknown): boolean =>
      err instanceof TypeError || isPolyloopError(err, 'PL_ERR_INVALID_ARG');
    for (const method of ['start', 'stop', 'close'] as const) {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- a foreign `this` is the point
      const fn = acceptor[method];
      assert.throws(() => fn.call({}), refused, method);
    }
    const proto = Object.getPrototypeOf(acceptor) as object;
    assert.throws(() => Reflect.get(proto, 'accepted', {}), refused, 'accepted');
    assert.equal(acceptor.active, true, 'the acceptor was disturbed');
    // The constructor is reachable from JS: without new it throws; with new it is inert.
    const Ctor = acceptor.constructor as unknown as (...args: unknown[]) => unknown;
    throwsCode(() => Ctor(listener.fd, () => {}), 'PL_ERR_INVALID_ARG');

    const { client, fd } = await listener.connect();
    defer(() => client.destroy());
    defer(() => n.close(fd));
    const file = openSync('/dev/null', 'r');
    defer(() => closeSync(file));
    const task: SendFileTask = n.sendFile(fd, file, 0, 0);
    assert.equal(await task, 0);
    assert.equal(task.cancel(), false, 'cancel() after the end');
  });

  it('sendFile checks offset, length and the socket mode, and rejects a file it cannot read', async (t) => {
    const n = addon();
    const defer = cleanups(t);
    const listener = new NativeListener(n);
    defer(() => listener.close());
    const { client, fd } = await listener.connect();
    defer(() => client.destroy());
    defer(() => n.close(fd));
    const sendFile = loose(n.sendFile);
    for (const [offset, length] of [
      [-1, 1],
      [0, -1],
      [0.5, 1],
      [0, 2 ** 53],
      ['0', 1],
      [0, undefined],
      [0, 10n],
    ]) {
      throwsCode(() => sendFile(fd, 0, offset, length), 'PL_ERR_INVALID_ARG');
    }
    // A blocking socket would block the thread: refused.
    const [a, b] = n.socketPair();
    defer(() => n.close(a));
    defer(() => n.close(b));
    const file = openSync('/dev/null', 'r');
    defer(() => closeSync(file));
    const blocking = throwsCode(() => n.sendFile(a, file, 0, 1), 'PL_ERR_INVALID_ARG');
    assert.match(blocking.message, /blocking mode/);
    // A socket is not a file sendfile(2) can read from (EINVAL or ESPIPE): a rejection.
    const err = await rejectsCode(n.sendFile(fd, a, 0, 10), 'PL_ERR_NATIVE');
    assert.ok(err.errno === 'EINVAL' || err.errno === 'ESPIPE', `errno ${err.errno}`);
    assert.equal(err.syscall, 'sendfile');
  });

  it('sendFd and setFdLimit check their other arguments', (t) => {
    const n: NativeAddon = addon();
    const defer = cleanups(t);
    const [a, b] = n.socketPair();
    defer(() => n.close(a));
    defer(() => n.close(b));
    throwsCode(() => loose(n.sendFd)(a, b, 42), 'PL_ERR_INVALID_ARG');
    throwsCode(() => n.sendFd(a, b, 'x'.repeat(16 * 1024 + 1)), 'PL_ERR_INVALID_ARG');
    assert.equal(n.recvFd(b), null, 'a refused sendFd sent nothing');
    // SCM_RIGHTS needs a Unix socket (TCP would drop the fd silently).
    const lfd = n.listen({ host: '127.0.0.1' });
    defer(() => n.close(lfd));
    for (const call of [() => n.sendFd(lfd, a), () => n.recvFd(lfd)]) {
      assert.match(throwsCode(call, 'PL_ERR_INVALID_ARG').message, /not a Unix socket/);
    }
    const file = openSync('/dev/null', 'r');
    defer(() => closeSync(file));
    throwsCode(() => n.recvFd(file), 'PL_ERR_NATIVE', 'ENOTSOCK');

    for (const soft of [-1, 1.5, 'x', null, undefined, NaN]) {
      throwsCode(() => loose(n.setFdLimit)(soft), 'PL_ERR_INVALID_ARG');
    }
    const { soft, hard } = n.getFdLimit();
    assert.ok(soft <= hard && soft > 0, `${soft} / ${hard}`);
    assert.deepEqual(n.setFdLimit(soft), { soft, hard });
    if (hard !== Infinity) {
      const over = throwsCode(() => n.setFdLimit(hard + 1), 'PL_ERR_NATIVE', 'EINVAL');
      assert.equal(over.syscall, 'setrlimit');
    }
    assert.deepEqual(n.getFdLimit(), { soft, hard }, 'a refused setFdLimit changed the limit');
  });
});
