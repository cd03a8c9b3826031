import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { native, nativeStatus, requireNative, type NativeAcceptor } from '../../native/index.js';
import { createError } from '../errors.js';
import type { Logger } from '../log.js';

export interface ServerAddress {
  host: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface ListenOptions {
  host: string;
  port: number;
  backlog: number;
  ipv6Only: boolean;
  reusePort?: boolean;
}

/** What a listener hands the server: an accepted socket, or a raw fd to adopt. */
export interface AcceptSink {
  socket(socket: net.Socket): void;
  fd(fd: number): void;
  /** An accept failure reported to JavaScript (the listener stays armed). */
  error(err: NodeJS.ErrnoException): void;
}

/** Accepts connections for one server, on the server's loop. */
export interface Listener {
  readonly kind: 'native' | 'node';
  listen(options: ListenOptions): Promise<ServerAddress>;
  /** Stops accepting and releases the listening socket. */
  close(): Promise<void>;
  /** Connections closed at once because the process ran out of fds. */
  readonly shed: number;
}

/** The kind used when none is asked for: the native acceptor when the addon is loaded. */
export function defaultListenerKind(): 'native' | 'node' {
  return nativeStatus().available ? 'native' : 'node';
}

export function createListener(
  kind: 'native' | 'node',
  sink: AcceptSink,
  logger: Logger,
): Listener {
  return kind === 'native' ? new NativeListener(sink, logger) : new NodeListener(sink);
}

function listenError(options: ListenOptions, err: unknown): Error {
  const e = err as NodeJS.ErrnoException & { errno?: unknown };
  const code = typeof e.errno === 'string' ? e.errno : (e.code ?? e.message);
  return createError(
    'PL_ERR_LISTEN',
    `cannot listen on ${options.host}:${options.port}: ${code}`,
    err,
  );
}

/**
 * Node's own listener (libuv accepts one connection per callback). On EMFILE libuv sheds the
 * pending connection with its reserved fd, silently: `shed` stays 0.
 */
class NodeListener implements Listener {
  readonly kind = 'node';
  readonly shed = 0;
  private readonly server: net.Server;

  constructor(private readonly sink: AcceptSink) {
    this.server = net.createServer({ noDelay: true }, (socket) => sink.socket(socket));
    this.server.on('error', (err: NodeJS.ErrnoException) => {
      if (this.server.listening) sink.error(err);
    });
  }

  listen(options: ListenOptions): Promise<ServerAddress> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(listenError(options, err));
      this.server.once('error', onError);
      this.server.listen(options, () => {
        this.server.off('error', onError);
        const a = this.server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4' });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The native listener: the addon creates the socket and accepts in batches with accept4; the
 * server adopts each fd. On EMFILE the addon sheds the pending connection with a spare fd and
 * counts it; the count is logged here.
 */
class NativeListener implements Listener {
  readonly kind = 'native';
  private fd = -1;
  private acceptor: NativeAcceptor | undefined;
  private watch: NodeJS.Timeout | undefined;
  private lastShed = 0;

  constructor(
    private readonly sink: AcceptSink,
    private readonly logger: Logger,
  ) {}

  get shed(): number {
    return this.acceptor?.shed ?? this.lastShed;
  }

  async listen(options: ListenOptions): Promise<ServerAddress> {
    const addon = requireNative("the native acceptor (TcpServer option acceptor: 'native')");
    let host = options.host;
    if (net.isIP(host) === 0) {
      try {
        host = (await lookup(host)).address;
      } catch (err) {
        throw listenError(options, err);
      }
    }
    try {
      this.fd = addon.listen({
        host,
        port: options.port,
        backlog: options.backlog,
        ipv6Only: options.ipv6Only,
        reusePort: options.reusePort ?? false,
      });
    } catch (err) {
      throw listenError(options, err);
    }
    const port = addon.localPort(this.fd);
    const acceptor = addon.createAcceptor(this.fd, (fds) => {
      for (const fd of fds) this.sink.fd(fd);
    });
    this.acceptor = acceptor;
    acceptor.start();
    // Shedding happens inside the addon; report it at most once a second, with the count.
    this.watch = setInterval(() => this.report(), 1000);
    this.watch.unref();
    return { host, port, family: net.isIPv6(host) ? 'IPv6' : 'IPv4' };
  }

  close(): Promise<void> {
    if (this.watch !== undefined) clearInterval(this.watch);
    this.report();
    if (this.acceptor !== undefined) {
      this.lastShed = this.acceptor.shed;
      this.acceptor.close();
      this.acceptor = undefined;
    }
    if (this.fd >= 0) native().close(this.fd);
    this.fd = -1;
    return Promise.resolve();
  }

  private report(): void {
    const a = this.acceptor;
    if (a === undefined || a.shed === this.lastShed) return;
    this.logger.warn(
      { shed: a.shed - this.lastShed, total: a.shed, cause: a.lastError },
      'out of file descriptors: closed pending connections at once; still listening',
    );
    this.lastShed = a.shed;
  }
}
