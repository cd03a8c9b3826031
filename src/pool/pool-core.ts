/**
 * The scheduling half of ThreadPool and ProcessPool: the bounded queue, dispatch to idle
 * workers, timeouts and cancellation, crash handling with bounded respawn, idle shrink and
 * close. A subclass supplies the workers (`spawnSlot`) and reports what they do through
 * `slotReady`, `slotDone` and `slotExit`.
 *
 *   run() ──► idle worker? ──yes──► post (one message) ──► worker ──► result (one message)
 *                │ no                                                        │
 *                ▼                                                           ▼
 *          queue (≤ maxQueue) ◄─── the freed worker takes the next task ◄── slotDone
 *
 * Everything here runs on the thread that created the pool (its event loop); a worker never
 * touches this state.
 */
import type { TransferListItem } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { createError, describe, invalidArg, type PolyloopError } from '../errors.js';
import {
  resolveOptions,
  type CloseOptions,
  type PoolOptions,
  type ResolvedPoolOptions,
  type RunOptions,
} from './pool-options.js';
import { fromWireError, Outcome, unwrapMoved, type WireError } from './task-wire.js';

export type { CloseOptions, PoolOptions, ResolvedPoolOptions, RunOptions };

/** A snapshot of a pool's state and counters. */
export interface PoolStats {
  /** Workers alive: starting, idle or busy (not those being stopped). */
  threads: number;
  idle: number;
  busy: number;
  starting: number;
  /** Tasks waiting for a worker. */
  queueSize: number;
  /** Tasks that resolved. */
  completed: number;
  /** Tasks that rejected for any reason (thrown, crashed, timed out, cancelled, refused). */
  failed: number;
  /** Workers that died without being asked to. */
  crashed: number;
  /** Workers started since the pool was made. */
  started: number;
  /** Mean milliseconds from handing a task to a worker until its result came back. */
  meanRunTime: number;
  /** Busy worker-time over the pool's lifetime × maxThreads, from 0 to 1. */
  utilization: number;
}

export const enum SlotState {
  Starting,
  Idle,
  Busy,
  /** Being stopped by the pool (timeout, abort, idle, close); its exit is no crash. */
  Stopping,
  Gone,
}

/** One worker (a thread or a process) as the pool sees it. Used on the pool's thread only. */
export abstract class Slot {
  state = SlotState.Starting;
  task: Task | undefined = undefined;
  idleSince = 0;
  /** What the worker reported or threw last (a start error, an uncaught exception). */
  error: unknown = undefined;
  #held = false;

  /** Sends one task. Throws (e.g. DataCloneError) without side effects when it cannot. */
  abstract post(task: unknown, transferList: readonly TransferListItem[] | undefined): void;
  /**
   * Stops the worker; its exit is reported later through `slotExit`. `hard` when a task is cut
   * off (it must die now); otherwise it may leave cleanly.
   */
  abstract stop(hard: boolean): void;
  /** Keeps the event loop alive (true) while the worker holds a task, or lets it exit. */
  protected abstract hold(on: boolean): void;

  setHeld(on: boolean): void {
    if (on !== this.#held) {
      this.#held = on;
      this.hold(on);
    }
  }
}

const enum TaskState {
  Queued,
  Running,
  Done,
}

/** One `run` call. Also the abort listener (`handleEvent`), so no closure is made per task. */
class Task {
  state = TaskState.Queued;
  slot: Slot | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  started = 0;
  resolve!: (v: unknown) => void;
  reject!: (e: unknown) => void;

  constructor(
    readonly pool: PoolCore,
    readonly id: number,
    public payload: unknown,
    public transferList: readonly TransferListItem[] | undefined,
  ) {}

  handleEvent(): void {
    cancelTask(this);
  }
}

const enum Closing {
  Open,
  Graceful,
  Force,
}

/** Consecutive failures after which the pool stops topping up `minThreads` by itself. */
const MAX_STREAK = 8;

/** Back-off after the n-th failure in a row: 50 ms doubling, at most 10 s. */
export function respawnDelay(n: number): number {
  return n <= 0 ? 0 : Math.min(50 * 2 ** (n - 1), 10_000);
}

