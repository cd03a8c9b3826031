import { createError, invalidArg } from '../errors.js';
import { backoffDelay } from '../io/tcp-client.js';
import { defaultLogger, type Logger } from '../log.js';

export interface ConnectionPoolOptions<T> {
  /** Opens one resource. A rejection goes to the waiter that needed it. */
  create: () => Promise<T>;
  /** Closes one resource. Errors are logged, never thrown. */
  destroy: (resource: T) => Promise<void> | void;
  /**
   * Says whether an idle resource is still usable; checked before it is handed out again and by
   * the health check. False (or a throw) destroys it. Keep it cheap: it runs on every reuse.
   */
  validate?: (resource: T) => Promise<boolean> | boolean;
  /** Resources kept open even when idle; refilled in the background with back-off. Default 0. */
  min?: number;
  /** Most resources open at once (idle + borrowed + being created). Default 10. */
  max?: number;
  /** How long `acquire()` waits before rejecting with `PL_ERR_ACQUIRE_TIMEOUT`, in ms. Default 10000. */
  acquireTimeout?: number;
  /** Idle resources above `min` are destroyed after this many ms. 0: never. Default 30000. */
  idleTimeout?: number;
  /** Validates idle resources every this many ms (needs `validate`). 0: never. Default 0. */
  healthCheckInterval?: number;
  /** Where failures nobody waits for (background refills, destroy errors) are logged. */
  logger?: Logger;
}

/** A snapshot of a pool, from `stats()`. */
export interface ConnectionPoolStats {
  /** Resources open or being opened: idle + borrowed + creating + validating. */
  size: number;
  idle: number;
  borrowed: number;
  creating: number;
  validating: number;
  /** Callers queued in `acquire()`. */
  waiting: number;
  created: number;
  destroyed: number;
  acquired: number;
  timeouts: number;
  createErrors: number;
  /** Resources that failed `validate` and were destroyed. */
  invalid: number;
}

interface Waiter<T> {
  resolve(resource: T): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

interface IdleEntry<T> {
  resource: T;
  since: number;
}

type State = 'open' | 'draining' | 'closed';

/**
 * A bounded pool of reusable resources (connections, database clients). Waiters are served
 * first come, first served; idle resources are reused most-recent-first so the oldest age out.
 *
 * ```
 *  acquire ─► [waiters FIFO] ─► idle (validate) ─► borrowed ─► release ─► head waiter | idle
 *                    └────────► create (if size < max) ─┘        destroy ─► gone (refill to min)
 * ```
 *
 * Call every method only from the loop that created the pool.
 */
export class ConnectionPool<T> {
  readonly min: number;
  readonly max: number;
  private readonly options: ConnectionPoolOptions<T>;
  private readonly acquireTimeout: number;
  private readonly idleTimeout: number;
  private readonly logger: Logger;
  /** Most recently returned last: `pop` reuses the warmest, eviction takes from the front. */
  private readonly idle: IdleEntry<T>[] = [];
  private readonly borrowed = new Set<T>();
  private waiters: Waiter<T>[] = [];
  private head = 0;
  private waiting = 0;
  private creating = 0;
  private validating = 0;
  private state: State = 'open';
  private readonly counts = {
    created: 0,
    destroyed: 0,
    acquired: 0,
    timeouts: 0,
    createErrors: 0,
    invalid: 0,
  };
  private refillAttempt = 0;
  private refillTimer: NodeJS.Timeout | undefined;
  private evictTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly destroying = new Set<Promise<void>>();
  private drained: (() => void) | undefined;

  constructor(options: ConnectionPoolOptions<T>) {
    checkOptions(options);
    this.options = options;
    this.max = options.max ?? 10;
    this.min = options.min ?? 0;
    this.acquireTimeout = options.acquireTimeout ?? 10_000;
    this.idleTimeout = options.idleTimeout ?? 30_000;
    this.logger = options.logger ?? defaultLogger();
    if (this.idleTimeout > 0) {
      const every = Math.max(10, Math.min(1000, Math.floor(this.idleTimeout / 2)));
      this.evictTimer = setInterval(() => this.evictIdle(), every);
      this.evictTimer.unref();
    }
    const health = options.healthCheckInterval ?? 0;
    if (health > 0) {
      this.healthTimer = setInterval(() => this.healthCheck(), health);
      this.healthTimer.unref();
    }
    this.refill();
  }

