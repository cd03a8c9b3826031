import net from 'node:net';
import { createError, invalidArg, type PolyloopError } from '../errors.js';
import { defaultLogger, type Logger } from '../log.js';
import {
  Connection,
  type App,
  type CloseReason,
  type ConnectionOptions,
  type ConnectionOwner,
} from './connection.js';
import { checkBufferPoolOption, type BufferPool } from './buffer-pool.js';

export interface BackoffOptions {
  /** First retry delay in ms. Default 500. */
  initialDelay?: number;
  /** Largest delay in ms. Default 30000. */
  maxDelay?: number;
  /** Random spread as a fraction of the delay (0.2 = ±20%). Default 0.2. */
  jitter?: number;
}

export interface ConnectorOptions {
  host: string;
  port: number;
  /** Keep dialing after a failure, with backoff. Default true. */
  retry?: boolean;
  backoff?: BackoffOptions;
  /** Give up one attempt after this many ms. Default 10000. */
  connectTimeout?: number;
}

/** The delay before retry number `attempt` (0-based): doubling from `initialDelay` to `maxDelay`, with jitter. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random = Math.random,
): number {
  const initial = options.initialDelay ?? 500;
  const max = options.maxDelay ?? 30_000;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 52));
  const spread = base * jitter * (2 * random() - 1);
  return Math.max(0, Math.min(max, Math.round(base + spread)));
}

/**
 * Dials one address until it connects, waiting `backoffDelay` between attempts.
 * Call only from one loop. `stop()` cancels any pending attempt or retry.
 */
export class Connector {
  private readonly options: ConnectorOptions;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private pending: net.Socket | undefined;
  private active = false;

  constructor(
    options: ConnectorOptions,
    private readonly onConnected: (socket: net.Socket) => void,
    private readonly onFailed: (
      err: PolyloopError,
      attempt: number,
      retryIn: number | undefined,
    ) => void,
  ) {
    checkConnector(options);
    this.options = options;
  }

  /** Starts dialing now. Resets the backoff. */
  start(): void {
    this.stop();
    this.active = true;
    this.attempt = 0;
    this.dial();
  }

  stop(): void {
    this.active = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending !== undefined) this.pending.destroy();
    this.pending = undefined;
  }

  private dial(): void {
    const { host, port, connectTimeout = 10_000 } = this.options;
    const socket = net.connect({ host, port });
    this.pending = socket;
    const timeout = setTimeout(() => socket.destroy(new Error('ETIMEDOUT')), connectTimeout);
    // A socket destroyed by stop() emits no error: the close must still clear the timer.
    socket.once('close', () => clearTimeout(timeout));
    const fail = (err: Error): void => {
      clearTimeout(timeout);
      if (this.pending !== socket) return;
      this.pending = undefined;
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      const error = createError(
        'PL_ERR_CONNECT',
        `cannot connect to ${host}:${port}: ${code}`,
        err,
      );
      const retry = this.active && this.options.retry !== false;
      const delay = retry ? backoffDelay(this.attempt, this.options.backoff) : undefined;
      this.onFailed(error, this.attempt, delay);
      if (delay === undefined || !this.active) {
        this.active = false;
        return;
      }
      this.attempt++;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.active) this.dial();
      }, delay);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timeout);
      socket.off('error', fail);
      this.pending = undefined;
      this.active = false;
      this.onConnected(socket);
    });
  }
}

export interface TcpClientOptions extends ConnectionOptions, ConnectorOptions {
  /** Dial again when an established connection is lost (not when `stop()` closed it). Default false. */
  reconnect?: boolean;
  logger?: Logger;
  /** Called after each failed attempt, with the delay before the next one (undefined: giving up). */
  onConnectError?(err: PolyloopError, attempt: number, retryIn: number | undefined): void;
}

/**
 * A client that keeps one connection to a server: dials with retry and backoff, optionally
 * reconnects, and runs an `App` on the connection. Use from one loop.
 */
export class TcpClient<
  In = Buffer,
  Out = Uint8Array | string,
  Ctx = undefined,
