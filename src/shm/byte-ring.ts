/**
 * ByteRing: a lock-free single-producer/single-consumer ring of variable-length byte messages in a
 * SharedArrayBuffer. Each message is a record: a 4-byte length, the bytes, padding to 4.
 *
 *   bytes:  [ len|payload..|pad  len|payload....  PAD ........ ]
 *             ^head                         ^tail  └ to the end: skipped
 *
 * A record never splits across the end of the region: when it does not fit in the bytes left
 * before the end, the producer writes a PAD marker (length -1) there and starts the record at
 * offset 0; the consumer skips from a PAD to offset 0. HEAD and TAIL count bytes since creation
 * (free-running, wrapping at 2^32), so PAD space counts as used until the consumer passes it.
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

const PAD = -1;
/** Size of the plain buffers that `tryPop` carves mid-sized copies from. */
const CHUNK_BYTES = 64 * 1024;
const recordBytes = (length: number): number => 4 + ((length + 3) & ~3);

/**
 * SPSC ring of byte messages. One thread pushes, one thread pops (they may be the same thread).
 * The ring lives as long as any thread holds its `buffer`.
 */
export class ByteRing {
  /** The shared memory; send it to another thread (postMessage, workerData) and `from` it there. */
  readonly buffer: SharedArrayBuffer;
  /** Size of the record region in bytes (a power of two). */
  readonly capacity: number;
  /** The longest message `tryPush` accepts: `capacity - 4`. */
  readonly maxMessage: number;
  readonly #header: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #words: Int32Array;
  readonly #mask: number;
  #seenHead: number;
  #seenTail: number;

