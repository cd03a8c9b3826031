/**
 * RwLock: a reader-writer lock in shared memory, for state that several threads must share
 * (a config snapshot, a routing table): many readers at once, or one writer. Writers are
 * preferred: once a writer asks, new readers wait, so a steady stream of readers cannot starve it.
 *
 * Int32 words, each written by different parties on its own 64-byte cache line:
 *
 *   word  0 ┌ MAGIC              ┐ set once, when the lock is made
 *        16 ├ STATE              ┤ -1: held by a writer; n >= 0: held by n readers
 *        32 ├ WRITERS            ┤ writers asking for the lock (waiting or about to); readers yield
 *        48 ├ WRITE_SEQ          ┤ writers sleep on it; bumped to wake one
 *        64 └ READ_SEQ READ_WAIT ┘ readers sleep on READ_SEQ; READ_WAIT counts them
 *
 * Wake-up without a lost wake-up (as in ring-header.ts): a sleeper announces itself (WRITERS or
 * READ_WAIT), reads the sequence word, tries the lock once more, and only then waits on the
 * sequence value it read. Whoever changes STATE reads the announcement afterwards and, if
 * someone may sleep, bumps the sequence word and notifies. JavaScript atomics are sequentially
 * consistent: either the sleeper's last try sees the new STATE, or the waker sees the sleeper.
 */
import { createError, invalidArg } from '../errors.js';
import { waitUntil } from './ring-header.js';

const MAGIC = 0x706c7277; // 'plrw'
const W_MAGIC = 0;
const W_STATE = 16;
const W_WRITERS = 32;
const W_WRITE_SEQ = 48;
const W_READ_SEQ = 64;
const W_READ_WAIT = 65;
const WORDS = 80;
const WRITER = -1;
const MAX_READERS = 0x7fffffff;

/**
 * A reader-writer lock over a SharedArrayBuffer. Open it on every thread that shares it, from
 * the same `buffer` (and `byteOffset`). Every method is safe from any thread; a lock is held by
 * the thread that took it, and is not reentrant: a thread holding the read lock that asks for
 * it again may wait forever behind a waiting writer.
 *
 * The blocking `readLock`/`writeLock` sleep in `Atomics.wait`: use them in worker threads (on
 * the main thread they stop the event loop). Event loops use `readLockAsync`/`writeLockAsync`.
 */
export class RwLock {
  /** Bytes a lock takes in a buffer: reserve this much at a multiple of 4 (64 is best). */
  static readonly BYTES = WORDS * 4;

  /** The shared memory holding the lock; send it to other threads with the offset. */
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly #h: Int32Array;

  /**
   * Opens the lock at `byteOffset` in `buffer` (making it there if those bytes are still zero),
   * or, without a buffer, makes a new lock in its own. Throws PL_ERR_INVALID_ARG for a bad buffer
   * or offset, or bytes that hold something else. Any thread.
   */
  constructor(buffer?: SharedArrayBuffer, byteOffset = 0) {
    if (buffer === undefined) buffer = new SharedArrayBuffer(RwLock.BYTES);
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw invalidArg('RwLock buffer', buffer, 'a SharedArrayBuffer');
    }
    if (
      !Number.isSafeInteger(byteOffset) ||
      byteOffset < 0 ||
      byteOffset % 4 !== 0 ||
      byteOffset + RwLock.BYTES > buffer.byteLength
    ) {
      throw invalidArg(
        'RwLock byteOffset',
        byteOffset,
        `a multiple of 4 with ${RwLock.BYTES} bytes after it in a ${buffer.byteLength}-byte buffer`,
      );
    }
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.#h = new Int32Array(buffer, byteOffset, WORDS);
    // All-zero bytes are an unlocked lock: whoever comes first only stamps the magic.
    const seen = Atomics.compareExchange(this.#h, W_MAGIC, 0, MAGIC);
    if (seen !== 0 && seen !== MAGIC) {
      throw createError(
        'PL_ERR_INVALID_ARG',
        `RwLock: the ${RwLock.BYTES} bytes at offset ${byteOffset} hold something else`,
      );
    }
  }

