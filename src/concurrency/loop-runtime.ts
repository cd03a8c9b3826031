/**
 * The worker side of a loop: loads the app module, runs it on a `TcpServer` of its own, and takes
 * connections from the intake its model gives it. Runs in a worker thread or a child process;
 * `worker-main.ts` supplies the channel to the main thread.
 */
import type net from 'node:net';
import { native, nativeStatus } from '../../native/index.js';
import { createError, isPolyloopError } from '../errors.js';
import type { App, CloseReason, Connection } from '../io/connection.js';
import { defaultLogger, type Logger } from '../log.js';
import { serviceApp, type LogicPoolOptions, type ServiceApp } from './proactor.js';
import { isService, type AnyService } from './service.js';
import { TcpServer } from '../io/tcp-server.js';
import { IntRing } from '../shm/int-ring.js';
import { closeLoop, installLoop, type LoopInfo, currentLoop } from './loop.js';
import {
  S_ACCEPTED,
  S_ACTIVE,
  S_BYTES_IN,
  S_BYTES_OUT,
  S_ERRORS,
  S_LEADS,
  STATS_FIELDS,
  STATS_INTERVAL,
} from './loop-stats.js';
import {
  LF_LEADER,
  LF_MAX_WATCHING,
  LF_STOPPED,
  LF_WATCHING,
  type FromWorker,
  type ToWorker,
  type WorkerInit,
} from './protocol.js';

/** The main thread, as a worker sees it. */
export interface Channel {
  post(msg: FromWorker): void;
  /** Ends this worker once its last message is out. */
  exit(code: number): void;
}

type AnyApp = App<unknown, unknown, unknown>;
type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
// ES2024 API (Node >= 16); the project compiles against the ES2023 lib.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(this: void, a: Int32Array, i: number, v: number, t?: number): WaitAsyncResult;
  }
).waitAsync;
type AnyConn = Connection<unknown, unknown, unknown>;

/**
 * Loads an app module: its default export is an app (`defineApp`, `httpApp`) or a function of
 * the loop that returns one (or a promise of one).
 */
export async function loadApp(url: string, loop: LoopInfo): Promise<AnyApp | AnyService> {
  const mod = (await import(url)) as { default?: unknown };
  let app = mod.default;
  if (typeof app === 'function') app = await (app as (l: LoopInfo) => unknown)(loop);
  if (typeof app !== 'object' || app === null) {
    throw createError(
      'PL_ERR_INVALID_ARG',
      `app module ${url} must export default an app (defineApp/httpApp) or a function returning one`,
    );
  }
  return app;
}

/** The app a loop runs: the module's app, or its service run inline or on a pool. */
export function appFor(
  loaded: AnyApp | AnyService,
  logic: 'loop' | 'pool',
  appUrl: string | undefined,
  loops: number,
  pool: LogicPoolOptions,
  logger: Logger,
): ServiceApp {
  if (isService(loaded)) return serviceApp(loaded, logic, appUrl, loops, pool, logger);
  if (logic === 'pool') {
    throw createError(
      'PL_ERR_INVALID_ARG',
      "logic 'pool' needs a service (defineService or httpService) as the module's default export",
    );
  }
  return { app: loaded, close: () => Promise.resolve() };
}

/**
 * Counts connections in the loop's stats row as they open and close, at once rather than at the
 * next publish: least-connections dispatch reads `active` and `accepted` together.
 */
function counted(app: AnyApp, row: Float64Array): AnyApp {
  const wrapped = Object.create(app) as AnyApp;
  wrapped.onConnection = (conn: AnyConn): void => {
    row[S_ACTIVE]!++;
    row[S_ACCEPTED]!++;
    app.onConnection?.(conn);
  };
  wrapped.onClose = (conn: AnyConn, reason: CloseReason): void => {
    row[S_ACTIVE]!--;
    app.onClose?.(conn, reason);
  };
  return wrapped;
}

export class LoopRuntime {
  private readonly row: Float64Array;
  private server!: TcpServer<unknown, unknown, unknown>;
  private deliver!: (data: unknown, from: number) => void;
  private stopped = false;
  private statsTimer: NodeJS.Timeout | undefined;
  private stopIntake: () => void = () => {};
  private closeLogic: () => Promise<void> = () => Promise.resolve();

  constructor(
    private readonly init: WorkerInit,
    private readonly channel: Channel,
  ) {
    this.row =
      init.stats !== undefined
        ? new Float64Array(init.stats)
        : new Float64Array(STATS_FIELDS.length);
  }

  async start(): Promise<void> {
    const init = this.init;
    this.deliver = installLoop(
      init.id,
      init.count,
      init.model,
      init.workers,
      init.args,
      (to, data) => this.channel.post({ t: 'send', to, data }),
    );
    const logger = defaultLogger();
    const loaded = appFor(
      await loadApp(init.appUrl, currentLoop()),
      init.logic,
      init.appUrl,
      init.count,
      init.pool,
      logger,
    );
    this.closeLogic = loaded.close;
    const app = counted(loaded.app, this.row);
    const intake = init.intake;
    const nativeOk = nativeStatus().available;
    const listenOwn = intake.kind === 'listen';
    this.server = new TcpServer(app, {
      ...init.server,
      logger,
      acceptor: listenOwn ? (intake.node ? 'node' : 'native') : nativeOk ? 'native' : 'node',
      ...(listenOwn
        ? { host: intake.host, port: intake.port, backlog: intake.backlog, reusePort: true }
        : {}),
    });
    let port = 0;
    switch (intake.kind) {
      case 'listen':
        port = (await this.server.listen()).port;
        break;
      case 'ring':
        this.pumpRing(IntRing.from(intake.ring));
        break;
      case 'leader':
        this.follow(intake.listenFd, new Int32Array(intake.token));
        break;
      default:
        break; // 'port', 'scm' and 'ipc' arrive as messages
    }
    this.statsTimer = setInterval(() => this.publish(), STATS_INTERVAL);
    this.statsTimer.unref();
    this.channel.post({ t: 'ready', port });
  }

