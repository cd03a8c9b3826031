/**
 * IntRing: a lock-free single-producer/single-consumer ring of 32-bit integers (fds, ids, slot
 * numbers) in a SharedArrayBuffer, so two threads can hand integers over without a message port.
 *
 *   slots:  [ . . . x x x x . . ]      HEAD and TAIL count pushes and pops since creation
 *                  ^head   ^tail       (free-running, wrapping at 2^32); slot = index & mask
 *
 * The producer writes a slot and then Atomics.store(TAIL); the consumer Atomics.load(TAIL) before
 * reading slots, so it always sees the slot written (the store publishes, the load acquires).
 * Likewise HEAD hands emptied slots back to the producer.
 */
import { invalidArg } from '../errors.js';
import {
  allocate,
  checkCapacity,
  HEADER_BYTES,
  HEADER_WORDS,
  Kind,
  open,
  W_DATA_SEQ,
  W_DATA_WAIT,
  W_HEAD,
  W_SPACE_SEQ,
  W_SPACE_WAIT,
  W_TAIL,
  waitUntil,
  wake,
} from './ring-header.js';

/**
 * SPSC ring of int32 values. One thread pushes, one thread pops (they may be the same thread);
 * two producers or two consumers corrupt it — use `MpscIntRing` for several producers.
 * The ring lives as long as any thread holds its `buffer`.
 */
export class IntRing {
  /** The shared memory; send it to another thread (postMessage, workerData) and `from` it there. */
  readonly buffer: SharedArrayBuffer;
  /** How many values fit at once (a power of two). */
  readonly capacity: number;
  readonly #header: Int32Array;
  readonly #slots: Int32Array;
  readonly #mask: number;
  // Each side's last view of the other's index: re-read only when the ring looks full or empty,
  // which keeps the other side's cache line out of the hot path.
  #seenHead = 0;
  #seenTail = 0;

  private constructor(buffer: SharedArrayBuffer, header: Int32Array, capacity: number) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.#header = header;
    this.#slots = new Int32Array(buffer, HEADER_BYTES, capacity);
    this.#mask = capacity - 1;
    this.#seenHead = Atomics.load(header, W_HEAD);
    this.#seenTail = Atomics.load(header, W_TAIL);
  }

  /** A new empty ring of `capacity` slots (a power of two from 2 to 2^30). Any thread. */
  static create(capacity: number): IntRing {
    checkCapacity('IntRing capacity', capacity, 2);
    const sab = allocate(Kind.Int, capacity, capacity * 4);
    return new IntRing(sab, new Int32Array(sab, 0, HEADER_WORDS), capacity);
  }

  /** Opens the ring that `IntRing.create` made in `buffer` (on this thread or another). */
  static from(buffer: SharedArrayBuffer): IntRing {
    const { header, capacity } = open(Kind.Int, buffer, (c) => c * 4);
    return new IntRing(buffer, header, capacity);
  }

  /** Values in the ring now (a snapshot; exact only on the producer or consumer thread). */
  get size(): number {
    return (Atomics.load(this.#header, W_TAIL) - Atomics.load(this.#header, W_HEAD)) | 0;
  }

  /** Appends `value` (an int32); false when the ring is full. Producer thread only. */
  tryPush(value: number): boolean {
    if (value !== (value | 0)) throw invalidArg('IntRing value', value, 'an int32');
    const h = this.#header;
    const tail = Atomics.load(h, W_TAIL); // only this thread writes it
    if (((tail - this.#seenHead) | 0) >= this.capacity) {
      this.#seenHead = Atomics.load(h, W_HEAD);
      if (((tail - this.#seenHead) | 0) >= this.capacity) return false;
    }
    this.#slots[tail & this.#mask] = value;
    Atomics.store(h, W_TAIL, (tail + 1) | 0); // publishes the slot
    wake(h, W_DATA_SEQ, W_DATA_WAIT);
    return true;
  }

  /** Removes and returns the oldest value; undefined when the ring is empty. Consumer only. */
  tryPop(): number | undefined {
    const h = this.#header;
    const head = Atomics.load(h, W_HEAD); // only this thread writes it
    if (head === this.#seenTail) {
      this.#seenTail = Atomics.load(h, W_TAIL);
      if (head === this.#seenTail) return undefined;
    }
    const value = this.#slots[head & this.#mask]!;
    Atomics.store(h, W_HEAD, (head + 1) | 0); // hands the slot back
    // Wake a waiting producer only once half the ring is free, not for every slot: otherwise
    // producer and consumer ping-pong one wake-up per message (see ring-header.ts).
    if (((this.#seenTail - head - 1) | 0) <= this.capacity >> 1) wake(h, W_SPACE_SEQ, W_SPACE_WAIT);
    return value;
  }

  /**
   * Resolves true once the ring holds a value, false after `timeoutMs`. Consumer thread only.
   * Never blocks: it parks on `Atomics.waitAsync`, and a producer notifies only while it waits.
   */
  waitForData(timeoutMs?: number): Promise<boolean> {
    const h = this.#header;
    return waitUntil(
      h,
      W_DATA_SEQ,
      W_DATA_WAIT,
      () => Atomics.load(h, W_TAIL) !== Atomics.load(h, W_HEAD),
      timeoutMs,
    );
  }

  /**
   * Resolves true once the ring is at most half full, false after `timeoutMs`. Producer only.
   * Half, not one free slot: a producer that resumed at every freed slot would trade cache
   * lines with the consumer for each value; this way it refills half the ring in one go.
   */
  waitForSpace(timeoutMs?: number): Promise<boolean> {
    const h = this.#header;
    return waitUntil(
      h,
      W_SPACE_SEQ,
      W_SPACE_WAIT,
      () => ((Atomics.load(h, W_TAIL) - Atomics.load(h, W_HEAD)) | 0) <= this.capacity >> 1,
      timeoutMs,
    );
  }
}