  /** Resources open or being opened. Call from the pool's loop. */
  get size(): number {
    return this.idle.length + this.borrowed.size + this.creating + this.validating;
  }

  /** False once `drain()` or `close()` was called. Call from the pool's loop. */
  get open(): boolean {
    return this.state === 'open';
  }

  /**
   * Borrows a resource: an idle one (validated), a new one if the pool is below `max`, or the
   * next one released. Rejects with `PL_ERR_ACQUIRE_TIMEOUT` after `acquireTimeout`, with
   * `PL_ERR_POOL_CLOSED` once the pool is closing, or with `create`'s error when opening the
   * resource it waited for failed. Call from the pool's loop.
   */
  acquire(): Promise<T> {
    if (this.state !== 'open') return Promise.reject(closedError(this.state));
    // Fast path: nobody is queued ahead and an idle resource needs no asynchronous check.
    if (this.waiting === 0 && this.idle.length > 0 && this.options.validate === undefined) {
      const resource = this.idle.pop()!.resource;
      this.borrowed.add(resource);
      this.counts.acquired++;
      return Promise.resolve(resource);
    }
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject, timer: undefined, done: false };
      w.timer = setTimeout(() => this.timeOut(w), this.acquireTimeout);
      this.waiters.push(w);
      this.waiting++;
      this.dispatch();
    });
  }

  /**
   * Returns a borrowed resource for reuse: to the longest waiter, else to the idle list. Throws
   * `PL_ERR_INVALID_ARG` for a resource that is not borrowed from this pool (a double release).
   * Call from the pool's loop.
   */
  release(resource: T): void {
    if (!this.borrowed.delete(resource)) throw notBorrowed(resource);
    if (this.state === 'closed') {
      void this.destroyResource(resource);
      return;
    }
    this.handOut(resource);
  }

  /**
   * Destroys a borrowed resource that is broken (instead of releasing it); a replacement is
   * opened if someone waits or the pool is below `min`. Resolves once it is closed. Call from the
   * pool's loop.
   */
  destroy(resource: T): Promise<void> {
    if (!this.borrowed.delete(resource)) throw notBorrowed(resource);
    const done = this.destroyResource(resource);
    this.dispatch();
    this.refill();
    this.checkDrained();
    return done;
  }

  /**
   * Runs `fn` with a borrowed resource: released when `fn` resolves, destroyed when it throws (it
   * may be mid-conversation). `fn` must neither release nor destroy it. Call from the pool's loop.
   */
  async use<R>(fn: (resource: T) => Promise<R> | R): Promise<R> {
    const resource = await this.acquire();
    let result: R;
    try {
      result = await fn(resource);
    } catch (err) {
      if (this.borrowed.has(resource)) void this.destroy(resource);
      throw err;
    }
    this.release(resource);
    return result;
  }

  /**
   * Closes gracefully: new `acquire()` calls reject with `PL_ERR_POOL_CLOSED`, queued waiters
   * are still served, and once every borrowed resource is back all are destroyed. Call from the
   * pool's loop.
   */
  drain(): Promise<void> {
    if (this.state === 'closed') return this.settleDestroys();
    this.state = 'draining';
    this.stopTimers();
    const p = new Promise<void>((resolve) => {
      const prev = this.drained;
      this.drained = () => {
        prev?.();
        resolve();
      };
    });
    this.checkDrained();
    return p;
  }

  /**
   * Closes now: queued waiters reject with `PL_ERR_POOL_CLOSED`, idle resources are destroyed,
   * borrowed ones are destroyed when released. Resolves once the idle ones are closed; it does
   * not wait for borrowers. Call from the pool's loop.
   */
  close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.stopTimers();
      for (let w = this.nextWaiter(); w !== undefined; w = this.nextWaiter())
        w.reject(closedError('closed'));
      for (const { resource } of this.idle.splice(0)) void this.destroyResource(resource);
      const drained = this.drained;
      this.drained = undefined;
      drained?.();
    }
    return this.settleDestroys();
  }

  /** Counters and current sizes. Call from the pool's loop. */
  stats(): ConnectionPoolStats {
    return {
      size: this.size,
      idle: this.idle.length,
      borrowed: this.borrowed.size,
      creating: this.creating,
      validating: this.validating,
      waiting: this.waiting,
      ...this.counts,
    };
  }

  /** Matches waiters with idle resources, and opens new ones for waiters still unmatched. */
  private dispatch(): void {
    while (this.waiting > this.validating && this.idle.length > 0) {
      this.check(this.idle.pop()!.resource);
    }
    while (this.waiting > this.validating + this.creating && this.size < this.max) this.grow();
  }

  /**
   * Validates an idle resource, then hands it out (or parks it again, keeping `since`, its idle
   * age); a bad one is destroyed and matching resumes.
   */
  private check(resource: T, since?: number): void {
    if (this.options.validate === undefined) {
      this.handOut(resource, since);
      return;
    }
    let verdict: Promise<boolean> | boolean;
    try {
      verdict = this.options.validate(resource);
    } catch {
      verdict = false;
    }
    if (typeof verdict === 'boolean') {
      this.checked(resource, verdict, since);
      return;
    }
    this.validating++;
    verdict.then(
      (ok) => {
        this.validating--;
        this.checked(resource, ok, since);
      },
      () => {
        this.validating--;
        this.checked(resource, false, since);
      },
    );
  }

  private checked(resource: T, ok: boolean, since: number | undefined): void {
    if (ok) {
      this.handOut(resource, since);
    } else {
      this.counts.invalid++;
      void this.destroyResource(resource);
    }
    this.dispatch();
    this.refill();
    this.checkDrained();
  }

  /** Gives a free resource to the longest waiter, or parks it as idle (since `since`, or now). */
  private handOut(resource: T, since?: number): void {
    if (this.state === 'closed') {
      void this.destroyResource(resource);
      return;
    }
    const w = this.nextWaiter();
    if (w === undefined) {
      this.idle.push({ resource, since: since ?? Date.now() });
      this.checkDrained();
      return;
    }
    this.borrowed.add(resource);
    this.counts.acquired++;
    w.resolve(resource);
  }

  private grow(): void {
    this.creating++;
    // An async wrapper turns a synchronous throw from `create` into a rejection.
    const opened = (async () => this.options.create())();
    opened.then(
      (resource) => {
        this.creating--;
        this.counts.created++;
        this.refillAttempt = 0;
        this.handOut(resource);
        this.dispatch();
      },
      (err: unknown) => {
        this.creating--;
        this.counts.createErrors++;
        // The error belongs to whoever waits longest; the others get their own attempt.
        const w = this.nextWaiter();
        if (w !== undefined) w.reject(err);
        else this.logger.warn({ err }, 'connection pool: create failed');
        this.dispatch();
        this.scheduleRefill();
        this.checkDrained();
      },
    );
  }

  /** Opens resources in the background up to `min`. */
  private refill(): void {
    if (this.state !== 'open' || this.refillTimer !== undefined) return;
    while (this.size < this.min) this.grow();
  }

  /** After a failed create, tries to reach `min` again later, doubling the delay up to 30 s. */
  private scheduleRefill(): void {
    if (this.state !== 'open' || this.size >= this.min || this.refillTimer !== undefined) return;
    const delay = backoffDelay(this.refillAttempt++, { initialDelay: 100, maxDelay: 30_000 });
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, delay);
    this.refillTimer.unref();
  }

  private nextWaiter(): Waiter<T> | undefined {
    while (this.head < this.waiters.length) {
      const w = this.waiters[this.head]!;
      this.head++;
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      this.waiting--;
      this.compact();
      return w;
    }
    this.compact();
    return undefined;
  }

  private compact(): void {
    if (this.head === this.waiters.length) {
      this.waiters = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.head);
      this.head = 0;
    }
  }

  private timeOut(w: Waiter<T>): void {
    if (w.done) return;
    w.done = true;
    this.waiting--;
    this.counts.timeouts++;
    // Waiters time out in arrival order: skip the dead ones at the head so the queue stays short.
    while (this.head < this.waiters.length && this.waiters[this.head]!.done) this.head++;
    this.compact();
    w.reject(
      createError(
        'PL_ERR_ACQUIRE_TIMEOUT',
        `no resource free within ${this.acquireTimeout} ms (${this.borrowed.size} of max ${this.max} borrowed, ${this.waiting} more waiting)`,
      ),
    );
    this.checkDrained();
  }

  private evictIdle(): void {
    const cutoff = Date.now() - this.idleTimeout;
    // Mostly oldest first, but a health check may have parked old ones behind newer ones.
    for (let i = 0; i < this.idle.length && this.size > this.min;) {
      if (this.idle[i]!.since <= cutoff)
        void this.destroyResource(this.idle.splice(i, 1)[0]!.resource);
      else i++;
    }
  }

  private healthCheck(): void {
    if (this.state !== 'open') return;
    if (this.options.validate !== undefined) {
      for (const { resource, since } of this.idle.splice(0)) this.check(resource, since);
    }
    this.refill();
  }

  private destroyResource(resource: T): Promise<void> {
    this.counts.destroyed++;
    const p = (async () => {
      try {
        await this.options.destroy(resource);
      } catch (err) {
        this.logger.warn({ err }, 'connection pool: destroy failed');
      }
    })();
    this.destroying.add(p);
    void p.then(() => this.destroying.delete(p));
    return p;
  }

  private async settleDestroys(): Promise<void> {
    while (this.destroying.size > 0) await Promise.all([...this.destroying]);
  }

  /** While draining: once nobody waits and nothing is borrowed or in flight, destroy the rest. */
  private checkDrained(): void {
    if (this.state !== 'draining') return;
    if (this.waiting > 0 || this.borrowed.size > 0 || this.creating > 0 || this.validating > 0)
      return;
    this.state = 'closed';
    for (const { resource } of this.idle.splice(0)) void this.destroyResource(resource);
    const drained = this.drained;
    this.drained = undefined;
    void this.settleDestroys().then(() => drained?.());
  }

  private stopTimers(): void {
    clearInterval(this.evictTimer);
    clearInterval(this.healthTimer);
    clearTimeout(this.refillTimer);
    this.evictTimer = this.healthTimer = this.refillTimer = undefined;
  }
}

