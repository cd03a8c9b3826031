// Shared pieces of the native-layer tests: the addon (or why the suite is skipped), fd counting,
// a per-test cleanup stack, and an acceptor that hands out server-side fds by client port.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import {
  type NativeAcceptor,
  type NativeAddon,
  type NativeError,
  nativeStatus,
  requireNative,
} from '../../native/index.js';
import { isPolyloopError, type ErrorCode } from '../../src/index.js';

const status = nativeStatus();
const required = !['', '0', undefined].includes(process.env['POLYLOOP_NATIVE_REQUIRED']);

/**
 * `describe(..., { skip })`: skips when the addon is not built, unless POLYLOOP_NATIVE_REQUIRED
 * is set (CI), in which case the tests run and fail loudly.
 */
export const skip: string | false =
  status.available || required ? false : `native addon unavailable: ${status.reason}`;

/** The addon; throws PL_ERR_NATIVE_UNAVAILABLE when it is missing. */
export function addon(): NativeAddon {
  return requireNative('the native-layer tests');
}

/** A compiled file next to this one, e.g. 'emfile-child.js'. */
export function sibling(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

/** How many fds this process holds now. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Runs the registered cleanups after the test, last registered first. */
export function cleanups(t: TestContext): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of fns.reverse()) {
      try {
        await fn();
      } catch {
        // cleanup of something already gone
      }
    }
  });
  return (fn) => void fns.push(fn);
}

/** Asserts that `fn` throws a polyloop error with `code` (and errno), and returns it. */
export function throwsCode(fn: () => unknown, code: ErrorCode, errno?: string): NativeError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  return checkError(caught, code, errno);
}

/** Asserts that `promise` rejects with `code` (and errno), and returns the error. */
export async function rejectsCode(
  promise: Promise<unknown>,
  code: ErrorCode,
  errno?: string,
): Promise<NativeError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  return checkError(caught, code, errno);
}

function checkError(caught: unknown, code: ErrorCode, errno: string | undefined): NativeError {
  assert.ok(caught !== undefined, `expected ${code}, but nothing was thrown`);
  assert.ok(isPolyloopError(caught), `expected a PolyloopError, got ${inspect(caught)}`);
  const err = caught as NativeError;
  assert.equal(err.code, code, err.message);
  if (errno !== undefined) {
    assert.equal(err.errno, errno, err.message);
    assert.ok(err.message.includes(errno), `the message names ${errno}: ${err.message}`);
  }
  return err;
}

/**
 * A native listener with a started acceptor on 127.0.0.1. `connect()` opens a client and
 * resolves with it and the server-side fd the acceptor took for it (matched by the peer port).
 * The fds are the caller's: adopt or close them.
 */
export class NativeListener {
  readonly fd: number;
  readonly port: number;
  readonly acceptor: NativeAcceptor;
  private readonly waiting = new Map<string, (fd: number) => void>();
  private readonly arrived = new Map<string, number>();

  constructor(private readonly n: NativeAddon) {
    this.fd = n.listen({ host: '127.0.0.1', port: 0 });
    this.port = n.localPort(this.fd);
    this.acceptor = n.createAcceptor(this.fd, (fds, peers) => {
      fds.forEach((fd, i) => {
        const peer = peers[i] ?? '';
        const wake = this.waiting.get(peer);
        if (wake === undefined) this.arrived.set(peer, fd);
        else wake(fd);
      });
    });
    this.acceptor.start();
  }

  async connect(): Promise<{ client: net.Socket; fd: number }> {
    const client = net.connect({ host: '127.0.0.1', port: this.port });
    client.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    const peer = `127.0.0.1:${client.localPort}`;
    const early = this.arrived.get(peer);
    if (early !== undefined) {
      this.arrived.delete(peer);
      return { client, fd: early };
    }
    const fd = await new Promise<number>((resolve) => this.waiting.set(peer, resolve));
    this.waiting.delete(peer);
    return { client, fd };
  }

  close(): void {
    this.acceptor.close();
    this.n.close(this.fd);
  }
}

/** Lines from a stream (a child's stdout), one `next()` at a time. */
export function lines(stream: Readable): () => Promise<string> {
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const rl = createInterface({ input: stream });
  rl.on('line', (line) => {
    queue.push(line);
    wake?.();
  });
  rl.on('close', () => {
    ended = true;
    wake?.();
  });
  return async () => {
    while (queue.length === 0) {
      if (ended) throw new Error('the stream ended');
      await new Promise<void>((r) => (wake = r));
    }
    return queue.shift()!;
  };
}
