import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createError, invalidArg, type PolyloopError } from '../errors.js';
import { backoffDelay } from '../io/tcp-client.js';
import type {
  SqliteFailure,
  SqliteInbound,
  SqliteOutbound,
  SqliteReply,
  SqliteRequest,
  SqliteWorkerConfig,
} from './sqlite-worker.js';
import {
  checkKey,
  checkScan,
  checkSql,
  checkTtl,
  closedStore,
  encodeValue,
  prefixEnd,
  type ExecResult,
  type ScanOptions,
  type SetOptions,
  type SqlParam,
  type Store,
  type StoreEntry,
  type StoreHealth,
  type StoreValue,
} from './store.js';

export interface SqliteStoreOptions {
  /** The database file, created with its folder if missing. Default `data/polyloop.db` under the working directory; `':memory:'` for a private in-memory database. */
  path?: string;
  /** How long a write waits for another connection's write lock before failing, in ms. Default 5000. */
  busyTimeout?: number;
  /** Prepared statements kept per store (least recently used are dropped). Default 256. */
  statementCache?: number;
  /** Expired keys are deleted every this many ms (reads skip them anyway). 0: never. Default 60000. */
  sweepInterval?: number;
  /** How long opening may take before `open` fails, in ms. Default 10000. */
  openTimeout?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: PolyloopError): void;
}

const WORKER_URL = new URL('./sqlite-worker.js', import.meta.url);