  private constructor(buffer: SharedArrayBuffer, header: Int32Array, capacity: number) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.maxMessage = capacity - 4;
    this.#header = header;
    this.#bytes = new Uint8Array(buffer, HEADER_BYTES, capacity);
    this.#words = new Int32Array(buffer, HEADER_BYTES, capacity / 4);
    this.#mask = capacity - 1;
    this.#seenHead = Atomics.load(header, W_HEAD);
    this.#seenTail = Atomics.load(header, W_TAIL);
  }

  /** A new empty ring of `capacity` bytes (a power of two from 16 to 2^30). Any thread. */
  static create(capacity: number): ByteRing {
    checkCapacity('ByteRing capacity', capacity, 16);
    const sab = allocate(Kind.Byte, capacity, capacity);
    return new ByteRing(sab, new Int32Array(sab, 0, HEADER_WORDS), capacity);
  }

  /** Opens the ring that `ByteRing.create` made in `buffer` (on this thread or another). */
  static from(buffer: SharedArrayBuffer): ByteRing {
    const { header, capacity } = open(Kind.Byte, buffer, (c) => c);
    return new ByteRing(buffer, header, capacity);
  }

  /** Bytes in use now, records, padding and PAD space included (a snapshot). */
  get usedBytes(): number {
    return (Atomics.load(this.#header, W_TAIL) - Atomics.load(this.#header, W_HEAD)) | 0;
  }

  /**
   * Copies `message` into the ring; false when it does not fit now (retry later, or await
   * `waitForSpace(message.length)`). Throws PL_ERR_INVALID_ARG when it can never fit
   * (longer than `maxMessage`). Producer thread only.
   */
  tryPush(message: Uint8Array): boolean {
    const length = message.length;
    if (length > this.maxMessage) {
      throw invalidArg('ByteRing message length', length, `at most ${this.maxMessage}`);
    }
    const h = this.#header;
    let tail = Atomics.load(h, W_TAIL); // only this thread writes it
    const need = recordBytes(length);
    let pos = tail & this.#mask;
    const toEnd = this.capacity - pos;
    if (need > toEnd) {
      // Pad to the end first, as soon as those bytes are free, even if the record itself does
      // not fit yet: then a later try has the whole region ahead of it, so any message up to
      // maxMessage gets in once the consumer catches up.
      if (!this.#hasRoom(tail, toEnd)) return false;
      this.#words[pos >> 2] = PAD;
      tail = (tail + toEnd) | 0;
      Atomics.store(h, W_TAIL, tail);
      pos = 0;
    }
    if (!this.#hasRoom(tail, need)) {
      if (pos === 0 && need > toEnd) wake(h, W_DATA_SEQ, W_DATA_WAIT); // the PAD went out
      return false;
    }
    this.#words[pos >> 2] = length;
    this.#bytes.set(message, pos + 4);
    Atomics.store(h, W_TAIL, (tail + need) | 0); // publishes the record
    wake(h, W_DATA_SEQ, W_DATA_WAIT);
    return true;
  }

  #hasRoom(tail: number, bytes: number): boolean {
    if (((tail - this.#seenHead) | 0) + bytes <= this.capacity) return true;
    this.#seenHead = Atomics.load(this.#header, W_HEAD);
    return ((tail - this.#seenHead) | 0) + bytes <= this.capacity;
  }

  /**
   * Removes the oldest message and copies it into `target` (reused by the caller, so no
   * allocation per message); returns its length, or -1 when the ring is empty. Throws
   * PL_ERR_INVALID_ARG, leaving the message in the ring, when `target` is shorter than it.
   * Consumer thread only.
   */
  tryPopInto(target: Uint8Array): number {
    let length = -1;
    this.#pop((start, len) => {
      if (len > target.length) {
        throw invalidArg('ByteRing.tryPopInto target length', target.length, `at least ${len}`);
      }
      target.set(this.#bytes.subarray(start, start + len));
      length = len;
    });
    return length;
  }

  /**
   * Removes the oldest message and returns a copy of it (a plain, non-shared Uint8Array the
   * caller owns); undefined when the ring is empty. Copies of 65 bytes to 16 KiB are carved out
   * of a 64 KiB ArrayBuffer shared with the copies before and after them, as `Buffer.allocUnsafe`
   * does: one allocation per chunk instead of one per message (`msg.buffer` is that chunk).
   * Consumer thread only.
   */
  tryPop(): Uint8Array | undefined {
    let message: Uint8Array | undefined;
    this.#pop((start, length) => {
      const from = this.#bytes.subarray(start, start + length);
      if (length <= 64 || length > CHUNK_BYTES / 4) {
        // Small copies live on the V8 heap (cheaper than any carving); large ones get their own.
        message = from.slice();
        return;
      }
      if (this.#chunkUsed + length > CHUNK_BYTES) {
        this.#chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES).buffer; // every byte is copied over
        this.#chunkUsed = 0;
      }
      message = new Uint8Array(this.#chunk, this.#chunkUsed, length);
      message.set(from);
      this.#chunkUsed += (length + 7) & ~7; // the next copy starts 8-aligned
    });
    return message;
  }

  /** Where `tryPop` carves its copies from (consumer thread only); replaced when used up. */
  #chunk = new ArrayBuffer(0);
  #chunkUsed = CHUNK_BYTES;

  /** Hands the oldest record's place to `take` (which copies it out), then frees it. */
  #pop(take: (start: number, length: number) => void): void {
    const h = this.#header;
    let head = Atomics.load(h, W_HEAD); // only this thread writes it
    for (;;) {
      if (head === this.#seenTail) {
        this.#seenTail = Atomics.load(h, W_TAIL);
        if (head === this.#seenTail) return;
      }
      const pos = head & this.#mask;
      const length = this.#words[pos >> 2]!;
      if (length === PAD) {
        head = (head + this.capacity - pos) | 0;
        Atomics.store(h, W_HEAD, head);
        if (((this.#seenTail - head) | 0) <= this.capacity >> 1) wake(h, W_SPACE_SEQ, W_SPACE_WAIT);
        continue;
      }
      // A length the producer cannot have written means the ring was corrupted (two producers
      // or two consumers); reading on would hand out garbage as messages.
      if (length < 0 || length > this.capacity - pos - 4) {
        throw invalidArg('ByteRing record length (ring corrupted?)', length, 'a valid length');
      }
      take(pos + 4, length); // may throw: the record stays
      head = (head + recordBytes(length)) | 0;
      Atomics.store(h, W_HEAD, head); // hands the bytes back
      // Wake a waiting producer only once half the region is free (any record fits once the
      // ring drains), not for every record: no ping-pong of one wake-up per message.
      if (((this.#seenTail - head) | 0) <= this.capacity >> 1) wake(h, W_SPACE_SEQ, W_SPACE_WAIT);
      return;
    }
  }

  /** Resolves true once the ring holds a message, false after `timeoutMs`. Consumer only. */
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
   * Resolves true once `tryPush` of a message of `length` bytes can make progress (store it, or
   * the padding before it) and the ring is at most half full, false after `timeoutMs`.
   * Producer thread only. Half: a producer that resumed as soon as one record fit would trade
   * cache lines with the consumer for every message of a full ring; this way it refills half
   * the ring in one go (the consumer wakes it at half, too).
   */
  waitForSpace(length: number, timeoutMs?: number): Promise<boolean> {
    const h = this.#header;
    const need = recordBytes(Math.min(length, this.maxMessage));
    const half = this.capacity >> 1;
    return waitUntil(
      h,
      W_SPACE_SEQ,
      W_SPACE_WAIT,
      () => {
        const tail = Atomics.load(h, W_TAIL);
        const used = (tail - Atomics.load(h, W_HEAD)) | 0;
        const toEnd = this.capacity - (tail & this.#mask);
        const step = need > toEnd ? toEnd : need;
        return used + (step > half ? step : half) <= this.capacity;
      },
      timeoutMs,
    );
  }
}
