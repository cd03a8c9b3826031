import type { Codec } from '../codec/codec.js';
import { createError, type PolyloopError } from '../errors.js';
import type { CloseReason, Connection, ConnectionOptions } from '../io/connection.js';
import { TcpClient } from '../io/tcp-client.js';
import type { Logger } from '../log.js';
import {
  ConnectionPool,
  type ConnectionPoolOptions,
  type ConnectionPoolStats,
} from './connection-pool.js';

export interface UpstreamPoolOptions<In, Out>
  extends
    ConnectionOptions,
    Omit<ConnectionPoolOptions<UpstreamConnection<In, Out>>, 'create' | 'destroy' | 'validate'> {
  host: string;
  port: number;
  /** Frames messages both ways; without one, `receive()` gives the bytes of each read. */
  codec?: Codec<In, Out>;
  /** Give up one connection attempt after this many ms. Default 5000. */
  connectTimeout?: number;
  /**
   * Copies a decoded message so it outlives the read that carried it (codec views are valid only
   * during delivery). Default: byte views are copied, anything else is kept as is.
   */
  copy?: (msg: In) => In;
  logger?: Logger;
}

/** Per-connection queue of received messages and of callers waiting for one. Loop-local. */
export class Inbox<In> {
  private messages: In[] = [];
  private head = 0;
  private readonly waiters: { resolve(m: In): void; reject(e: PolyloopError): void }[] = [];
  failure: PolyloopError | undefined;

  get pending(): number {
    return this.messages.length - this.head + this.waiters.length;
  }

  push(msg: In): void {
    const w = this.waiters.shift();
    if (w !== undefined) w.resolve(msg);
    else this.messages.push(msg);
  }

