import { availableParallelism } from 'node:os';
import { invalidArg } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../io/connection.js';
import { checkBufferPoolOption, type BufferPool } from '../io/buffer-pool.js';
import type { LogicPoolOptions } from './proactor.js';

/** How loops are arranged. See docs/concurrency-models.md. */
export type Model = 'reactor' | 'half-sync' | 'leader-follower' | 'reuse-port';
/** What a worker loop runs in. */
export type WorkerKind = 'thread' | 'process';
/** Which loop a half-sync acceptor hands a new connection to. */
export type DispatchPolicy = 'round-robin' | 'least-connections' | 'ip-hash';
/** How a half-sync acceptor hands fds to thread loops. */
export type Handoff = 'ring' | 'port';

/** Options of `serve`. Every field is optional. */
export interface ServeOptions extends ConnectionOptions {
  /** Address to bind. Default `'0.0.0.0'`. */
  host?: string;
  /** Port; 0 (the default) picks a free one: read it from `server.address`. */
  port?: number;
  /** listen(2) backlog. Default 511. */
  backlog?: number;
  /** Default `'half-sync'` when `loops > 1`, else `'reactor'`. */
  model?: Model;
  /** Event loops. Default: the available cores (1 for `reactor`). */
  loops?: number;
  /** Default `'thread'`. */
  workers?: WorkerKind;
  /** Half-sync only. Default `'round-robin'`. */
  dispatch?: DispatchPolicy;
  /** Half-sync with thread workers: fd hand-off path. Default `'ring'` (see docs for numbers). */
  handoff?: Handoff;
  /** Reactor only: `native` (default when the addon is built) or `node`. */
  acceptor?: 'native' | 'node';
  /** Connections beyond this many per loop are closed at once. Default unlimited. */
  maxConnections?: number;
  /** Close connections idle for this many ms. 0 (default) disables. */
  idleTimeout?: number;
  /** How long closing or reloading lets connections drain before closing them, ms. Default 5000. */
  shutdownTimeout?: number;
  /**
   * Where a service's logic runs (see `defineService`, `httpService`): `'loop'` (default) on the
   * IO loop; `'pool'` on a thread pool per loop, the IO loop only reading, parsing and writing.
   */
  logic?: 'loop' | 'pool';
  /** Thread pool of `logic: 'pool'`. */
  pool?: LogicPoolOptions;
  /** Data given to the app module's factory in every loop (structured-cloned). */
  args?: unknown;
  logger?: Logger;
}

/** `ServeOptions` with every default filled in and checked. */
export interface ResolvedOptions {
  host: string;
  port: number;
  backlog: number;
  model: Model;
  loops: number;
  workers: WorkerKind;
  dispatch: DispatchPolicy;
  handoff: Handoff;
  acceptor: 'native' | 'node' | undefined;
  maxConnections: number;
  idleTimeout: number;
  shutdownTimeout: number;
  highWaterMark: number | undefined;
  pauseOnHighWaterMark: boolean | undefined;
  noDelay: boolean | undefined;
  /** Reactor: the pool itself or `false`; worker loops: only `false` crosses to them. */
  bufferPool: BufferPool | false | undefined;
  logic: 'loop' | 'pool';
  pool: LogicPoolOptions;
  args: unknown;
}

const MODELS: readonly Model[] = ['reactor', 'half-sync', 'leader-follower', 'reuse-port'];
const WORKERS: readonly WorkerKind[] = ['thread', 'process'];
const POLICIES: readonly DispatchPolicy[] = ['round-robin', 'least-connections', 'ip-hash'];
const HANDOFFS: readonly Handoff[] = ['ring', 'port'];

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw invalidArg(name, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

function int(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidArg(name, v, `an integer in [${min}, ${max}]`);
  }
  return v;
}

