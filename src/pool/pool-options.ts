/** The options of ThreadPool and ProcessPool, their defaults and their checks. */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { TransferListItem } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { invalidArg } from '../errors.js';

/** Options shared by ThreadPool and ProcessPool; the names are piscina's. */
export interface PoolOptions {
  /** The task module: an absolute path, a `file:` URL string or a URL. Its export is the task function. */
  filename: string | URL;
  /** Which export is the task function (default `'default'`), as piscina's `name`. */
  name?: string;
  /** Workers kept even when idle (default: half the cores, at least 1). */
  minThreads?: number;
  /** Most workers at once (default: the number of cores). */
  maxThreads?: number;
  /**
   * Most tasks waiting for a worker (default 1024); `run` rejects with PL_ERR_QUEUE_FULL beyond.
   * `'auto'` is maxThreads², as in piscina.
   */
  maxQueue?: number | 'auto';
  /** Milliseconds an idle worker beyond `minThreads` lives (default 30000). */
  idleTimeout?: number;
  /** A structured-clone value handed to each worker at start-up. */
  workerData?: unknown;
}

/** Per-task options of `run`. */
export interface RunOptions {
  /** ArrayBuffers (and MessagePorts) in the task to move instead of copy. */
  transferList?: readonly TransferListItem[];
  /** Aborting rejects the task with PL_ERR_CANCELLED (a running task's worker is stopped). */
  signal?: AbortSignal | null;
  /** Milliseconds from `run` until the task fails with PL_ERR_TASK_TIMEOUT. */
  timeout?: number;
}

/** The options of `close`. */
export interface CloseOptions {
  /** Fail queued and running tasks with PL_ERR_POOL_CLOSED and stop workers now. */
  force?: boolean;
}

/** A settled-options view the subclasses read. */
export interface ResolvedPoolOptions {
  href: string;
  name: string;
  minThreads: number;
  maxThreads: number;
  maxQueue: number;
  idleTimeout: number;
  workerData: unknown;
}

const DEFAULT_MAX_QUEUE = 1024;
const DEFAULT_IDLE_TIMEOUT = 30_000;

/** Checks `o` and fills in the defaults; throws PL_ERR_INVALID_ARG naming the bad option. */
export function resolveOptions(kind: string, o: PoolOptions): ResolvedPoolOptions {
  if (o === null || typeof o !== 'object') throw invalidArg(`${kind} options`, o, 'an object');
  const href = moduleHref(kind, o.filename);
  const name = o.name ?? 'default';
  if (typeof name !== 'string' || name === '') {
    throw invalidArg(`${kind} name`, name, 'an export name');
  }
  const cores = availableParallelism();
  const count = (key: 'minThreads' | 'maxThreads', v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 1024) {
      throw invalidArg(`${kind} ${key}`, v, 'an integer from 0 to 1024');
    }
    return v as number;
  };
  let minThreads = count('minThreads', o.minThreads);
  let maxThreads = count('maxThreads', o.maxThreads);
  if (maxThreads === 0) throw invalidArg(`${kind} maxThreads`, 0, 'at least 1');
  maxThreads ??= Math.max(cores, minThreads ?? 1);
  minThreads ??= Math.min(Math.max(1, Math.floor(cores / 2)), maxThreads);
  if (minThreads > maxThreads) {
    throw invalidArg(`${kind} minThreads`, minThreads, `at most maxThreads (${maxThreads})`);
  }
  let maxQueue = o.maxQueue ?? DEFAULT_MAX_QUEUE;
  if (maxQueue === 'auto') maxQueue = maxThreads * maxThreads;
  if (typeof maxQueue !== 'number' || !(maxQueue >= 0) || Number.isNaN(maxQueue)) {
    throw invalidArg(`${kind} maxQueue`, o.maxQueue, "a count ≥ 0, Infinity or 'auto'");
  }
  const idleTimeout = o.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
  if (typeof idleTimeout !== 'number' || !(idleTimeout >= 0)) {
    throw invalidArg(`${kind} idleTimeout`, idleTimeout, 'milliseconds ≥ 0 or Infinity');
  }
  return {
    href,
    name,
    minThreads,
    maxThreads,
    maxQueue,
    idleTimeout,
    workerData: o.workerData,
  };
}

/** The task module as a file: URL: URLs and file: strings as given, paths made absolute. */
function moduleHref(kind: string, filename: unknown): string {
  if (filename instanceof URL) {
    if (filename.protocol !== 'file:') {
      throw invalidArg(`${kind} filename`, filename.href, 'a file: URL or a path');
    }
    return filename.href;
  }
  if (typeof filename !== 'string' || filename === '') {
    throw invalidArg(`${kind} filename`, filename, 'a path or a file: URL');
  }
  if (filename.startsWith('file:')) return new URL(filename).href;
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(filename)) {
    throw invalidArg(`${kind} filename`, filename, 'a file: URL or a path');
  }
  return pathToFileURL(path.resolve(filename)).href;
}
