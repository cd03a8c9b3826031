// Shared pieces of the concurrency suites: the variants every model test runs against, a line
// client, and a server started per suite with cleanup registered at once.
import net from 'node:net';
import { after } from 'node:test';
import { serve, type Server, type ServeOptions } from '../../src/index.js';
import { nativeStatus } from '../../native/index.js';
import { nodeHasReusePort } from '../../src/concurrency/reuse-port.js';

export const APP = new URL('./fixtures/loop-app.js', import.meta.url);

export interface Variant {
  name: string;
  options: ServeOptions;
  /** Why this variant cannot run here (it is skipped with that reason). */
  skip?: string;
}

const noNative = nativeStatus().available ? undefined : 'native addon not built';

/** Every model × worker kind, 2 loops each (the reactor has one). */
export const VARIANTS: Variant[] = [
  { name: 'reactor', options: { model: 'reactor' } },
  {
    name: 'half-sync/thread/ring',
    options: { model: 'half-sync', workers: 'thread', handoff: 'ring' },
  },
  {
    name: 'half-sync/thread/port',
    options: { model: 'half-sync', workers: 'thread', handoff: 'port' },
  },
  { name: 'half-sync/process', options: { model: 'half-sync', workers: 'process' } },
  {
    name: 'leader-follower/thread',
    options: { model: 'leader-follower', workers: 'thread' },
    ...(noNative !== undefined ? { skip: noNative } : {}),
  },
  {
    name: 'reuse-port/thread',
    options: { model: 'reuse-port', workers: 'thread' },
    ...(noNative !== undefined && !nodeHasReusePort() ? { skip: noNative } : {}),
  },
  {
    name: 'reuse-port/process',
    options: { model: 'reuse-port', workers: 'process' },
    ...(noNative !== undefined && !nodeHasReusePort() ? { skip: noNative } : {}),
  },
];

/** Starts `APP` with `options` (2 loops unless reactor) and closes it after the suite. */
export async function startServer(options: ServeOptions, app: URL = APP): Promise<Server> {
  const loops = options.model === 'reactor' ? {} : { loops: 2 };
  const server = await serve(app, {
    host: '127.0.0.1',
    port: 0,
    shutdownTimeout: 2000,
    ...loops,
    ...options,
  });
  after(() => server.close());
  return server;
}

/** A line-protocol client: `ask` sends a line and resolves with the next line received. */
export class LineClient {
  readonly socket: net.Socket;
  private buf = '';
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i = this.buf.indexOf('\n');
      while (i >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
        i = this.buf.indexOf('\n');
      }
      this.waiter?.();
    });
    const end = (): void => {
      this.ended = true;
      this.waiter?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => {});
  }

  static connect(port: number, options: { localAddress?: string } = {}): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', ...options });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new LineClient(s));
      });
      s.once('error', reject);
    });
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** The next line; rejects if the connection ends first or nothing comes within `limit` ms. */
  async next(limit = 10_000): Promise<string> {
    const deadline = Date.now() + limit;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error('connection ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${limit} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.lines.shift()!;
  }

  ask(line: string): Promise<string> {
    this.send(line);
    return this.next();
  }

  /** Resolves once the server has closed the connection. */
  async waitClosed(limit = 10_000): Promise<void> {
    const deadline = Date.now() + limit;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`still open after ${limit} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The loop id serving a client, from the fixture's `where` answer. */
export async function loopOf(c: LineClient): Promise<number> {
  const m = /^loop (\d+)\//.exec(await c.ask('where'));
  if (m === null) throw new Error('bad where answer');
  return Number(m[1]);
}

/** One short connection: connect, ask, close. */
export async function once(port: number, line: string): Promise<string> {
  const c = await LineClient.connect(port);
  try {
    return await c.ask(line);
  } finally {
    c.close();
  }
}