let cancelTask: (t: Task) => void;
let expireTask: (t: Task) => void;
const onTaskTimeout = (t: Task): void => expireTask(t);

/** The scheduler both pools share. Every method runs on the thread that created the pool. */
export abstract class PoolCore<TTask = unknown, TResult = unknown> {
  protected readonly options: ResolvedPoolOptions;
  readonly #all = new Set<Slot>();
  /** Idle workers, most recently used last: reuse the warm one, let the cold ones age out. */
  readonly #idle: Slot[] = [];
  #queue: (Task | undefined)[] = [];
  #qHead = 0;
  #starting = 0;
  #busy = 0;
  #stopping = 0;
  #nextId = 0;
  #closing = Closing.Open;
  #closed: Promise<void> | undefined = undefined;
  #closedResolve: (() => void) | undefined = undefined;
  #failStreak = 0;
  #retryAt = 0;
  #lastStartError: unknown = undefined;
  #fillTimer: NodeJS.Timeout | undefined = undefined;
  #idleTimer: NodeJS.Timeout | undefined = undefined;
  #completed = 0;
  #failed = 0;
  #crashed = 0;
  #startedCount = 0;
  #runTime = 0;
  #runs = 0;
  readonly #born = performance.now();

  static {
    cancelTask = (t) => t.pool.#abandon(t, createError('PL_ERR_CANCELLED', `task ${t.id} aborted`));
    expireTask = (t) =>
      t.pool.#abandon(t, createError('PL_ERR_TASK_TIMEOUT', `task ${t.id} timed out`));
  }

  constructor(kind: string, opts: PoolOptions) {
    this.options = resolveOptions(kind, opts);
  }

  /** Starts the `minThreads` workers; subclasses call it at the end of their constructor. */
  protected startMinimum(): void {
    this.#fill();
  }

  /** Makes one worker; it must report back through slotReady / slotDone / slotExit. */
  protected abstract spawnSlot(): Slot;

