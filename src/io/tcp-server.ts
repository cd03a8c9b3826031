import type net from 'node:net';
import { createError, invalidArg } from '../errors.js';
import { defaultLogger, type Logger } from '../log.js';
import {
  Connection,
  type App,
  type CloseReason,
  type ConnectionOptions,
  type ConnectionOwner,
} from './connection.js';
import { native } from '../../native/index.js';
import { adopt, readArena, type ReadArena } from './adopt.js';
import {
  createListener,
  defaultListenerKind,
  type Listener,
  type ServerAddress,
} from './listener.js';
import { raiseFdLimit } from './sys.js';
import { TimingWheel } from './timing-wheel.js';
import { checkBufferPoolOption, type BufferPool } from './buffer-pool.js';

export type { ServerAddress } from './listener.js';

export interface TcpServerOptions extends ConnectionOptions {
  /** Address to bind. Default `'0.0.0.0'`; `'::'` for every IPv6 (and IPv4) address. */
  host?: string;
  /** Port; 0 picks a free one (read it from `address` after `listen`). Default 0. */
  port?: number;
  /** Length of the kernel's accept queue. Default 511. */
  backlog?: number;
  /** Accept only IPv6 on an IPv6 address. Default false. */
  ipv6Only?: boolean;
  /**
   * SO_REUSEPORT: several servers (threads or processes) listen on one port and the kernel
   * spreads connections. With `acceptor: 'node'` it needs Node >= 22.12.
   */
  reusePort?: boolean;
  /** Connections beyond this many are closed at once and counted. Default unlimited. */
  maxConnections?: number;
  /** Close connections that receive nothing for this many ms. 0 (default) disables. */
  idleTimeout?: number;
  /** How long `close()` lets connections drain before force-closing them, in ms. Default 5000. */
  shutdownTimeout?: number;
  /**
   * Who accepts: `native` (the addon's batching accept4 acceptor; connections read into one
   * buffer per loop; fd exhaustion is counted) or `node` (Node's net.Server). Default: `native`
   * when the addon is loaded.
   */
  acceptor?: 'native' | 'node';
  logger?: Logger;
}

/** Counters of a server. A snapshot: reading it is cheap and never blocks the loop. */
export interface ServerStats {
  /** Connections accepted since start (including those rejected by `maxConnections`). */
  accepted: number;
  /** Connections open now. */
  active: number;
  /** Connections closed at once because `maxConnections` was reached. */
  rejected: number;
  /** Connections closed by the idle timeout. */
  idleClosed: number;
  /** Errors accepting connections reported to JavaScript. The server keeps listening. */
  acceptErrors: number;
  /**
   * Connections closed at once because the process had no fd left (EMFILE/ENFILE), counted by
   * the native acceptor (Node's listener sheds them without telling).
   */
  shed: number;
  bytesIn: number;
  bytesOut: number;
  /** Errors by `PL_ERR_*` code: protocol errors, handler errors, resets. */
  errors: Record<string, number>;
}

/**
 * A TCP server on one loop: accepts connections and runs an `App` on each.
 *
 * Construct, `listen()`, and `close()` on the same loop; connections live on that loop too.
 */
export class TcpServer<
  In = Buffer,
  Out = Uint8Array | string,
  Ctx = undefined,
