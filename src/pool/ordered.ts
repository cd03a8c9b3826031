/**
 * OrderedQueue: hands on the outcomes of work started in some order in that same order, however
 * it completes. A connection that sends each request to a pool and must answer in request
 * order (pipelined HTTP, a line protocol) pushes each `pool.run(...)` promise here and writes
 * its responses from `onValue`.
 *
 *   push:      #1     #2     #3     #4
 *   settles:          #2  #1     #4      #3
 *   delivered:           #1 #2          #3 #4
 *
 * Outcomes wait in a window from the oldest undelivered one to the newest pushed: a slow head
 * holds back everything behind it, so bound what you push (the pool's maxQueue does).
 */
import { invalidArg } from '../errors.js';

const enum State {
  Pending,
  Value,
  Error,
}

interface Entry {
  state: State;
  /** The value (State.Value) or the rejection reason (State.Error). */
  value: unknown;
}

/**
 * Delivers pushed outcomes in push order: values to `onValue`, rejections to `onError`, each with
 * its sequence number (0, 1, 2, ...). Use it on one thread (the connection's loop).
 */
export class OrderedQueue<T> {
  readonly #onValue: (value: T, seq: number) => void;
  readonly #onError: (err: unknown, seq: number) => void;
  /** Entries from sequence number #base on; delivered ones are cleared from the front. */
  #entries: (Entry | undefined)[] = [];
  #first = 0;
  #base = 0;
  #next = 0;
  #closed = false;
  #flushing = false;
  #idle: (() => void)[] = [];

  constructor(
    onValue: (value: T, seq: number) => void,
    onError: (err: unknown, seq: number) => void,
  ) {
    if (typeof onValue !== 'function') throw invalidArg('onValue', onValue, 'a function');
    if (typeof onError !== 'function') throw invalidArg('onError', onError, 'a function');
    this.#onValue = onValue;
    this.#onError = onError;
  }

  /**
   * Adds the next outcome: a promise (or thenable) or a plain value. Returns its sequence number.
   * A plain value, or a promise that settles, at the head of the line is delivered at once.
   * On the queue's thread.
   */
  push(outcome: T | PromiseLike<T>): number {
    const seq = this.#next++;
    const entry: Entry = { state: State.Pending, value: undefined };
    this.#entries.push(entry);
    if (isThenable(outcome)) {
      outcome.then(
        (v) => this.#settle(entry, State.Value, v),
        (e: unknown) => this.#settle(entry, State.Error, e),
      );
    } else {
      this.#settle(entry, State.Value, outcome);
    }
    return seq;
  }

  /** Outcomes pushed and not yet delivered. On the queue's thread. */
  get pending(): number {
    return this.#next - this.#base;
  }

  /**
   * Resolves once every outcome pushed so far has been delivered (or the queue closed).
   * On the queue's thread.
   */
  drained(): Promise<void> {
    if (this.pending === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops delivering: outcomes still pending are dropped (the connection went away). On the queue's thread. */
  close(): void {
    this.#closed = true;
    this.#entries = [];
    this.#first = 0;
    this.#base = this.#next;
    this.#wakeIdle();
  }

  #settle(entry: Entry, state: State, value: unknown): void {
    if (this.#closed) return;
    entry.state = state;
    entry.value = value;
    this.#flush();
  }

  #flush(): void {
    // A callback that pushes a ready value lands here again: the running loop delivers it next.
    if (this.#flushing) return;
    this.#flushing = true;
    let head = this.#entries[this.#first];
    while (head !== undefined && head.state !== State.Pending && !this.#closed) {
      this.#entries[this.#first++] = undefined;
      const seq = this.#base++;
      try {
        if (head.state === State.Value) this.#onValue(head.value as T, seq);
        else this.#onError(head.value, seq);
      } catch (err) {
        // A throwing callback is the caller's bug: report it as uncaught, keep the order intact.
        process.nextTick(() => {
          throw err;
        });
      }
      head = this.#entries[this.#first];
    }
    this.#flushing = false;
    if (this.#first > 0 && this.#first === this.#entries.length) {
      this.#entries.length = 0;
      this.#first = 0;
    } else if (this.#first >= 1024 && this.#first * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#first);
      this.#first = 0;
    }
    if (this.pending === 0) this.#wakeIdle();
  }

  #wakeIdle(): void {
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}

/** `new OrderedQueue(onValue, onError)`: delivers outcomes in push order. Use on one thread. */
export function ordered<T>(
  onValue: (value: T, seq: number) => void,
  onError: (err: unknown, seq: number) => void,
): OrderedQueue<T> {
  return new OrderedQueue(onValue, onError);
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as PromiseLike<T>).then === 'function'
  );
}