/** Checks `options` and fills in defaults. Throws PL_ERR_INVALID_ARG naming the bad option. */
export function resolveOptions(options: ServeOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidArg('options', options, 'an object');
  }
  const model = oneOf('model', options.model, MODELS);
  const loops =
    int('loops', options.loops, 1, 1024) ?? (model === 'reactor' ? 1 : availableParallelism());
  if (model === 'reactor' && loops !== 1) {
    throw invalidArg('loops', loops, "1 with model 'reactor' (one loop on the main thread)");
  }
  const resolvedModel: Model = model ?? (loops > 1 ? 'half-sync' : 'reactor');
  const workers = oneOf('workers', options.workers, WORKERS) ?? 'thread';
  const dispatch = oneOf('dispatch', options.dispatch, POLICIES);
  if (dispatch !== undefined && resolvedModel !== 'half-sync') {
    throw invalidArg('dispatch', dispatch, `unset: only model 'half-sync' dispatches`);
  }
  if (resolvedModel === 'leader-follower' && workers === 'process') {
    throw invalidArg(
      'workers',
      workers,
      "'thread' with model 'leader-follower' (the leader token lives in shared memory)",
    );
  }
  const acceptor = oneOf('acceptor', options.acceptor, ['native', 'node'] as const);
  if (acceptor !== undefined && resolvedModel !== 'reactor') {
    throw invalidArg('acceptor', acceptor, "unset: only model 'reactor' chooses its acceptor");
  }
  if (
    options.host !== undefined &&
    (typeof options.host !== 'string' || options.host.length === 0)
  ) {
    throw invalidArg('host', options.host, 'a non-empty string');
  }
  const bufferPool = checkBufferPoolOption(options.bufferPool);
  if (bufferPool !== undefined && bufferPool !== false && resolvedModel !== 'reactor') {
    // A pool's buffers belong to the thread that made them; every worker loop has its own.
    throw invalidArg(
      'bufferPool',
      bufferPool,
      `false or unset with model '${resolvedModel}' (each worker loop uses its own thread's pool)`,
    );
  }
  const max = options.maxConnections;
  if (max !== undefined && max !== Infinity && !(Number.isInteger(max) && max >= 0)) {
    throw invalidArg('maxConnections', max, 'a non-negative integer or Infinity');
  }
  return {
    host: options.host ?? '0.0.0.0',
    port: int('port', options.port, 0, 65535) ?? 0,
    backlog: int('backlog', options.backlog, 0, 1 << 20) ?? 511,
    model: resolvedModel,
    loops,
    workers,
    dispatch: dispatch ?? 'round-robin',
    handoff: oneOf('handoff', options.handoff, HANDOFFS) ?? 'ring',
    acceptor,
    maxConnections: max ?? Infinity,
    idleTimeout: int('idleTimeout', options.idleTimeout, 0, 2 ** 31 - 1) ?? 0,
    shutdownTimeout: int('shutdownTimeout', options.shutdownTimeout, 0, 2 ** 31 - 1) ?? 5000,
    highWaterMark: int('highWaterMark', options.highWaterMark, 0, Number.MAX_SAFE_INTEGER),
    pauseOnHighWaterMark: options.pauseOnHighWaterMark,
    noDelay: options.noDelay,
    bufferPool,
    logic: oneOf('logic', options.logic, ['loop', 'pool'] as const) ?? 'loop',
    pool: checkPool(options.pool),
    args: options.args,
  };
}

function checkPool(pool: LogicPoolOptions | undefined): LogicPoolOptions {
  if (pool === undefined) return {};
  if (typeof pool !== 'object' || pool === null) throw invalidArg('pool', pool, 'an object');
  const out: LogicPoolOptions = {};
  const maxThreads = int('pool.maxThreads', pool.maxThreads, 1, 1024);
  const minThreads = int('pool.minThreads', pool.minThreads, 0, 1024);
  const maxQueue = int('pool.maxQueue', pool.maxQueue, 0, 2 ** 31 - 1);
  if (maxThreads !== undefined) out.maxThreads = maxThreads;
  if (minThreads !== undefined) out.minThreads = minThreads;
  if (maxQueue !== undefined) out.maxQueue = maxQueue;
  return out;
}