> implements ConnectionOwner<In, Out, Ctx> {
  readonly app: App<In, Out, Ctx>;
  readonly logger: Logger;
  readonly highWaterMark: number;
  readonly pauseOnHighWaterMark: boolean;
  readonly bufferPool: BufferPool | false | undefined;
  /** Errors by code, as for servers. */
  readonly errors: Record<string, number> = {};
  private readonly options: TcpClientOptions;
  private readonly connector: Connector;
  private conn: Connection<In, Out, Ctx> | undefined;
  private stopped = true;
  private waiters: {
    resolve(c: Connection<In, Out, Ctx>): void;
    reject(e: PolyloopError): void;
  }[] = [];

  constructor(app: App<In, Out, Ctx>, options: TcpClientOptions) {
    this.app = app;
    this.options = options;
    this.logger = options.logger ?? defaultLogger();
    this.highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.pauseOnHighWaterMark = options.pauseOnHighWaterMark ?? true;
    this.bufferPool = checkBufferPoolOption(options.bufferPool);
    this.connector = new Connector(
      options,
      (socket) => this.onConnected(socket),
      (err, attempt, retryIn) => this.onFailed(err, attempt, retryIn),
    );
  }

  /** The current connection, if connected. */
  get connection(): Connection<In, Out, Ctx> | undefined {
    return this.conn;
  }

  /**
   * Starts dialing. Resolves with the connection once connected; rejects with `PL_ERR_CONNECT`
   * when retry is off and the attempt fails, or `PL_ERR_CLIENT_STOPPED` if `stop()` comes first.
   */
  connect(): Promise<Connection<In, Out, Ctx>> {
    if (this.conn !== undefined) return Promise.resolve(this.conn);
    const p = new Promise<Connection<In, Out, Ctx>>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
    if (this.stopped) {
      this.stopped = false;
      this.connector.start();
    }
    return p;
  }

  /** Stops dialing and reconnecting, and closes the connection gracefully. */
  stop(): void {
    this.stopped = true;
    this.connector.stop();
    this.conn?.close();
    this.settle(createError('PL_ERR_CLIENT_STOPPED', 'client stopped before connecting'));
  }

  /** @internal */
  connectionClosed(conn: Connection<In, Out, Ctx>, _reason: CloseReason): void {
    if (this.conn === conn) this.conn = undefined;
    if (!this.stopped && this.options.reconnect === true) this.connector.start();
    else this.stopped = true;
  }

  /** @internal */
  countError(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  private onConnected(socket: net.Socket): void {
    const conn = new Connection(socket, this, this.options.noDelay ?? true);
    this.conn = conn;
    conn.establish();
    if (conn.connected) this.settle(conn);
  }

  private onFailed(err: PolyloopError, attempt: number, retryIn: number | undefined): void {
    this.logger.debug({ code: err.code, attempt, retryIn }, err.message);
    try {
      this.options.onConnectError?.(err, attempt, retryIn);
    } catch (e) {
      this.logger.error({ err: e }, 'onConnectError threw');
    }
    if (retryIn === undefined) {
      this.stopped = true;
      this.settle(err);
    }
  }

  private settle(result: Connection<In, Out, Ctx> | PolyloopError): void {
    for (const w of this.waiters.splice(0)) {
      if (result instanceof Connection) w.resolve(result);
      else w.reject(result);
    }
  }
}

function checkConnector(o: ConnectorOptions): void {
  if (typeof o.host !== 'string' || o.host.length === 0)
    throw invalidArg('host', o.host, 'a non-empty string');
  if (!(Number.isInteger(o.port) && o.port > 0 && o.port <= 65535))
    throw invalidArg('port', o.port, 'an integer in [1, 65535]');
  const b = o.backoff ?? {};
  for (const k of ['initialDelay', 'maxDelay'] as const) {
    const v = b[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0))
      throw invalidArg(`backoff.${k}`, v, 'a non-negative number');
  }
  if (b.jitter !== undefined && !(b.jitter >= 0 && b.jitter <= 1))
    throw invalidArg('backoff.jitter', b.jitter, 'a number in [0, 1]');
}
