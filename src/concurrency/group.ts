/**
 * A group of worker loops and their supervisor: starts one loop per id, routes messages between
 * loops, replaces a loop that dies (backing off when it keeps dying), reloads with a new
 * generation of loops, and shuts down gracefully. Call everything from the main thread.
 */
import { EventEmitter } from 'node:events';
import { createError } from '../errors.js';
import type { ServerAddress } from '../io/listener.js';
import type { Logger } from '../log.js';
import type { Feeder } from './feeder.js';
import { S_HANDED_OFF, S_RESTARTS, StatsTable, type LoopStats } from './loop-stats.js';
import type { Model, ResolvedOptions, WorkerKind } from './options.js';
import type { FromWorker, WorkerInit } from './protocol.js';
import { ReusePortFeeder } from './reuse-port.js';
import { WorkerHost } from './worker-host.js';

/** Totals over every loop, plus the model's own numbers. */
export interface ServeStats {
  model: Model;
  workers: WorkerKind | 'main';
  loops: LoopStats[];
  total: Omit<LoopStats, 'id' | 'alive'>;
  /** half-sync: connections handed out; leader-follower: most loops ever watching at once. */
  handoffs?: number;
  maxWatching?: number;
}

/** Events of a running server. */
export interface ServerEvents {
  /** A loop died; it is replaced after `restartIn` ms. */
  crash: [info: { loop: number; code: number | null; error: Error | undefined; restartIn: number }];
  /** A replacement loop is serving. */
  restart: [info: { loop: number; restarts: number }];
  /** A loop died again and again in a short time; restarts are backing off (up to 30 s). */
  'crash-loop': [info: { loop: number; crashes: number; restartIn: number }];
  /** A reload finished: every loop is of generation `generation`. */
  reload: [info: { generation: number }];
  error: [err: Error];
}

/** A running `serve()`: every model returns this shape. */
export interface Server extends EventEmitter<ServerEvents> {
  readonly address: ServerAddress;
  readonly model: Model;
  readonly loops: number;
  readonly workers: WorkerKind | 'main';
  /** Per-loop counters, read from shared memory without stopping any loop. */
  stats(): ServeStats;
  /**
   * Zero-downtime reload: starts a new generation of loops (a fresh import of the app module),
   * switches new connections to it once every new loop is ready, then drains the old ones.
   */
  reload(): Promise<void>;
  /** Stops accepting, lets connections finish for up to `shutdownTimeout`, then stops. */
  close(): Promise<void>;
}

/** Back-off: a loop that dies within QUICK ms of its start counts toward a crash loop. */
const QUICK = 5000;
const FIRST_DELAY = 250;
const MAX_DELAY = 30_000;
const CRASH_LOOP = 3;

export function totals(loops: LoopStats[]): Omit<LoopStats, 'id' | 'alive'> {
  const t = {
    active: 0,
    accepted: 0,
    bytesIn: 0,
    bytesOut: 0,
    errors: 0,
    handedOff: 0,
    restarts: 0,
    leads: 0,
  };
  for (const l of loops) for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += l[k];
  return t;
}

export class LoopGroup extends EventEmitter<ServerEvents> implements Server {
  readonly loops: number;
  readonly model: Model;
  readonly workers: WorkerKind;
  private addr: ServerAddress | undefined;
  private generation = 0;
  /** The serving worker of each loop id. */
  private readonly slots: (WorkerHost | undefined)[];
  private readonly table: StatsTable;
  private readonly quickCrashes: number[];
  private readonly startedAt: number[];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly all = new Set<WorkerHost>();
  private closing: Promise<void> | undefined;
  private reloading: Promise<void> | undefined;

  constructor(
    private readonly appUrl: string,
    private readonly o: ResolvedOptions,
    private readonly feeder: Feeder,
    private readonly logger: Logger,
    table: StatsTable,
  ) {
    super();
    this.loops = o.loops;
    this.model = o.model;
    this.workers = o.workers;
    this.table = table;
    this.slots = new Array<WorkerHost | undefined>(o.loops).fill(undefined);
    this.quickCrashes = new Array<number>(o.loops).fill(0);
    this.startedAt = new Array<number>(o.loops).fill(0);
  }

  get address(): ServerAddress {
    if (this.addr === undefined) throw createError('PL_ERR_NOT_CONNECTED', 'server is not ready');
    return this.addr;
  }

  /** Binds and starts every loop; rejects (having stopped everything) if any loop fails. */
  async start(): Promise<void> {
    this.addr = await this.feeder.open();
    try {
      const hosts = await this.startGeneration();
      this.generation++;
      for (const h of hosts) this.slots[h.id] = h;
      this.feeder.activate(this.generation, hosts);
    } catch (err) {
      await this.feeder.stop();
      await Promise.all([...this.all].map((h) => (h.kill(), h.exitedPromise)));
      this.feeder.close();
      throw err;
    }
  }