/**
 * The default store: SQLite (better-sqlite3) in WAL mode, run on its own worker thread so that
 * no query ever blocks the IO loop. Requests made in one tick travel to the thread as one
 * message and come back as one; the thread keeps a prepared-statement cache.
 *
 * Several stores (one per loop, thread or process) may open the same file: WAL lets readers
 * proceed while one connection writes, and writers wait up to `busyTimeout` for each other.
 *
 * Open with `SqliteStore.open()`. Call its methods only from the loop that opened it.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly sql = true;
  /** The absolute path of the database file (or `':memory:'`). */
  readonly path: string;
  private readonly config: SqliteWorkerConfig;
  private readonly openTimeout: number;
  private worker: Worker | undefined;
  private starting: Promise<void> | undefined;
  /** Callers in request order: the thread answers strictly in order. */
  private pending: Pending[] = [];
  private head = 0;
  private outbox: SqliteRequest[] = [];
  private flushQueued = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private restartAttempt = 0;
  private restartAt = 0;
  private readonly flushNow = (): void => this.flush();
  private readonly onReplies = (msg: SqliteOutbound): void => this.settle(msg as SqliteReply[]);

  private constructor(options: SqliteStoreOptions) {
    checkOptions(options);
    const path = options.path ?? 'data/polyloop.db';
    this.path = path === ':memory:' ? path : resolve(path);
    this.openTimeout = options.openTimeout ?? 10_000;
    this.config = {
      path: this.path,
      busyTimeout: options.busyTimeout ?? 5000,
      statementCache: options.statementCache ?? 256,
      sweepInterval: options.sweepInterval ?? 60_000,
    };
  }

  /**
   * Starts the SQLite thread, opens (or creates) the database and its key-value table. Rejects
   * with `PL_ERR_STORE_UNAVAILABLE` when the file cannot be opened. Call from the owning loop.
   */
  static async open(options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    await store.start();
    return store;
  }

  /** Call from the owning loop. */
  async get<V = StoreValue>(key: string): Promise<V | undefined> {
    checkKey(key);
    const text = (await this.call(['get', key])) as string | null;
    return text === null ? undefined : (JSON.parse(text) as V);
  }

  /** Call from the owning loop. */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    checkKey(key);
    const ttl = checkTtl(options);
    await this.call(['set', key, encodeValue(value), ttl ?? null]);
  }

  /** Call from the owning loop. */
  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return (await this.call(['del', key])) as boolean;
  }

  /** Call from the owning loop. */
  async scan<V = StoreValue>(prefix: string, options?: ScanOptions): Promise<StoreEntry<V>[]> {
    const limit = checkScan(prefix, options);
    const rows = (await this.call(['scan', prefix, prefixEnd(prefix) ?? null, limit])) as [
      string,
      string,
    ][];
    return rows.map(([key, text]) => ({ key, value: JSON.parse(text) as V }));
  }

  /**
   * Rows of one statement with `?` placeholders. Integers come back as numbers, BLOBs as
   * `Uint8Array`. Call from the owning loop.
   */
  async query<Row extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlParam[],
  ): Promise<Row[]> {
    const checked = checkSql(sql, params);
    return (await this.call(['query', sql, checked as SqlParam[]])) as Row[];
  }

  /** Call from the owning loop. */
  async exec(sql: string, params?: readonly SqlParam[]): Promise<ExecResult> {
    const checked = checkSql(sql, params);
    return (await this.call(['exec', sql, checked as SqlParam[]])) as ExecResult;
  }

  /** Call from the owning loop. */
  async health(): Promise<StoreHealth> {
    const start = performance.now();
    try {
      await this.call(['ping']);
      return { ok: true, latencyMs: performance.now() - start };
    } catch (err) {
      return { ok: false, error: err as PolyloopError };
    }
  }

  /**
   * Answers what was already asked, closes the database and ends the thread (terminated if it
   * does not end within 5 s). Call from the owning loop.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Number of requests sent and not yet answered. Call from the owning loop. */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.starting !== undefined) await this.starting.catch(() => {});
    const worker = this.worker;
    if (worker === undefined) return;
    this.flush();
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close' satisfies SqliteInbound);
    const guard = setTimeout(() => void worker.terminate(), 5000);
    await exited;
    clearTimeout(guard);
  }

  private call(req: SqliteRequest): Promise<unknown> {
    if (this.closed) return Promise.reject(closedStore(this.kind));
    if (this.worker === undefined || this.starting !== undefined) return this.callAfterStart(req);
    return new Promise((resolve, reject) => {
      if (this.head === this.pending.length) this.worker!.ref();
      this.pending.push({ resolve, reject });
      this.outbox.push(req);
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(this.flushNow);
      }
    });
  }

  /** The thread is starting or gone: wait for it, or restart it once the back-off allows. */
  private async callAfterStart(req: SqliteRequest): Promise<unknown> {
    if (this.starting === undefined) {
      const wait = this.restartAt - Date.now();
      if (wait > 0) {
        throw createError(
          'PL_ERR_STORE_UNAVAILABLE',
          `sqlite thread failed; restarting in ${wait} ms`,
        );
      }
      void this.start().catch(() => {});
    }
    await this.starting;
    return this.call(req);
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.outbox.length === 0 || this.worker === undefined) return;
    const batch = this.outbox;
    this.outbox = [];
    this.worker.postMessage(batch satisfies SqliteInbound);
  }

  private settle(replies: SqliteReply[]): void {
    this.restartAttempt = 0;
    for (const [failed, value] of replies) {
      const p = this.pending[this.head++];
      if (p === undefined) break; // cannot happen: the thread answers each request once
      if (failed === 0) p.resolve(value);
      else p.reject(sqliteError(value));
    }
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
      this.worker?.unref();
    }
  }

  private start(): Promise<void> {
    const worker = new Worker(WORKER_URL, { workerData: this.config });
    this.worker = worker;
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.lost(worker, new Error(`sqlite thread did not open within ${this.openTimeout} ms`));
        void worker.terminate();
      }, this.openTimeout);
      const onFirst = (msg: SqliteOutbound): void => {
        clearTimeout(timer);
        worker.off('message', onFirst);
        if (msg[0] === 'ready') {
          worker.on('message', this.onReplies);
          if (this.head === this.pending.length) worker.unref();
          resolve();
        } else {
          reject(sqliteError((msg as ['failed', SqliteFailure])[1], true));
          this.lost(worker, undefined);
        }
      };
      worker.on('message', onFirst);
      worker.on('error', (err) => {
        clearTimeout(timer);
        reject(unavailable('sqlite thread failed', err));
        this.lost(worker, err);
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        reject(unavailable(`sqlite thread exited with code ${code}`));
        this.lost(worker, undefined);
      });
    });
    this.starting = started;
    void started.then(
      () => {
        if (this.starting === started) this.starting = undefined;
      },
      () => {
        if (this.starting === started) this.starting = undefined;
      },
    );
    return started;
  }

  /** The thread is gone: fail what it owed, and allow a restart after a back-off. */
  private lost(worker: Worker, cause: unknown): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.outbox = [];
    const pending = this.pending.slice(this.head);
    this.pending = [];
    this.head = 0;
    const err = this.closed
      ? closedStore(this.kind)
      : unavailable('sqlite thread stopped before answering', cause);
    for (const p of pending) p.reject(err);
    this.restartAt = Date.now() + backoffDelay(this.restartAttempt++, { initialDelay: 100 });
  }
}

function unavailable(message: string, cause?: unknown): PolyloopError {
  return createError('PL_ERR_STORE_UNAVAILABLE', message, cause);
}

function sqliteError(f: SqliteFailure, opening = false): PolyloopError {
  const cause = Object.assign(new Error(f.message), { name: 'SqliteError', code: f.code });
  const what = opening ? 'sqlite cannot open the database' : 'sqlite';
  return createError(
    f.unavailable || opening ? 'PL_ERR_STORE_UNAVAILABLE' : 'PL_ERR_STORE',
    `${what}: ${f.message}${f.code === undefined ? '' : ` (${f.code})`}`,
    cause,
  );
}

function checkOptions(o: SqliteStoreOptions): void {
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path.length === 0))
    throw invalidArg('path', o.path, 'a non-empty string');
  for (const k of ['busyTimeout', 'sweepInterval', 'openTimeout'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1))
      throw invalidArg(k, v, 'an integer number of ms in [0, 2^31)');
  }
  const c = o.statementCache;
  if (c !== undefined && !(Number.isInteger(c) && c >= 1))
    throw invalidArg('statementCache', c, 'an integer ≥ 1');
}
