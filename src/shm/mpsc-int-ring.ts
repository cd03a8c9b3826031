/**
 * MpscIntRing: a lock-free bounded multi-producer/single-consumer queue of int32 values in a
 * SharedArrayBuffer (Dmitry Vyukov's bounded MPMC queue, with one consumer).
 *
 *   seqs:   [ s0 s1 s2 ... ]   one sequence word per slot: whose turn the slot is
 *   values: [ v0 v1 v2 ... ]
 *
 * Slot i starts with seq = i. A producer reads TAIL = t; if seqs[t & mask] === t the slot is free
 * for ticket t, and it claims the ticket with compareExchange(TAIL, t, t + 1); the winner writes
 * the value and publishes it with Atomics.store(seq, t + 1). The consumer at HEAD = h waits for
 * seq === h + 1, reads the value and frees the slot for the next lap with seq = h + capacity.
 * A producer that claimed a ticket but has not published yet holds up the consumer at that slot
 * only (later slots wait behind it: FIFO per ticket).
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
 * MPSC ring of int32 values. Any number of threads push; exactly one thread pops.
 * The ring lives as long as any thread holds its `buffer`.
 */
export class MpscIntRing {
  /** The shared memory; send it to other threads (postMessage, workerData) and `from` it there. */
  readonly buffer: SharedArrayBuffer;
  /** How many values fit at once (a power of two). */
  readonly capacity: number;
  readonly #header: Int32Array;
  readonly #seqs: Int32Array;
  readonly #values: Int32Array;
  readonly #mask: number;

  private constructor(buffer: SharedArrayBuffer, header: Int32Array, capacity: number) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.#header = header;
    this.#seqs = new Int32Array(buffer, HEADER_BYTES, capacity);
    this.#values = new Int32Array(buffer, HEADER_BYTES + capacity * 4, capacity);
    this.#mask = capacity - 1;
  }

  /** A new empty ring of `capacity` slots (a power of two from 2 to 2^29). Any thread. */
  static create(capacity: number): MpscIntRing {
    checkCapacity('MpscIntRing capacity', capacity, 2, 2 ** 29);
    const sab = allocate(Kind.MpscInt, capacity, capacity * 8);
    const ring = new MpscIntRing(sab, new Int32Array(sab, 0, HEADER_WORDS), capacity);
    for (let i = 0; i < capacity; i++) ring.#seqs[i] = i;
    // The seqs are published to other threads by whatever sends them `buffer` (postMessage
    // happens-before the receiver's handler), like every other header word.
    return ring;
  }

  /** Opens the ring that `MpscIntRing.create` made in `buffer` (on this thread or another). */
  static from(buffer: SharedArrayBuffer): MpscIntRing {
    const { header, capacity } = open(Kind.MpscInt, buffer, (c) => c * 8);
    return new MpscIntRing(buffer, header, capacity);
  }

  /** Tickets claimed minus values popped (a snapshot). */
  get size(): number {
    return (Atomics.load(this.#header, W_TAIL) - Atomics.load(this.#header, W_HEAD)) | 0;
  }

  /** Appends `value` (an int32); false when the ring is full. Safe from any thread. */
  tryPush(value: number): boolean {
    if (value !== (value | 0)) throw invalidArg('MpscIntRing value', value, 'an int32');
    const h = this.#header;
    const seqs = this.#seqs;
    let tail = Atomics.load(h, W_TAIL);
    for (;;) {
      const slot = tail & this.#mask;
      const diff = (Atomics.load(seqs, slot) - tail) | 0;
      if (diff === 0) {
        const seen = Atomics.compareExchange(h, W_TAIL, tail, (tail + 1) | 0);
        if (seen === tail) {
          this.#values[slot] = value;
          Atomics.store(seqs, slot, (tail + 1) | 0); // publishes the value
          wake(h, W_DATA_SEQ, W_DATA_WAIT);
          return true;
        }
        tail = seen; // another producer took this ticket; try the next one
      } else if (diff < 0) {
        return false; // the slot still holds last lap's value: full
      } else {
        tail = Atomics.load(h, W_TAIL); // we lag behind other producers
      }
    }
  }

  /** Removes and returns the oldest published value; undefined when none is. Consumer only. */
  tryPop(): number | undefined {
    const h = this.#header;
    const head = Atomics.load(h, W_HEAD); // only this thread writes it
    const slot = head & this.#mask;
    if (Atomics.load(this.#seqs, slot) !== ((head + 1) | 0)) return undefined;
    const value = this.#values[slot]!;
    Atomics.store(this.#seqs, slot, (head + this.capacity) | 0); // frees it for the next lap
    Atomics.store(h, W_HEAD, (head + 1) | 0);
    // Wake waiting producers once half the ring is free, not for every slot (no ping-pong).
    if (
      Atomics.load(h, W_SPACE_WAIT) !== 0 &&
      ((Atomics.load(h, W_TAIL) - head - 1) | 0) <= this.capacity >> 1
    ) {
      wake(h, W_SPACE_SEQ, W_SPACE_WAIT);
    }
    return value;
  }

  /**
   * Resolves true once the next value is published, false after `timeoutMs`. Consumer only.
   * Never blocks the thread (`Atomics.waitAsync`).
   */
  waitForData(timeoutMs?: number): Promise<boolean> {
    const h = this.#header;
    return waitUntil(
      h,
      W_DATA_SEQ,
      W_DATA_WAIT,
      () => {
        const head = Atomics.load(h, W_HEAD);
        return Atomics.load(this.#seqs, head & this.#mask) === ((head + 1) | 0);
      },
      timeoutMs,
    );
  }

  /**
   * Resolves true once a slot looks free and the ring is at most half full, false after
   * `timeoutMs`; another producer may still take the slot first, so loop on `tryPush`. Safe
   * from any producer thread, several at once. Half: producers refill half the ring in one go
   * instead of trading cache lines with the consumer for every freed slot.
   */
  waitForSpace(timeoutMs?: number): Promise<boolean> {
    const h = this.#header;
    return waitUntil(
      h,
      W_SPACE_SEQ,
      W_SPACE_WAIT,
      () => {
        const tail = Atomics.load(h, W_TAIL);
        return (
          Atomics.load(this.#seqs, tail & this.#mask) === tail &&
          ((tail - Atomics.load(h, W_HEAD)) | 0) <= this.capacity >> 1
        );
      },
      timeoutMs,
    );
  }
}