  next(): Promise<In> {
    if (this.head < this.messages.length) {
      const msg = this.messages[this.head++]!;
      if (this.head === this.messages.length) {
        this.messages = [];
        this.head = 0;
      }
      return Promise.resolve(msg);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  fail(err: PolyloopError): void {
    this.failure = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}

/**
 * One pooled connection to the upstream: send messages, await replies in order. Borrow it from
 * an `UpstreamPool` and give it back with `release` (or `destroy` when the exchange went wrong).
 * Call only from the pool's loop.
 */
export class UpstreamConnection<In = Buffer, Out = Uint8Array | string> {
  /** @internal Made by `UpstreamPool` on its loop. */
  constructor(
    private readonly client: TcpClient<In, Out, Inbox<In>>,
    /** The underlying connection, for its addresses and counters. */
    readonly connection: Connection<In, Out, Inbox<In>>,
  ) {}

  /** True while the connection is established. Call from the pool's loop. */
  get open(): boolean {
    return this.connection.connected;
  }

  /**
   * True when it can go back to the pool: open, and no message unread or awaited (a stale reply
   * would be read by the next borrower). Call from the pool's loop.
   */
  get reusable(): boolean {
    return this.open && this.connection.context.pending === 0;
  }

  /** Sends a message; false when the connection is closed. Call from the pool's loop. */
  send(msg: Out): boolean {
    return this.connection.send(msg);
  }

  /**
   * The next message from the upstream, in arrival order. Rejects with `PL_ERR_NOT_CONNECTED`
   * (the close reason's error as `cause`) once the connection closed with nothing left to read.
   * Call from the pool's loop.
   */
  receive(): Promise<In> {
    return this.connection.context.next();
  }

  /** Sends `msg` and resolves with the next message. Call from the pool's loop. */
  request(msg: Out): Promise<In> {
    // A failed send needs no branch: the connection is closing and receive() rejects.
    this.send(msg);
    return this.receive();
  }

  /** @internal Closes at once, dropping queued output. */
  close(): void {
    this.connection.forceClose();
    this.client.stop();
  }
}

/**
 * A pool of open TCP connections to one upstream `host:port`, over `ConnectionPool`: connections
 * are opened on demand up to `max`, checked (still open, nothing unread) before reuse, closed
 * after `idleTimeout` down to `min`, and replaced when they break. Call only from the loop that
 * created it.
 */
export class UpstreamPool<In = Buffer, Out = Uint8Array | string> {
  private readonly pool: ConnectionPool<UpstreamConnection<In, Out>>;

  constructor(private readonly options: UpstreamPoolOptions<In, Out>) {
    const { codec } = options;
    const copy = options.copy ?? (codec === undefined ? (m: In) => m : copyBytes<In>);
    const poolOptions: ConnectionPoolOptions<UpstreamConnection<In, Out>> = {
      create: () => this.connect(copy),
      destroy: (c) => c.close(),
      validate: (c) => c.reusable,
    };
    for (const k of [
      'min',
      'max',
      'acquireTimeout',
      'idleTimeout',
      'healthCheckInterval',
      'logger',
    ] as const) {
      if (options[k] !== undefined) Object.assign(poolOptions, { [k]: options[k] });
    }
    this.pool = new ConnectionPool(poolOptions);
  }

  /**
   * Borrows a connection. Rejects with `PL_ERR_CONNECT` when the upstream cannot be reached,
   * `PL_ERR_ACQUIRE_TIMEOUT` or `PL_ERR_POOL_CLOSED`. Call from the pool's loop.
   */
  acquire(): Promise<UpstreamConnection<In, Out>> {
    return this.pool.acquire();
  }

  /**
   * Gives a connection back; one that is closed or has unread messages is closed instead.
   * Call from the pool's loop.
   */
  release(conn: UpstreamConnection<In, Out>): void {
    if (conn.reusable) this.pool.release(conn);
    else void this.pool.destroy(conn);
  }

  /** Closes a borrowed connection whose exchange went wrong. Call from the pool's loop. */
  destroy(conn: UpstreamConnection<In, Out>): Promise<void> {
    return this.pool.destroy(conn);
  }

  /**
   * Runs `fn` with a borrowed connection, then releases it (or closes it when `fn` throws).
   * Call from the pool's loop.
   */
  async use<R>(fn: (conn: UpstreamConnection<In, Out>) => Promise<R> | R): Promise<R> {
    const conn = await this.pool.acquire();
    let result: R;
    try {
      result = await fn(conn);
    } catch (err) {
      void this.pool.destroy(conn);
      throw err;
    }
    this.release(conn);
    return result;
  }

  /** Waits for borrowed connections to come back, then closes all. Call from the pool's loop. */
  drain(): Promise<void> {
    return this.pool.drain();
  }

  /** Closes idle connections now and the borrowed ones when released. Call from the pool's loop. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Call from the pool's loop. */
  stats(): ConnectionPoolStats {
    return this.pool.stats();
  }

  private async connect(copy: (m: In) => In): Promise<UpstreamConnection<In, Out>> {
    const o = this.options;
    const client = new TcpClient<In, Out, Inbox<In>>(
      {
        ...(o.codec === undefined ? {} : { codec: o.codec }),
        context: () => new Inbox<In>(),
        onMessage: (conn, msg) => conn.context.push(copy(msg)),
        onClose: (conn, reason) => conn.context.fail(closedError(o, reason)),
      },
      {
        host: o.host,
        port: o.port,
        retry: false,
        reconnect: false,
        connectTimeout: o.connectTimeout ?? 5000,
        ...(o.highWaterMark === undefined ? {} : { highWaterMark: o.highWaterMark }),
        ...(o.pauseOnHighWaterMark === undefined
          ? {}
          : { pauseOnHighWaterMark: o.pauseOnHighWaterMark }),
        ...(o.noDelay === undefined ? {} : { noDelay: o.noDelay }),
        ...(o.logger === undefined ? {} : { logger: o.logger }),
      },
    );
    const conn = await client.connect();
    return new UpstreamConnection(client, conn);
  }
}

function closedError(o: { host: string; port: number }, reason: CloseReason): PolyloopError {
  return createError(
    'PL_ERR_NOT_CONNECTED',
    `upstream connection to ${o.host}:${o.port} closed (by ${reason.by})`,
    reason.error,
  );
}

function copyBytes<In>(msg: In): In {
  return (msg instanceof Uint8Array ? Buffer.from(msg) : msg) as In;
}