function closedError(state: State): Error {
  return createError('PL_ERR_POOL_CLOSED', `connection pool is ${state}`);
}

function notBorrowed(resource: unknown): Error {
  return invalidArg('resource', resource, 'a resource borrowed from this pool and not returned');
}

function checkOptions<T>(o: ConnectionPoolOptions<T>): void {
  if (typeof o !== 'object' || o === null) throw invalidArg('options', o, 'an object');
  if (typeof o.create !== 'function') throw invalidArg('create', o.create, 'a function');
  if (typeof o.destroy !== 'function') throw invalidArg('destroy', o.destroy, 'a function');
  if (o.validate !== undefined && typeof o.validate !== 'function')
    throw invalidArg('validate', o.validate, 'a function');
  const max = o.max ?? 10;
  if (!(Number.isInteger(max) && max >= 1)) throw invalidArg('max', o.max, 'an integer ≥ 1');
  const min = o.min ?? 0;
  if (!(Number.isInteger(min) && min >= 0 && min <= max))
    throw invalidArg('min', o.min, `an integer in [0, max=${max}]`);
  for (const k of ['acquireTimeout', 'idleTimeout', 'healthCheckInterval'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 2 ** 31 - 1))
      throw invalidArg(k, v, 'a number of ms in [0, 2^31)');
  }
  if (o.acquireTimeout === 0) throw invalidArg('acquireTimeout', 0, 'a positive number of ms');
}
