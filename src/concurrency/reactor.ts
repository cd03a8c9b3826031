/**
 * The reactor model: one loop, on the main thread. The baseline, and the right choice for small
 * servers. It accepts an app module like the other models, or the app itself.
 */
import { EventEmitter } from 'node:events';
import type { App } from '../io/connection.js';
import type { ServerAddress } from '../io/listener.js';
import type { Logger } from '../log.js';
import { TcpServer } from '../io/tcp-server.js';
import { totals, type ServeStats, type Server, type ServerEvents } from './group.js';
import { closeLoop, installLoop } from './loop.js';
import type { ResolvedOptions } from './options.js';
import type { LoopStats } from './loop-stats.js';

export class ReactorServer extends EventEmitter<ServerEvents> implements Server {
  readonly model = 'reactor' as const;
  readonly loops = 1;
  readonly workers = 'main' as const;
  private addr: ServerAddress | undefined;

  constructor(
    private readonly server: TcpServer<unknown, unknown, unknown>,
    private readonly o: ResolvedOptions,
    private readonly closeLogic: () => Promise<void>,
    private readonly logger: Logger,
  ) {
    super();
  }

  static async start(
    app: App<unknown, unknown, unknown>,
    o: ResolvedOptions,
    logger: Logger,
    closeLogic: () => Promise<void> = () => Promise.resolve(),
  ): Promise<ReactorServer> {
    const server = new TcpServer(app, {
      host: o.host,
      port: o.port,
      backlog: o.backlog,
      maxConnections: o.maxConnections,
      idleTimeout: o.idleTimeout,
      shutdownTimeout: o.shutdownTimeout,
      logger,
      ...(o.acceptor !== undefined ? { acceptor: o.acceptor } : {}),
      ...(o.highWaterMark !== undefined ? { highWaterMark: o.highWaterMark } : {}),
      ...(o.pauseOnHighWaterMark !== undefined
        ? { pauseOnHighWaterMark: o.pauseOnHighWaterMark }
        : {}),
      ...(o.noDelay !== undefined ? { noDelay: o.noDelay } : {}),
      ...(o.bufferPool !== undefined ? { bufferPool: o.bufferPool } : {}),
    });
    const r = new ReactorServer(server, o, closeLogic, logger);
    r.addr = await server.listen();
    return r;
  }

  /** Makes `currentLoop()` answer for the main thread (one loop: broadcasts go nowhere). */
  static install(o: ResolvedOptions): void {
    installLoop(0, 1, 'reactor', 'main', o.args, () => {});
  }

  get address(): ServerAddress {
    return this.addr!;
  }

  /** `native` or `node`. */
  get acceptor(): 'native' | 'node' {
    return this.server.acceptor;
  }

  stats(): ServeStats {
    const s = this.server.stats();
    let errors = 0;
    for (const n of Object.values(s.errors)) errors += n;
    const loop: LoopStats = {
      id: 0,
      alive: true,
      active: s.active,
      accepted: s.accepted,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      errors,
      handedOff: 0,
      restarts: 0,
      leads: 0,
    };
    return { model: 'reactor', workers: 'main', loops: [loop], total: totals([loop]) };
  }

  /** One loop on the main thread cannot be replaced under itself: reload is a no-op. */
  reload(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await this.server.drain(this.o.shutdownTimeout);
    await this.closeLogic();
    for (const err of await closeLoop()) {
      this.logger.error({ err }, 'onClose cleanup failed');
    }
  }
}