  /** Readers holding the lock now (a snapshot); 0 while a writer holds it. Any thread. */
  get readers(): number {
    const s = Atomics.load(this.#h, W_STATE);
    return s > 0 ? s : 0;
  }

  /** True while a writer holds the lock (a snapshot). Any thread. */
  get writeLocked(): boolean {
    return Atomics.load(this.#h, W_STATE) === WRITER;
  }

  /**
   * Takes the read lock if no writer holds it or asks for it; never waits. Any thread.
   */
  tryRead(): boolean {
    const h = this.#h;
    for (;;) {
      const s = Atomics.load(h, W_STATE);
      if (s < 0 || s === MAX_READERS || Atomics.load(h, W_WRITERS) !== 0) return false;
      if (Atomics.compareExchange(h, W_STATE, s, s + 1) === s) return true;
    }
  }

  /** Takes the write lock if nobody holds the lock; never waits. Any thread. */
  tryWrite(): boolean {
    return Atomics.compareExchange(this.#h, W_STATE, 0, WRITER) === 0;
  }

  /**
   * Takes the read lock, sleeping while a writer holds or waits for it. Returns false if
   * `timeoutMs` passed first. Blocks the thread: worker threads only (see the class).
   */
  readLock(timeoutMs = Infinity): boolean {
    const deadline = deadlineOf(timeoutMs);
    if (this.tryRead()) return true;
    const h = this.#h;
    for (;;) {
      Atomics.add(h, W_READ_WAIT, 1);
      const seq = Atomics.load(h, W_READ_SEQ);
      const got = this.tryRead();
      const left = got ? 0 : remaining(deadline);
      if (!got && left > 0) Atomics.wait(h, W_READ_SEQ, seq, left);
      Atomics.sub(h, W_READ_WAIT, 1);
      if (got || this.tryRead()) return true;
      if (remaining(deadline) <= 0) return false;
    }
  }

  /**
   * Takes the write lock, sleeping while anyone holds it. Returns false if `timeoutMs` passed
   * first. Blocks the thread: worker threads only (see the class).
   */
  writeLock(timeoutMs = Infinity): boolean {
    const deadline = deadlineOf(timeoutMs);
    if (this.tryWrite()) return true;
    const h = this.#h;
    Atomics.add(h, W_WRITERS, 1); // from here on, new readers wait
    let got = false;
    try {
      for (;;) {
        const seq = Atomics.load(h, W_WRITE_SEQ);
        if ((got = this.tryWrite())) return true;
        const left = remaining(deadline);
        if (left <= 0) return false;
        Atomics.wait(h, W_WRITE_SEQ, seq, left);
      }
    } finally {
      this.#writerLeaves(got);
    }
  }

  /**
   * Resolves true once the read lock is taken, false if `timeoutMs` passed first. The wait is
   * `Atomics.waitAsync`: the event loop runs on meanwhile. Any thread.
   */
  async readLockAsync(timeoutMs = Infinity): Promise<boolean> {
    deadlineOf(timeoutMs);
    if (this.tryRead()) return true;
    return waitUntil(this.#h, W_READ_SEQ, W_READ_WAIT, () => this.tryRead(), timeoutMs);
  }

  /**
   * Resolves true once the write lock is taken, false if `timeoutMs` passed first. Readers
   * asking meanwhile wait behind it. The event loop runs on while it waits. Any thread.
   */
  async writeLockAsync(timeoutMs = Infinity): Promise<boolean> {
    deadlineOf(timeoutMs);
    if (this.tryWrite()) return true;
    const h = this.#h;
    Atomics.add(h, W_WRITERS, 1);
    let got = false;
    try {
      // WRITERS doubles as the announcement word: wakers check it before notifying WRITE_SEQ.
      got = await waitUntil(h, W_WRITE_SEQ, W_WRITERS, () => this.tryWrite(), timeoutMs);
      return got;
    } finally {
      this.#writerLeaves(got);
    }
  }

  /**
   * Gives a read lock back. Throws PL_ERR_LOCK_STATE, changing nothing, when no reader holds the
   * lock. Call on the thread that took it.
   */
  readUnlock(): void {
    const h = this.#h;
    let s: number;
    for (;;) {
      s = Atomics.load(h, W_STATE);
      if (s <= 0) {
        throw createError(
          'PL_ERR_LOCK_STATE',
          `RwLock.readUnlock: no read lock is held (${s === WRITER ? 'a writer holds it' : 'it is free'})`,
        );
      }
      if (Atomics.compareExchange(h, W_STATE, s, s - 1) === s) break;
    }
    // The last reader out lets one waiting writer in.
    if (s === 1 && Atomics.load(h, W_WRITERS) !== 0) wakeWriter(h);
  }

  /**
   * Gives the write lock back: one waiting writer goes next if there is one, else every waiting
   * reader. Throws PL_ERR_LOCK_STATE, changing nothing, when no writer holds the lock. Call on
   * the thread that took it.
   */
  writeUnlock(): void {
    const h = this.#h;
    const s = Atomics.compareExchange(h, W_STATE, WRITER, 0);
    if (s !== WRITER) {
      throw createError(
        'PL_ERR_LOCK_STATE',
        `RwLock.writeUnlock: the write lock is not held (${s > 0 ? `${s} readers hold it` : 'it is free'})`,
      );
    }
    if (Atomics.load(h, W_WRITERS) !== 0) wakeWriter(h);
    else wakeReaders(h);
  }

  /** Runs `fn` under the read lock (blocking; worker threads) and unlocks however it ends. */
  withRead<T>(fn: () => T): T {
    this.readLock();
    try {
      return fn();
    } finally {
      this.readUnlock();
    }
  }

  /** Runs `fn` under the write lock (blocking; worker threads) and unlocks however it ends. */
  withWrite<T>(fn: () => T): T {
    this.writeLock();
    try {
      return fn();
    } finally {
      this.writeUnlock();
    }
  }

  /** A writer stops asking: readers it held back may go if it was the last and did not get in. */
  #writerLeaves(got: boolean): void {
    const h = this.#h;
    const left = Atomics.sub(h, W_WRITERS, 1) - 1;
    if (!got && left === 0 && Atomics.load(h, W_STATE) !== WRITER) wakeReaders(h);
  }
}

function wakeWriter(h: Int32Array): void {
  Atomics.add(h, W_WRITE_SEQ, 1);
  Atomics.notify(h, W_WRITE_SEQ, 1);
}

function wakeReaders(h: Int32Array): void {
  if (Atomics.load(h, W_READ_WAIT) === 0) return;
  Atomics.add(h, W_READ_SEQ, 1);
  Atomics.notify(h, W_READ_SEQ);
}

/** The deadline (performance.now() time) of a wait; throws PL_ERR_INVALID_ARG for a bad one. */
function deadlineOf(timeoutMs: number): number {
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw invalidArg('timeoutMs', timeoutMs, 'a non-negative number of milliseconds');
  }
  return timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
}

function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : deadline - performance.now();
}