  private async startGeneration(): Promise<WorkerHost[]> {
    const generation = this.generation + 1;
    const hosts: WorkerHost[] = [];
    let first = 0;
    if (this.feeder.firstAlone) {
      const h = this.spawn(0, generation);
      hosts.push(h);
      const port = await h.ready;
      if (this.addr === undefined) {
        this.addr = {
          host: this.o.host,
          port,
          family: this.o.host.includes(':') ? 'IPv6' : 'IPv4',
        };
        (this.feeder as ReusePortFeeder).setPort(port);
      }
      first = 1;
    }
    for (let id = first; id < this.loops; id++) hosts.push(this.spawn(id, generation));
    const results = await Promise.allSettled(hosts.map((h) => h.ready));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      for (const h of hosts) h.kill();
      await Promise.all(hosts.map((h) => h.exitedPromise));
      throw failed.reason;
    }
    return hosts;
  }

  private spawn(id: number, generation: number): WorkerHost {
    const spec = this.feeder.intake(id, generation);
    const init: WorkerInit = {
      id,
      count: this.loops,
      generation,
      model: this.model,
      workers: this.workers,
      appUrl: this.appUrl,
      args: this.o.args,
      logic: this.o.logic,
      pool: this.o.pool,
      server: {
        maxConnections: this.o.maxConnections,
        idleTimeout: this.o.idleTimeout,
        shutdownTimeout: this.o.shutdownTimeout,
        ...(this.o.highWaterMark !== undefined ? { highWaterMark: this.o.highWaterMark } : {}),
        ...(this.o.pauseOnHighWaterMark !== undefined
          ? { pauseOnHighWaterMark: this.o.pauseOnHighWaterMark }
          : {}),
        ...(this.o.noDelay !== undefined ? { noDelay: this.o.noDelay } : {}),
        ...(this.o.bufferPool === false ? { bufferPool: false as const } : {}),
      },
      stats:
        this.workers === 'thread' ? (this.table.rows[id]!.buffer as SharedArrayBuffer) : undefined,
      intake: spec.intake,
    };
    const host = new WorkerHost(init, spec.scmFd);
    if (spec.scmFd !== undefined) {
      // The child has its own copy now (stdio fd 4).
      void import('../../native/index.js').then(({ native }) => native().close(spec.scmFd!));
    }
    this.all.add(host);
    this.startedAt[id] = Date.now();
    host.on('message', (msg) => this.onMessage(host, msg));
    host.on('exit', (info) => this.onExit(host, info.code, info.error, info.expected));
    host.ready.then(
      () => this.feeder.attach(host),
      () => {},
    );
    return host;
  }

  private onMessage(from: WorkerHost, msg: FromWorker): void {
    if (msg.t === 'send') {
      const out = { t: 'msg' as const, from: from.id, data: msg.data };
      if (msg.to === -1) {
        for (const h of this.slots) if (h !== undefined && h !== from) h.post(out);
      } else {
        this.slots[msg.to]?.post(out);
      }
    } else if (msg.t === 'stats') {
      const row = this.table.rows[from.id]!;
      // The main thread owns handedOff and restarts; the loop owns the rest.
      for (let i = 0; i < msg.row.length; i++) {
        if (i !== S_HANDED_OFF && i !== S_RESTARTS) row[i] = msg.row[i]!;
      }
    }
  }

  private onExit(
    host: WorkerHost,
    code: number | null,
    error: Error | undefined,
    expected: boolean,
  ): void {
    this.all.delete(host);
    const serving = this.slots[host.id] === host;
    this.feeder.detach(host, !expected);
    if (!serving) return;
    this.slots[host.id] = undefined;
    if (expected || this.closing !== undefined) return;
    const id = host.id;
    const lived = Date.now() - this.startedAt[id]!;
    this.quickCrashes[id] = lived < QUICK ? this.quickCrashes[id]! + 1 : 0;
    const n = this.quickCrashes[id];
    const delay = n <= 1 ? 0 : Math.min(MAX_DELAY, FIRST_DELAY * 2 ** (n - 2));
    this.logger.error(
      { loop: id, code, err: error?.message, restartIn: delay },
      'loop died; replacing it',
    );
    this.emit('crash', { loop: id, code, error, restartIn: delay });
    if (n >= CRASH_LOOP) this.emit('crash-loop', { loop: id, crashes: n, restartIn: delay });
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      this.replace(id);
    }, delay);
    this.restartTimers.add(timer);
  }

  private replace(id: number): void {
    if (this.closing !== undefined || this.slots[id] !== undefined) return;
    const host = this.spawn(id, this.generation);
    // Occupies the slot at once, so that a failed start is handled as a crash (with back-off).
    this.slots[id] = host;
    host.ready.then(
      () => {
        if (this.slots[id] !== host) return;
        const row = this.table.rows[id]!;
        row[S_RESTARTS]!++;
        this.feeder.activate(this.generation, [host]);
        this.emit('restart', { loop: id, restarts: row[S_RESTARTS]! });
      },
      (err: unknown) => this.logger.error({ loop: id, err }, 'replacement loop failed to start'),
    );
  }

  stats(): ServeStats {
    const loops: LoopStats[] = [];
    for (let id = 0; id < this.loops; id++) {
      loops.push(this.table.read(id, this.slots[id]?.alive === true));
    }
    return {
      model: this.model,
      workers: this.workers,
      loops,
      total: totals(loops),
      ...this.feeder.extra(),
    };
  }

  reload(): Promise<void> {
    if (this.closing !== undefined)
      return Promise.reject(createError('PL_ERR_SERVER_CLOSED', 'server is closed'));
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    // A pending restart would start a loop of the old generation: the reload replaces it.
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    const hosts = await this.startGeneration();
    const old = this.slots.filter((h): h is WorkerHost => h !== undefined);
    this.generation++;
    for (const h of hosts) this.slots[h.id] = h;
    this.feeder.activate(this.generation, hosts);
    await Promise.all(old.map((h) => h.drain(this.o.shutdownTimeout)));
    this.logger.info({ generation: this.generation }, 'reloaded');
    this.emit('reload', { generation: this.generation });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    await this.reloading?.catch(() => {});
    await this.feeder.stop();
    await Promise.all([...this.all].map((h) => h.drain(this.o.shutdownTimeout)));
    this.feeder.close();
  }
}