  /**
   * Runs `task` on a worker and resolves with what the task function returned (or rejects with
   * what it threw, message, stack and code kept). Call only from the thread that made the pool.
   */
  run(task: TTask, options?: RunOptions): Promise<TResult> {
    if (this.#closing !== Closing.Open) {
      this.#failed++;
      return Promise.reject(createError('PL_ERR_POOL_CLOSED', 'the pool is closed'));
    }
    let payload: unknown = task;
    let transferList = options?.transferList;
    const moved = unwrapMoved(task);
    if (moved !== undefined) {
      payload = moved.value;
      transferList = transferList === undefined ? moved.list : [...transferList, ...moved.list];
    }
    const signal = options?.signal ?? undefined;
    const timeout = options?.timeout;
    if (timeout !== undefined && !(timeout > 0 && timeout <= 2 ** 31 - 1)) {
      throw invalidArg('timeout', timeout, 'a number of milliseconds from 1 to 2^31-1');
    }
    if (signal?.aborted === true) {
      this.#failed++;
      return Promise.reject(createError('PL_ERR_CANCELLED', 'the signal was already aborted'));
    }
    const t = new Task(this, ++this.#nextId, payload, transferList);
    const promise = new Promise<TResult>((resolve, reject) => {
      t.resolve = resolve as (v: unknown) => void;
      t.reject = reject;
    });
    const slot = this.#idle.pop();
    if (slot !== undefined) {
      this.#start(slot, t, true);
    } else {
      const refusal = this.#refusal();
      if (refusal !== undefined) {
        this.#settle(t, false, refusal);
        return promise;
      }
      this.#queue.push(t);
      this.#fill();
    }
    if (t.state !== TaskState.Done) {
      if (signal !== undefined) {
        t.signal = signal;
        signal.addEventListener('abort', t, { once: true });
      }
      if (timeout !== undefined) t.timer = setTimeout(onTaskTimeout, timeout, t);
    }
    return promise;
  }

  /**
   * Stops accepting tasks and resolves once every worker has exited. Queued and running tasks
   * finish first; with `force`, they fail with PL_ERR_POOL_CLOSED and workers stop at once.
   * Call only from the thread that made the pool.
   */
  close(options?: CloseOptions): Promise<void> {
    const force = options?.force === true;
    if (this.#closing === Closing.Open) this.#closing = force ? Closing.Force : Closing.Graceful;
    else if (force) this.#closing = Closing.Force;
    this.#closed ??= new Promise((resolve) => (this.#closedResolve = resolve));
    if (this.#fillTimer !== undefined) clearTimeout(this.#fillTimer);
    this.#fillTimer = undefined;
    if (this.#closing === Closing.Force) {
      const closed = (): PolyloopError => createError('PL_ERR_POOL_CLOSED', 'the pool was closed');
      for (let t = this.#take(); t !== undefined; t = this.#take())
        this.#settle(t, false, closed());
      for (const slot of [...this.#all]) {
        const t = slot.task;
        this.#stopSlot(slot);
        if (t !== undefined) this.#settle(t, false, closed());
      }
    }
    this.#closeIfDrained();
    return this.#closed;
  }

  /** close({ force: true }), as piscina's destroy. Call only from the thread that made the pool. */
  destroy(): Promise<void> {
    return this.close({ force: true });
  }

  /** Tasks waiting for a worker. Any time, on the pool's thread. */
  get queueSize(): number {
    return this.#queue.length - this.#qHead;
  }

  /** Tasks that resolved so far. On the pool's thread. */
  get completed(): number {
    return this.#completed;
  }

  /** Busy worker-time over lifetime × maxThreads (0..1). On the pool's thread. */
  get utilization(): number {
    const span = (performance.now() - this.#born) * this.options.maxThreads;
    return span > 0 ? Math.min(1, this.#runTime / span) : 0;
  }

  /** The resolved `minThreads` option. Any time, on the pool's thread. */
  get minThreads(): number {
    return this.options.minThreads;
  }

  /** The resolved `maxThreads` option. Any time, on the pool's thread. */
  get maxThreads(): number {
    return this.options.maxThreads;
  }

  /** A snapshot of the pool's state and counters. Call on the pool's thread. */
  stats(): PoolStats {
    return {
      threads: this.#all.size - this.#stopping,
      idle: this.#idle.length,
      busy: this.#busy,
      starting: this.#starting,
      queueSize: this.queueSize,
      completed: this.#completed,
      failed: this.#failed,
      crashed: this.#crashed,
      started: this.#startedCount,
      meanRunTime: this.#runs > 0 ? this.#runTime / this.#runs : 0,
      utilization: this.utilization,
    };
  }

  /** The live slots, for subclasses' getters (threads, processes). */
  protected slots(): Iterable<Slot> {
    return this.#all;
  }

  /** A worker finished loading the task module and can take tasks. */
  protected slotReady(slot: Slot): void {
    if (slot.state !== SlotState.Starting) return;
    this.#starting--;
    this.#retryAt = 0;
    this.#lastStartError = undefined;
    this.#park(slot);
    this.#fill();
  }

  /** A worker answered its task: `kind` says how `value` is to be read. */
  protected slotDone(slot: Slot, kind: Outcome, value: unknown): void {
    const t = slot.task;
    if (t === undefined || slot.state !== SlotState.Busy) return;
    slot.task = undefined;
    this.#runTime += performance.now() - t.started;
    this.#runs++;
    this.#failStreak = 0;
    this.#busy--;
    // Hand the worker its next task before settling this one, so it never waits on our callbacks.
    this.#park(slot);
    if (kind === Outcome.Value) this.#settle(t, true, value);
    else this.#settle(t, false, kind === Outcome.Error ? fromWireError(value as WireError) : value);
  }

  /** A worker is gone (exit code, or a signal name for a process). */
  protected slotExit(slot: Slot, code: number | string | null): void {
    if (!this.#all.delete(slot)) return;
    const was = slot.state;
    slot.state = SlotState.Gone;
    const t = slot.task;
    slot.task = undefined;
    if (was === SlotState.Starting) this.#starting--;
    else if (was === SlotState.Busy) this.#busy--;
    else if (was === SlotState.Stopping) this.#stopping--;
    else if (was === SlotState.Idle) this.#idle.splice(this.#idle.indexOf(slot), 1);
    slot.setHeld(false);
    if (was === SlotState.Starting) {
      this.#startFailed(slot, code);
    } else if (was !== SlotState.Stopping) {
      this.#crashed++;
      if (t !== undefined) {
        const err = createError(
          'PL_ERR_WORKER_CRASHED',
          `the worker running task ${t.id} died (exit ${describe(code)})${reason(slot.error)}`,
          slot.error,
        );
        (err as PolyloopError & { exitCode: unknown }).exitCode = code;
        this.#settle(t, false, err);
      } else {
        // A worker dying with no task to blame counts like a failed start: back off.
        this.#failStreak++;
        this.#retryAt = Date.now() + respawnDelay(this.#failStreak);
      }
    }
    this.#fill();
    this.#closeIfDrained();
  }

  #startFailed(slot: Slot, code: number | string | null): void {
    this.#failStreak++;
    this.#retryAt = Date.now() + respawnDelay(this.#failStreak);
    const cause =
      slot.error ?? new Error(`the worker exited with ${describe(code)} while starting`);
    this.#lastStartError = cause;
    // Tasks wait only while some worker is alive to take them; otherwise they fail now.
    if (this.#all.size === 0) {
      for (let t = this.#take(); t !== undefined; t = this.#take()) {
        this.#settle(t, false, this.#startError(cause));
      }
    }
  }

  #startError(cause: unknown): PolyloopError {
    return createError(
      'PL_ERR_WORKER_START',
      `no worker could start for ${this.options.href}${reason(cause)}`,
      cause,
    );
  }

  /** Why `run` must refuse a task that found no idle worker, or undefined to queue it. */
  #refusal(): PolyloopError | undefined {
    if (this.#all.size === 0 && this.#lastStartError !== undefined && Date.now() < this.#retryAt) {
      return this.#startError(this.#lastStartError);
    }
    if (this.queueSize >= this.options.maxQueue) {
      return createError(
        'PL_ERR_QUEUE_FULL',
        `all ${this.#busy} workers are busy and ${this.queueSize} tasks wait (maxQueue ${this.options.maxQueue})`,
      );
    }
    return undefined;
  }

  /** Gives `slot` (now free) the next queued task, or marks it idle. */
  #park(slot: Slot): void {
    for (let t = this.#take(); t !== undefined; t = this.#take()) {
      if (this.#start(slot, t, false)) return;
    }
    slot.state = SlotState.Idle;
    slot.idleSince = performance.now();
    this.#idle.push(slot);
    slot.setHeld(false);
    if (this.#closing === Closing.Graceful) this.#closeIfDrained();
    else this.#armIdle();
  }

  /** Posts `t` to `slot`; false (with `t` rejected) when the task cannot be sent. */
  #start(slot: Slot, t: Task, fromIdle: boolean): boolean {
    try {
      slot.post(t.payload, t.transferList);
    } catch (err) {
      if (fromIdle) this.#idle.push(slot);
      this.#settle(t, false, err);
      return false;
    }
    t.payload = undefined;
    t.transferList = undefined;
    t.state = TaskState.Running;
    t.slot = slot;
    t.started = performance.now();
    slot.task = t;
    slot.state = SlotState.Busy;
    this.#busy++;
    slot.setHeld(true);
    return true;
  }

  /** Drops a task that was aborted or timed out: dequeued, or its worker stopped. */
  #abandon(t: Task, err: PolyloopError): void {
    if (t.state === TaskState.Queued) {
      const i = this.#queue.indexOf(t, this.#qHead);
      if (i >= 0) this.#queue.splice(i, 1);
    } else if (t.state === TaskState.Running && t.slot !== undefined) {
      // Running JavaScript cannot be interrupted: the worker goes, a fresh one replaces it.
      this.#stopSlot(t.slot);
    } else {
      return;
    }
    this.#settle(t, false, err);
    this.#fill();
    this.#closeIfDrained();
  }

  #stopSlot(slot: Slot): void {
    if (slot.state === SlotState.Stopping || slot.state === SlotState.Gone) return;
    const hard = slot.state === SlotState.Busy;
    if (hard) this.#busy--;
    else if (slot.state === SlotState.Starting) this.#starting--;
    else if (slot.state === SlotState.Idle) this.#idle.splice(this.#idle.indexOf(slot), 1);
    slot.state = SlotState.Stopping;
    slot.task = undefined;
    this.#stopping++;
    // Keep the loop alive until it is gone, so close() can resolve.
    slot.setHeld(true);
    slot.stop(hard);
  }

  #settle(t: Task, ok: boolean, value: unknown): void {
    t.state = TaskState.Done;
    t.slot = undefined;
    if (t.timer !== undefined) clearTimeout(t.timer);
    if (t.signal !== undefined) t.signal.removeEventListener('abort', t);
    if (ok) {
      this.#completed++;
      t.resolve(value);
    } else {
      this.#failed++;
      t.reject(value);
    }
  }

  #take(): Task | undefined {
    const q = this.#queue;
    if (this.#qHead >= q.length) return undefined;
    const t = q[this.#qHead];
    q[this.#qHead++] = undefined;
    if (this.#qHead === q.length) {
      q.length = 0;
      this.#qHead = 0;
    } else if (this.#qHead >= 1024 && this.#qHead * 2 >= q.length) {
      this.#queue = q.slice(this.#qHead);
      this.#qHead = 0;
    }
    return t;
  }

  /**
   * Starts workers for queued tasks that no starting worker will take, and up to minThreads;
   * never beyond maxThreads, and after a failure only once its back-off has passed.
   */
  #fill(): void {
    if (this.#closing === Closing.Force || this.#fillTimer !== undefined) return;
    const size = this.#all.size;
    let want = this.queueSize - this.#starting;
    if (this.#closing === Closing.Open && this.#failStreak < MAX_STREAK) {
      want = Math.max(want, this.options.minThreads - (size - this.#stopping));
    }
    want = Math.min(want, this.options.maxThreads - size);
    if (want <= 0) return;
    const wait = this.#retryAt - Date.now();
    if (wait > 0) {
      this.#fillTimer = setTimeout(() => {
        this.#fillTimer = undefined;
        this.#fill();
      }, wait);
      // Only queued tasks are worth keeping the process alive for.
      if (this.queueSize === 0) this.#fillTimer.unref();
      return;
    }
    for (let i = 0; i < want; i++) {
      const slot = this.spawnSlot();
      this.#all.add(slot);
      this.#starting++;
      this.#startedCount++;
      slot.setHeld(true);
    }
  }

  /** Arms the one timer that retires workers idle for idleTimeout beyond minThreads. */
  #armIdle(): void {
    const { idleTimeout, minThreads } = this.options;
    if (this.#idleTimer !== undefined || !Number.isFinite(idleTimeout)) return;
    if (this.#all.size - this.#stopping <= minThreads || this.#idle.length === 0) return;
    this.#idleTimer = setTimeout(() => this.#retireIdle(), Math.min(idleTimeout, 2 ** 31 - 1));
    this.#idleTimer.unref();
  }

  #retireIdle(): void {
    this.#idleTimer = undefined;
    if (this.#closing !== Closing.Open) return;
    const { idleTimeout, minThreads } = this.options;
    const now = performance.now();
    // #idle is ordered by when each went idle: the oldest first.
    while (this.#idle.length > 0 && this.#all.size - this.#stopping > minThreads) {
      const oldest = this.#idle[0]!;
      const left = oldest.idleSince + idleTimeout - now;
      if (left > 1) {
        this.#idleTimer = setTimeout(() => this.#retireIdle(), left);
        this.#idleTimer.unref();
        return;
      }
      this.#stopSlot(oldest);
    }
  }

  #closeIfDrained(): void {
    if (this.#closing === Closing.Open) return;
    if (this.#closing === Closing.Graceful && (this.queueSize > 0 || this.#busy > 0)) return;
    for (const slot of [...this.#all]) this.#stopSlot(slot);
    if (this.#all.size === 0 && this.#closedResolve !== undefined) {
      clearTimeout(this.#idleTimer);
      clearTimeout(this.#fillTimer);
      this.#idleTimer = undefined;
      this.#fillTimer = undefined;
      this.#closedResolve();
      this.#closedResolve = undefined;
    }
  }
}

function reason(err: unknown): string {
  if (err === undefined) return '';
  return `: ${err instanceof Error ? err.message : describe(err)}`;
}
