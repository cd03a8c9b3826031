/**
 * Messages between the main thread and its worker loops. Internal: the shapes may change.
 *
 * A thread worker gets its `WorkerInit` as workerData; a process worker gets it in the first
 * message after it says `hello` (a message sent before the child listens would be lost).
 */
import type { Model, WorkerKind } from './options.js';
import type { LogicPoolOptions } from './proactor.js';

/** How a worker loop receives its connections. */
export type Intake =
  /** Half-sync, thread: fds in a shared IntRing, woken with Atomics.waitAsync. */
  | { kind: 'ring'; ring: SharedArrayBuffer }
  /** Half-sync, thread: fds as `{ t: 'fds' }` messages on the parent port. */
  | { kind: 'port' }
  /** Half-sync, process: fds over SCM_RIGHTS on the Unix socket at fd 4; `{ t: 'scm' }` wakes. */
  | { kind: 'scm'; fd: number }
  /** Half-sync without the addon: sockets passed by Node's IPC handle passing. */
  | { kind: 'ipc' }
  /** Leader/follower: a dup of the listening fd, watched only while holding the token. */
  | { kind: 'leader'; listenFd: number; token: SharedArrayBuffer }
  /** Reuse-port: the loop opens its own SO_REUSEPORT listener. */
  | { kind: 'listen'; host: string; port: number; backlog: number; node: boolean };

/** Server settings every loop applies to its connections. */
export interface LoopServerOptions {
  maxConnections: number;
  idleTimeout: number;
  shutdownTimeout: number;
  highWaterMark?: number;
  pauseOnHighWaterMark?: boolean;
  noDelay?: boolean;
  /** Only `false` (plain allocations) crosses threads; unset: each loop's default pool. */
  bufferPool?: false;
}

export interface WorkerInit {
  /** Loop id, 0..count-1: stable across restarts and reloads. */
  id: number;
  count: number;
  generation: number;
  model: Model;
  workers: WorkerKind;
  appUrl: string;
  args: unknown;
  logic: 'loop' | 'pool';
  pool: LogicPoolOptions;
  server: LoopServerOptions;
  /** Thread workers: the loop's row of the stats table. */
  stats: SharedArrayBuffer | undefined;
  intake: Intake;
}

/** Main → worker. */
export type ToWorker =
  | { t: 'init'; init: WorkerInit }
  | { t: 'fds'; fds: Int32Array; peers?: string[] }
  | { t: 'scm'; n: number }
  | { t: 'msg'; from: number; data: unknown }
  | { t: 'drain'; timeout: number };

/** Worker → main. */
export type FromWorker =
  | { t: 'hello' }
  | { t: 'ready'; port: number }
  | { t: 'fatal'; message: string; code?: string }
  | { t: 'send'; to: number; data: unknown }
  | { t: 'stats'; row: number[] }
  | { t: 'drained' };

/** Words of the leader/follower token buffer (Int32). */
export const LF_LEADER = 0;
/** Threads watching the listening fd now; the instrument behind `maxWatching`. */
export const LF_WATCHING = 1;
export const LF_MAX_WATCHING = 2;
/** Set to 1 when the generation drains: nobody leads any more. */
export const LF_STOPPED = 3;
export const LF_WORDS = 4;
