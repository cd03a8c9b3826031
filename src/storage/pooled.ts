// What the network stores share: a ConnectionPool of driver clients, and the one place where a
// driver's failure becomes PL_ERR_STORE_UNAVAILABLE (and the client is dropped) or PL_ERR_STORE.
import type { PolyloopError } from '../errors.js';
import type { Logger } from '../log.js';
import { ConnectionPool, type ConnectionPoolOptions } from '../pool/connection-pool.js';
import { closedStore, storeError } from './store.js';

/** Pool sizing for a network store. */
export interface StorePoolOptions {
  /** Connections kept open when idle. Default 0. */
  min?: number;
  /** Most connections at once. Default 10. */
  max?: number;
  /** How long a call waits for a free connection before `PL_ERR_STORE_UNAVAILABLE`. Default 5000. */
  acquireTimeout?: number;
  /** Idle connections above `min` close after this many ms. Default 30000. */
  idleTimeout?: number;
  /** Checks idle connections every this many ms. Default 0 (only on reuse). */
  healthCheckInterval?: number;
}

/** One pooled driver client and whether the driver reported it broken. */
export interface Pooled<C> {
  client: C;
  broken: boolean;
}

/** The pool and error mapping of one network store. Use from the store's loop only. */
export class StorePool<C> {
  readonly pool: ConnectionPool<Pooled<C>>;
  closed = false;

  constructor(
    private readonly kind: string,
    options: StorePoolOptions,
    logger: Logger | undefined,
    open: () => Promise<Pooled<C>>,
    close: (p: Pooled<C>) => Promise<void> | void,
    /** True when a driver error means the server cannot be reached (not a bad request). */
    private readonly unavailable: (err: unknown) => boolean,
  ) {
    const o: ConnectionPoolOptions<Pooled<C>> = {
      create: open,
      destroy: close,
      validate: (p) => !p.broken,
      acquireTimeout: options.acquireTimeout ?? 5000,
    };
    for (const k of ['min', 'max', 'idleTimeout', 'healthCheckInterval'] as const) {
      if (options[k] !== undefined) o[k] = options[k];
    }
    if (logger !== undefined) o.logger = logger;
    this.pool = new ConnectionPool(o);
  }

  /**
   * Runs `fn` on a borrowed client; maps failures, and drops the client when it is at fault.
   * Call from the store's loop.
   */
  async run<R>(fn: (client: C) => Promise<R>): Promise<R> {
    if (this.closed) throw closedStore(this.kind);
    let p: Pooled<C>;
    try {
      p = await this.pool.acquire();
    } catch (err) {
      throw this.error(err);
    }
    let result: R;
    try {
      result = await fn(p.client);
    } catch (err) {
      const e = this.error(err);
      if (p.broken || e.code === 'PL_ERR_STORE_UNAVAILABLE') void this.pool.destroy(p);
      else this.pool.release(p);
      throw e;
    }
    if (p.broken) void this.pool.destroy(p);
    else this.pool.release(p);
    return result;
  }

  /** Maps a driver or pool failure to our codes. Pure: safe anywhere. */
  error(err: unknown): PolyloopError {
    if (this.closed) return closedStore(this.kind);
    return storeError(this.kind, err, this.unavailable);
  }

  /** Closes the pool: idle clients now, busy ones when their call ends. From the store's loop. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close();
  }
}