> implements ConnectionOwner<In, Out, Ctx> {
  readonly app: App<In, Out, Ctx>;
  readonly logger: Logger;
  readonly highWaterMark: number;
  readonly pauseOnHighWaterMark: boolean;
  readonly bufferPool: BufferPool | false | undefined;
  private readonly options: TcpServerOptions;
  private readonly listener: Listener;
  /** Reads of natively accepted connections land here: one buffer for the whole loop. */
  private readonly arena: ReadArena | undefined;
  private readonly live = new Set<Connection<In, Out, Ctx>>();
  private readonly wheel: TimingWheel<Connection<In, Out, Ctx>> | undefined;
  private readonly counters: Omit<ServerStats, 'active' | 'shed'> = {
    accepted: 0,
    rejected: 0,
    idleClosed: 0,
    acceptErrors: 0,
    bytesIn: 0,
    bytesOut: 0,
    errors: {},
  };
  private closing: Promise<void> | undefined;
  private addr: ServerAddress | undefined;
  private readonly drained: (() => void)[] = [];

  constructor(app: App<In, Out, Ctx>, options: TcpServerOptions = {}) {
    checkOptions(options);
    this.app = app;
    this.options = options;
    this.logger = options.logger ?? defaultLogger();
    this.highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.pauseOnHighWaterMark = options.pauseOnHighWaterMark ?? true;
    this.bufferPool = checkBufferPoolOption(options.bufferPool);
    const idle = options.idleTimeout ?? 0;
    if (idle > 0) {
      this.wheel = new TimingWheel({
        timeout: idle,
        onExpire: (conn) => {
          this.counters.idleClosed++;
          conn.closeForIdle();
        },
      });
    }
    const kind = options.acceptor ?? defaultListenerKind();
    this.listener = createListener(
      kind,
      {
        socket: (socket) => this.onSocket(socket),
        fd: (fd) => this.onFd(fd),
        error: (err) => this.onAcceptError(err),
      },
      this.logger,
    );
    this.arena = kind === 'native' ? readArena() : undefined;
  }

  /** `native` or `node`: who accepts this server's connections. */
  get acceptor(): 'native' | 'node' {
    return this.listener.kind;
  }

  /** Starts listening. Resolves with the bound address; rejects with `PL_ERR_LISTEN`. */
  async listen(): Promise<ServerAddress> {
    const {
      host = '0.0.0.0',
      port = 0,
      backlog = 511,
      ipv6Only = false,
      reusePort = false,
    } = this.options;
    if (this.closing !== undefined) {
      throw createError('PL_ERR_SERVER_CLOSED', 'listen() called on a closed server');
    }
    raiseFdLimit(this.logger);
    this.addr = await this.listener.listen({ host, port, backlog, ipv6Only, reusePort });
    return this.addr;
  }

  /**
   * Serves a connection accepted elsewhere (a half-sync acceptor, a leader): `fd` is a connected
   * socket no libuv handle owns; from here on this server owns it and closes it.
   */
  adoptFd(fd: number): void {
    this.onFd(fd);
  }

  /** Serves a socket accepted elsewhere (Node's IPC handle passing). */
  adoptSocket(socket: net.Socket): void {
    this.onSocket(socket);
  }

  /** Stops accepting (if listening) and keeps serving open connections. */
  stopAccepting(): Promise<void> {
    return this.listener.close();
  }

  /**
   * Stops accepting and lets open connections finish for up to `timeout` ms, then closes what is
   * left as `close()` does. A connection quiet for `idleMs` (nothing received, nothing sent) is
   * closed gracefully before that: an idle keep-alive client does not hold the drain up. Used to
   * retire a loop (shutdown, reload) without cutting a request short.
   */
  async drain(timeout = this.options.shutdownTimeout ?? 5000, idleMs = 1000): Promise<void> {
    await this.stopAccepting();
    if (this.live.size > 0) {
      const sent = new Map<Connection<In, Out, Ctx>, number>();
      const sweep = setInterval(
        () => {
          const now = Date.now();
          for (const conn of this.live) {
            const quiet = sent.get(conn) === conn.bytesOut && now - conn.lastActiveAt >= idleMs;
            sent.set(conn, conn.bytesOut);
            if (quiet && conn.state === 'connected') conn.closeForServer(false);
          }
        },
        Math.min(100, idleMs),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.drained.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeout);
        }),
      ]);
      clearTimeout(timer);
      clearInterval(sweep);
    }
    await this.close(1000);
  }

  /** The bound address; throws before `listen` has resolved. */
  get address(): ServerAddress {
    if (this.addr === undefined)
      throw createError('PL_ERR_NOT_CONNECTED', 'server is not listening');
    return this.addr;
  }

  /** The open connections. */
  get connections(): ReadonlySet<Connection<In, Out, Ctx>> {
    return this.live;
  }

  stats(): ServerStats {
    let bytesIn = this.counters.bytesIn;
    let bytesOut = this.counters.bytesOut;
    for (const c of this.live) {
      bytesIn += c.bytesIn;
      bytesOut += c.bytesOut;
    }
    return {
      ...this.counters,
      errors: { ...this.counters.errors },
      active: this.live.size,
      shed: this.listener.shed,
      bytesIn,
      bytesOut,
    };
  }

  /**
   * Stops accepting, closes every connection gracefully (queued output is sent, then FIN), and
   * force-closes those still open after `timeout` ms (default: `shutdownTimeout`). Idempotent.
   */
  close(timeout = this.options.shutdownTimeout ?? 5000): Promise<void> {
    this.closing ??= this.shutdown(timeout);
    return this.closing;
  }

  /** @internal */
  connectionClosed(conn: Connection<In, Out, Ctx>, _reason: CloseReason): void {
    this.live.delete(conn);
    if (conn.idleEntry !== undefined) this.wheel!.remove(conn.idleEntry);
    this.counters.bytesIn += conn.bytesIn;
    this.counters.bytesOut += conn.bytesOut;
    if (this.live.size === 0) for (const done of this.drained.splice(0)) done();
  }

  /** @internal */
  countError(code: string): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
  }

  private admit(): boolean {
    this.counters.accepted++;
    const max = this.options.maxConnections ?? Infinity;
    if (this.live.size < max && this.closing === undefined) return true;
    this.counters.rejected++;
    return false;
  }

  private onSocket(socket: net.Socket): void {
    if (!this.admit()) {
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.start(new Connection(socket, this, this.options.noDelay ?? true));
  }

  private onFd(fd: number): void {
    if (!this.admit()) {
      native().close(fd);
      return;
    }
    // The sink runs on the first read, after `conn` exists.
    const socket = adopt(fd, this.arena, () => (chunk) => conn.receive(chunk));
    const conn = new Connection(socket, this, this.options.noDelay ?? true, this.arena);
    this.start(conn);
  }

  private start(conn: Connection<In, Out, Ctx>): void {
    this.live.add(conn);
    if (this.wheel !== undefined) {
      conn.idleWheel = this.wheel;
      conn.idleEntry = this.wheel.add(conn);
    }
    conn.establish();
  }

  private onAcceptError(err: NodeJS.ErrnoException): void {
    // Accept failures (EMFILE, ENFILE, ENOBUFS...) never stop the server.
    this.counters.acceptErrors++;
    const error = createError('PL_ERR_ACCEPT', `accept failed: ${err.code ?? err.message}`, err);
    this.countError(error.code);
    this.logger.warn({ code: error.code, cause: err.code }, `${error.message}; still listening`);
  }

  private async shutdown(timeout: number): Promise<void> {
    const stopped = this.listener.close();
    const drained = new Promise<void>((resolve) => {
      if (this.live.size === 0) resolve();
      else this.drained.push(resolve);
    });
    for (const conn of [...this.live]) conn.closeForServer(false);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
    });
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    for (const conn of [...this.live]) conn.closeForServer(true);
    await drained;
    this.wheel?.stop();
    await stopped;
  }
}

function checkOptions(o: TcpServerOptions): void {
  const nonNegInt = (name: string, v: number | undefined, max = Number.MAX_SAFE_INTEGER): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= max)) {
      throw invalidArg(name, v, `an integer in [0, ${max}]`);
    }
  };
  nonNegInt('port', o.port, 65535);
  nonNegInt('backlog', o.backlog);
  nonNegInt('idleTimeout', o.idleTimeout);
  nonNegInt('shutdownTimeout', o.shutdownTimeout);
  nonNegInt('highWaterMark', o.highWaterMark);
  if (
    o.maxConnections !== undefined &&
    !(
      o.maxConnections === Infinity ||
      (Number.isInteger(o.maxConnections) && o.maxConnections >= 0)
    )
  ) {
    throw invalidArg('maxConnections', o.maxConnections, 'a non-negative integer or Infinity');
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host.length === 0)) {
    throw invalidArg('host', o.host, 'a non-empty string');
  }
}