  /** A message from the main thread; `handle` is a socket passed by Node's IPC. */
  onMessage(msg: ToWorker | string, handle?: unknown): void {
    if (msg === 'conn' || (typeof msg === 'object' && (msg as { t?: string }).t === 'conn')) {
      if (handle !== undefined) this.server.adoptSocket(handle as net.Socket);
      return;
    }
    if (typeof msg !== 'object') return;
    switch (msg.t) {
      case 'fds':
        for (const fd of msg.fds) this.server.adoptFd(fd);
        break;
      case 'scm':
        this.receiveScm(msg.n);
        break;
      case 'msg':
        this.deliver(msg.data, msg.from);
        break;
      case 'drain':
        void this.drain(msg.timeout);
        break;
      default:
        break;
    }
  }

  private receiveScm(n: number, tries = 0): void {
    if (this.init.intake.kind !== 'scm') return;
    const addon = native();
    for (let i = 0; i < n; i++) {
      const got = addon.recvFd(this.init.intake.fd);
      if (got === null) {
        // sendmsg completes before the wake-up message is sent, so this is only a safety net.
        if (tries < 100) setTimeout(() => this.receiveScm(n - i, tries + 1), 1);
        return;
      }
      this.server.adoptFd(got.fd);
    }
  }

  private pumpRing(ring: IntRing): void {
    const pump = async (): Promise<void> => {
      while (!this.stopped) {
        let fd = ring.tryPop();
        while (fd !== undefined) {
          this.server.adoptFd(fd);
          fd = ring.tryPop();
        }
        await ring.waitForData(1000);
      }
    };
    pump().catch((err: unknown) => this.fail(err));
  }

  /**
   * Leader/follower: wait for the token; while holding it, watch the listening fd; on the first
   * accepted batch stop watching and pass the token on, then serve what was accepted.
   */
  private follow(listenFd: number, token: Int32Array): void {
    const { id, count } = this.init;
    let leading = false;
    const stopLeading = (): void => {
      if (!leading) return;
      acceptor.stop();
      leading = false;
      Atomics.sub(token, LF_WATCHING, 1);
    };
    const acceptor = native().createAcceptor(listenFd, (fds) => {
      const next = (id + 1) % count;
      if (leading && next !== id) {
        // Stop watching before the next leader starts: never two watchers at once.
        stopLeading();
        Atomics.store(token, LF_LEADER, next);
        Atomics.notify(token, LF_LEADER);
      }
      for (const fd of fds) this.server.adoptFd(fd);
    });
    const lead = (): void => {
      leading = true;
      const watching = Atomics.add(token, LF_WATCHING, 1) + 1;
      let max = Atomics.load(token, LF_MAX_WATCHING);
      while (watching > max) {
        const seen = Atomics.compareExchange(token, LF_MAX_WATCHING, max, watching);
        if (seen === max) break;
        max = seen;
      }
      this.row[S_LEADS]!++;
      acceptor.start();
    };
    const loop = async (): Promise<void> => {
      while (!this.stopped && Atomics.load(token, LF_STOPPED) === 0) {
        const holder = Atomics.load(token, LF_LEADER);
        if (holder === id && !leading) lead();
        const w = waitAsync(token, LF_LEADER, holder, 1000);
        if (w.async) await w.value;
      }
      stopLeading();
    };
    this.stopIntake = () => {
      stopLeading();
      acceptor.close();
    };
    loop().catch((err: unknown) => this.fail(err));
  }

  private publish(): void {
    const s = this.server.stats();
    const row = this.row;
    row[S_ACCEPTED] = s.accepted;
    row[S_BYTES_IN] = s.bytesIn;
    row[S_BYTES_OUT] = s.bytesOut;
    let errors = 0;
    for (const n of Object.values(s.errors)) errors += n;
    row[S_ERRORS] = errors;
    if (this.init.stats === undefined) this.channel.post({ t: 'stats', row: Array.from(row) });
  }

  private async drain(timeout: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopIntake();
    await this.server.drain(timeout);
    await this.closeLogic();
    for (const err of await closeLoop()) {
      defaultLogger().error({ loop: this.init.id, err }, 'onClose cleanup failed');
    }
    clearInterval(this.statsTimer);
    this.publish();
    this.channel.post({ t: 'drained' });
    this.channel.exit(0);
  }

  private fail(err: unknown): void {
    const e = err as Error;
    this.channel.post({
      t: 'fatal',
      message: e?.message ?? String(err),
      ...(isPolyloopError(err) ? { code: err.code } : {}),
    });
    this.channel.exit(1);
  }
}
