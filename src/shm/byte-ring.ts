/**
 * ByteRing: a lock-free single-producer/single-consumer ring of variable-length byte messages in a
 * SharedArrayBuffer. Each message is a record: an 8-byte header (the length, then 4 unused bytes),
 * the bytes, padding to 8.
 *
 *   bytes:  [ len·|payload..|pad  len·|payload....  PAD ........ ]
 *             ^head                              ^tail  └ to the end: skipped
 *
 * Records and payloads are 8-byte aligned: V8 copies to and from a SharedArrayBuffer a word at a
 * time only where source and target are aligned alike, and byte by byte otherwise (5× slower at
 * 4 KiB). A record never splits across the end of the region: when it does not fit in the bytes
 * left before the end, the producer writes a PAD marker (length -1) there and starts the record at
 * offset 0; the consumer skips from a PAD to offset 0. HEAD and TAIL count bytes since creation
 * (free-running, wrapping at 2^32), so PAD space counts as used until the consumer passes it.
 */
import { createError, invalidArg } from '../errors.js';
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
  wakeOnce,
} from './ring-header.js';

const PAD = -1;
/** Record header: the length word, then one unused word that keeps the payload 8-aligned. */
const RECORD_HEADER = 8;
/** Size of the plain buffers that `tryPop` carves mid-sized copies from. */
const CHUNK_BYTES = 64 * 1024;
const recordBytes = (length: number): number => RECORD_HEADER + ((length + 7) & ~7);

/**
 * SPSC ring of byte messages. One thread pushes, one thread pops (they may be the same thread).
 * The ring lives as long as any thread holds its `buffer`.
 *
 * Besides copying (`tryPush`, `tryPop`, `tryPopInto`), both sides can work in place, in `bytes`:
 * the producer writes a message where it will be read (`tryReserve`, `commit`) and the consumer
 * reads it where it was written (`tryPeek`, `release`, or `tryRead`). Offsets, not views, come
 * back, so nothing is allocated per message.
 */
export class ByteRing {
  /** The shared memory; send it to another thread (postMessage, workerData) and `from` it there. */
  readonly buffer: SharedArrayBuffer;
  /** Size of the record region in bytes (a power of two). */
  readonly capacity: number;
  /** The longest message `tryPush` and `tryReserve` accept: `capacity - 8`. */
  readonly maxMessage: number;
  /**
   * The record region, shared with the other thread; `tryReserve` and `tryPeek` return offsets
   * into it. Write only inside a pending reservation and read only a peeked message: every other
   * byte may be changing under the other thread.
   */
  readonly bytes: Uint8Array;
  readonly #header: Int32Array;
  readonly #words: Int32Array;
  readonly #mask: number;
  #seenHead: number;
  #seenTail: number;
  /** Producer: the pending reservation's record offset (-1: none), its TAIL and length. */
  #resPos = -1;
  #resTail = 0;
  #resLength = 0;
  /** Consumer: the peeked message's payload offset (-1: none), its HEAD and length. */
  #peekAt = -1;
  #peekHead = 0;
  #peekLength = 0;

  private constructor(buffer: SharedArrayBuffer, header: Int32Array, capacity: number) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.maxMessage = capacity - RECORD_HEADER;
    this.#header = header;
    this.bytes = new Uint8Array(buffer, HEADER_BYTES, capacity);
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
   * (longer than `maxMessage`). Drops a pending reservation. Producer thread only.
   */
  tryPush(message: Uint8Array): boolean {
    const at = this.tryReserve(message.length);
    if (at < 0) return false;
    this.bytes.set(message, at);
    this.commit();
    return true;
  }

