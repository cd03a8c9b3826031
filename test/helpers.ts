// Shared helpers for tests over real sockets. Every helper cleans up after itself on failure.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** dist/src/cli/main.js, from dist/test/helpers.js. */
export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface RunningCli {
  proc: ChildProcessWithoutNullStreams;
  host: string;
  port: number;
  /** Everything the process printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `polyloop ...args` (optionally under a wrapper such as prlimit) and resolves once it
 * printed `listening on HOST:PORT`.
 */
export function startCli(args: string[], wrapper: string[] = []): Promise<RunningCli> {
  const argv = [...wrapper, process.execPath, CLI, ...args];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: 'pipe' });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no "listening on" line within 15 s; stderr: ${err}`));
    }, 15_000);
    const early = (code: number | null): void => {
      clearTimeout(guard);
      reject(new Error(`exited with ${code} before listening; stderr: ${err}`));
    };
    proc.once('exit', early);
    proc.stdout.on('data', (d: Buffer) => {
      const before = out;
      out += d.toString();
      if (before.includes('\n')) return;
      const m = /^listening on \[?([^\]]+?)\]?:(\d+)\n/.exec(out);
      if (m === null) return;
      clearTimeout(guard);
      proc.off('exit', early);
      resolve({
        proc,
        host: m[1]!,
        port: Number(m[2]),
        stdout: () => out,
        stderr: () => err,
        stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          return exited;
        },
      });
    });
  });
}

/** Connects and resolves once connected; the socket is destroyed on test end by the caller. */
export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One buffered reader per socket, so that consecutive reads never lose bytes between them. */
class SocketReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private waiter: (() => void) | undefined;

  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const end = (): void => {
      this.ended = true;
      this.waiter?.();
    };
    socket.once('end', end);
    socket.once('close', end);
  }

  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`socket ended after ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

const readers = new WeakMap<net.Socket, SocketReader>();

/** Reads exactly `n` bytes (rejects if the socket ends first). */
export function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  let r = readers.get(socket);
  if (r === undefined) {
    r = new SocketReader(socket);
    readers.set(socket, r);
  }
  return r.read(n);
}

/** Collects everything until the peer ends the stream. */
export function readToEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

/** Resolves when the socket is fully closed. */
export function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** Polls `predicate` every 10 ms until true; rejects after `limit` ms (a hang guard, not a timing assertion). */
export async function waitFor(
  predicate: () => boolean,
  limit = 10_000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > limit) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs the test file at `fileUrl` again in a child runner with `POLYLOOP_NO_NATIVE=1` (the
 * fallback paths) and returns its spec report; fails the calling test if any case failed.
 */
export function rerunWithoutNative(fileUrl: string): string {
  const env: NodeJS.ProcessEnv = { ...process.env, POLYLOOP_NO_NATIVE: '1' };
  delete env['NODE_TEST_CONTEXT']; // a nested runner must report as a top-level one
  const r = spawnSync(
    process.execPath,
    ['--test', '--test-reporter=spec', fileURLToPath(fileUrl)],
    {
      env,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stdout.slice(-3000));
  return r.stdout;
}