  /**
   * Reserves room for a message of `length` bytes and returns where it goes: write it to
   * `bytes[offset .. offset + length)`, then `commit()` to hand it to the consumer. -1 when it
   * does not fit now (as for `tryPush`). Throws PL_ERR_INVALID_ARG for a length that can never
   * fit (above `maxMessage`). Nothing is visible to the consumer before `commit`; a new
   * `tryReserve` or a `tryPush` drops a reservation that was not committed. Producer thread only.
   */
  tryReserve(length: number): number {
    if (!(length >= 0 && length <= this.maxMessage && (length | 0) === length)) {
      throw invalidArg(
        'ByteRing message length',
        length,
        `an integer from 0 to ${this.maxMessage}`,
      );
    }
    this.#resPos = -1;
    const h = this.#header;
    let tail = Atomics.load(h, W_TAIL); // only this thread writes it
    const need = recordBytes(length);
    let pos = tail & this.#mask;
    const toEnd = this.capacity - pos;
    if (need > toEnd) {
      // Pad to the end first, as soon as those bytes are free, even if the record itself does
      // not fit yet: then a later try has the whole region ahead of it, so any message up to
      // maxMessage gets in once the consumer catches up.
      if (!this.#hasRoom(tail, toEnd)) return -1;
      this.#words[pos >> 2] = PAD;
      tail = (tail + toEnd) | 0;
      Atomics.store(h, W_TAIL, tail);
      pos = 0;
      if (!this.#hasRoom(tail, need)) {
        wakeOnce(h, W_DATA_SEQ, W_DATA_WAIT); // the PAD went out: the consumer frees it
        return -1;
      }
    } else if (!this.#hasRoom(tail, need)) {
      return -1;
    }
    this.#resPos = pos;
    this.#resTail = tail;
    this.#resLength = length;
    return pos + RECORD_HEADER;
  }

  /**
   * Publishes the reserved message: its first `length` bytes (all it reserved by default; less
   * when the message came out shorter). Throws PL_ERR_LOCK_STATE when no reservation is pending,
   * PL_ERR_INVALID_ARG for a length above the reserved one. Producer thread only.
   */
  commit(length: number = this.#resLength): void {
    const pos = this.#resPos;
    if (pos < 0) {
      throw createError('PL_ERR_LOCK_STATE', 'ByteRing.commit: no reservation pending');
    }
    if (!(length >= 0 && length <= this.#resLength && (length | 0) === length)) {
      throw invalidArg('ByteRing.commit length', length, `at most the ${this.#resLength} reserved`);
    }
    this.#resPos = -1;
    this.#words[pos >> 2] = length;
    const h = this.#header;
    Atomics.store(h, W_TAIL, (this.#resTail + recordBytes(length)) | 0); // publishes the record
    wakeOnce(h, W_DATA_SEQ, W_DATA_WAIT);
  }

  #hasRoom(tail: number, bytes: number): boolean {
    if (((tail - this.#seenHead) | 0) + bytes <= this.capacity) return true;
    this.#seenHead = Atomics.load(this.#header, W_HEAD);
    return ((tail - this.#seenHead) | 0) + bytes <= this.capacity;
  }

  /**
   * Finds the oldest message without removing it and returns its offset in `bytes`
   * (`peekLength` is its length), or -1 when the ring is empty. The message stays put, and
   * `bytes` holds it unchanged, until `release()` (or a `tryPop`/`tryPopInto`) removes it;
   * peeking again before that returns the same offset. Consumer thread only.
   */
  tryPeek(): number {
    if (this.#peekAt >= 0) return this.#peekAt;
    const h = this.#header;
    let head = Atomics.load(h, W_HEAD); // only this thread writes it
    for (;;) {
      if (head === this.#seenTail) {
        this.#seenTail = Atomics.load(h, W_TAIL);
        if (head === this.#seenTail) return -1;
      }
      const pos = head & this.#mask;
      const length = this.#words[pos >> 2]!;
      if (length === PAD) {
        head = (head + this.capacity - pos) | 0;
        this.#free(head);
        continue;
      }
      // A length the producer cannot have written means the ring was corrupted (two producers
      // or two consumers); reading on would hand out garbage as messages.
      if (length < 0 || length > this.capacity - pos - RECORD_HEADER) {
        throw invalidArg('ByteRing record length (ring corrupted?)', length, 'a valid length');
      }
      this.#peekHead = head;
      this.#peekLength = length;
      return (this.#peekAt = pos + RECORD_HEADER);
    }
  }

  /** The length of the message `tryPeek` found; -1 when none is peeked. */
  get peekLength(): number {
    return this.#peekAt < 0 ? -1 : this.#peekLength;
  }

  /**
   * Removes the peeked message and gives its bytes back to the producer: from here on they may
   * be overwritten at any moment. Throws PL_ERR_LOCK_STATE when no message is peeked.
   * Consumer thread only.
   */
  release(): void {
    if (this.#peekAt < 0) {
      throw createError('PL_ERR_LOCK_STATE', 'ByteRing.release: no message peeked');
    }
    this.#peekAt = -1;
    this.#free((this.#peekHead + recordBytes(this.#peekLength)) | 0);
  }

  /**
   * Hands the oldest message to `fn` in place, as `bytes` (the ring's region), its offset and
   * length, and removes it when `fn` returns or throws; false (without calling `fn`) when the
   * ring is empty. The bytes are valid only during the call: copy what must outlive it.
   * Consumer thread only.
   */
  tryRead(fn: (bytes: Uint8Array, offset: number, length: number) => void): boolean {
    const at = this.tryPeek();
    if (at < 0) return false;
    const head = this.#peekHead;
    try {
      fn(this.bytes, at, this.#peekLength);
    } finally {
      // Unless fn removed it itself (and perhaps peeked the next one).
      if (this.#peekAt >= 0 && this.#peekHead === head) this.release();
    }
    return true;
  }

  /**
   * Removes the oldest message and copies it into `target` (reused by the caller, so no
   * allocation per message); returns its length, or -1 when the ring is empty. Throws
   * PL_ERR_INVALID_ARG, leaving the message in the ring, when `target` is shorter than it.
   * Consumer thread only.
   */
  tryPopInto(target: Uint8Array): number {
    const at = this.tryPeek();
    if (at < 0) return -1;
    const length = this.#peekLength;
    if (length > target.length) {
      throw invalidArg('ByteRing.tryPopInto target length', target.length, `at least ${length}`);
    }
    target.set(this.bytes.subarray(at, at + length));
    this.release();
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
    const at = this.tryPeek();
    if (at < 0) return undefined;
    const length = this.#peekLength;
    const from = this.bytes.subarray(at, at + length);
    let message: Uint8Array;
    if (length <= 64 || length > CHUNK_BYTES / 4) {
      // Small copies live on the V8 heap (cheaper than any carving); large ones get their own.
      message = from.slice();
    } else {
      if (this.#chunkUsed + length > CHUNK_BYTES) {
        this.#chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES).buffer; // every byte is copied over
        this.#chunkUsed = 0;
      }
      message = new Uint8Array(this.#chunk, this.#chunkUsed, length);
      message.set(from);
      this.#chunkUsed += (length + 7) & ~7; // the next copy starts 8-aligned, as in the ring
    }
    this.release();
    return message;
  }

  /** Where `tryPop` carves its copies from (consumer thread only); replaced when used up. */
  #chunk = new ArrayBuffer(0);
  #chunkUsed = CHUNK_BYTES;

  /** Moves HEAD to `head`, handing the bytes before it back to the producer. */
  #free(head: number): void {
    const h = this.#header;
    Atomics.store(h, W_HEAD, head);
    // Wake a waiting producer only once half the region is free (any record fits once the
    // ring drains), not for every record: no ping-pong of one wake-up per message.
    if (((this.#seenTail - head) | 0) <= this.capacity >> 1) wakeOnce(h, W_SPACE_SEQ, W_SPACE_WAIT);
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
      true,
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
      true,
    );
  }
}
