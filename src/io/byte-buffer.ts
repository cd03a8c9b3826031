import { createError, invalidArg } from '../errors.js';
import type { BufferPool } from './buffer-pool.js';

/**
 * A growable byte buffer with a reserved front, after muduo's `Buffer`:
 *
 * ```
 * +-------------------+------------------+------------------+
 * | prependable bytes |  readable bytes  |  writable bytes  |
 * |                   |     (content)    |                  |
 * +-------------------+------------------+------------------+
 * 0      <=      readerIndex   <=   writerIndex    <=    capacity
 * ```
 *
 * Appends go to the writable region; reads and `retrieve` advance `readerIndex`; `prepend` writes
 * into the prependable region, so a length header can be put in front of a payload that is
 * already in place. When the writable region is too small the content is first moved back to
 * the front (compaction) and only then is the storage grown.
 *
 * Views returned by `peek`, `readBytes` and friends point into the buffer's storage: a view is
 * valid until the next mutation (append, prepend, ensureWritable, compaction, release). Copy it to
 * keep it. A buffer made by `ByteBuffer.pooled` takes its storage from a `BufferPool` and gives
 * it back on growth and on `release()`.
 * Not thread safe: one owner at a time.
 */
export class ByteBuffer {
  /** Bytes reserved at the front of a fresh buffer for cheap prepends (room for an 8-byte length). */
  static readonly CHEAP_PREPEND = 8;
  static readonly INITIAL_SIZE = 1024;

  private bytes: Uint8Array;
  /** Made on first use: many buffers never read or write an integer. See `dv`. */
  private view: DataView | undefined;
  private reader: number;
  private writer: number;
  /** Where storage comes from and goes back to; undefined: plain allocations. */
  private pool: BufferPool | undefined;
  /** True while `bytes` was acquired from `pool` and must be released to it. */
  private pooledStorage = false;

  constructor(initialSize = ByteBuffer.INITIAL_SIZE, prependSize = ByteBuffer.CHEAP_PREPEND) {
    if (!Number.isSafeInteger(initialSize) || initialSize < 0) {
      throw invalidArg('initialSize', initialSize, 'a non-negative integer');
    }
    if (!Number.isSafeInteger(prependSize) || prependSize < 0) {
      throw invalidArg('prependSize', prependSize, 'a non-negative integer');
    }
    this.bytes = Buffer.allocUnsafeSlow(prependSize + initialSize);
    this.reader = prependSize;
    this.writer = prependSize;
  }

  /**
   * A buffer whose storage comes from `pool`: none until the first write (or `initialSize`
   * bytes now), replaced by a larger pooled buffer when it grows, and handed back by `release()`.
   * Call `release()` when done, or the pool counts the storage as in use for good.
   */
  static pooled(pool: BufferPool, initialSize = 0): ByteBuffer {
    const b = new ByteBuffer(0, 0);
    b.pool = pool;
    b.bytes = EMPTY;
    if (initialSize > 0) b.ensureWritable(initialSize);
    return b;
  }

  /**
   * A buffer whose readable region is exactly `bytes`, without copying. Appending to it copies
   * into new storage first, so `bytes` itself is never written.
   */
  static wrap(bytes: Uint8Array): ByteBuffer {
    const b = new ByteBuffer(0, 0);
    b.reset(bytes);
    return b;
  }

  /**
   * Points this buffer at `bytes` (readable region = all of it) without copying. The previous
   * storage is dropped. Used to decode straight from a read chunk.
   */
  reset(bytes: Uint8Array): void {
    if (this.pooledStorage) this.release();
    // Reads of one loop land in the same buffer: its DataView is kept, not made per read.
    if (!startsAt(this.view, bytes)) this.view = undefined;
    this.bytes = bytes;
    this.reader = 0;
    this.writer = bytes.length;
    this.shared = true;
  }

  /** True while the storage is borrowed (see `wrap`): writes must move to own storage first. */
  private shared = false;

  get readableBytes(): number {
    return this.writer - this.reader;
  }
  get writableBytes(): number {
    return this.shared ? 0 : this.bytes.length - this.writer;
  }
  get prependableBytes(): number {
    return this.shared ? 0 : this.reader;
  }
  /** Total storage size in bytes. */
  get capacity(): number {
    return this.bytes.length;
  }

  // ---- reading without consuming -------------------------------------------------------------

  /** A view of the first `length` readable bytes (all of them by default). */
  peek(length = this.readableBytes): Uint8Array {
    this.need(length);
    return this.bytes.subarray(this.reader, this.reader + length);
  }

  /** The readable byte at `offset` (from the reader index). */
  peekUint8At(offset: number): number {
    if (!(Number.isInteger(offset) && offset >= 0)) {
      throw invalidArg('offset', offset, 'a non-negative integer');
    }
    this.need(offset + 1);
    return this.bytes[this.reader + offset]!;
  }

  peekInt8(): number {
    this.need(1);
    return this.dv().getInt8(this.reader);
  }
  peekUint8(): number {
    this.need(1);
    return this.bytes[this.reader]!;
  }
  peekInt16(): number {
    this.need(2);
    return this.dv().getInt16(this.reader);
  }
  peekUint16(): number {
    this.need(2);
    return this.dv().getUint16(this.reader);
  }
  peekInt32(): number {
    this.need(4);
    return this.dv().getInt32(this.reader);
  }
  peekUint32(): number {
    this.need(4);
    return this.dv().getUint32(this.reader);
  }
  peekInt64(): bigint {
    this.need(8);
    return this.dv().getBigInt64(this.reader);
  }
  peekUint64(): bigint {
    this.need(8);
    return this.dv().getBigUint64(this.reader);
  }

  /** Offset (from the reader index) of the first CRLF at or after `from`, or -1. */
  findCRLF(from = 0): number {
    const end = this.writer - 1;
    for (let i = this.reader + from; i < end; i++) {
      i = this.bytes.indexOf(13, i);
      if (i < 0 || i >= end) return -1;
      if (this.bytes[i + 1] === 10) return i - this.reader;
    }
    return -1;
  }

  /** Offset (from the reader index) of the first LF at or after `from`, or -1. */
  findEOL(from = 0): number {
    return this.indexOf(10, from);
  }

  /** Offset (from the reader index) of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from = 0): number {
    const at = this.bytes.subarray(0, this.writer).indexOf(byte, this.reader + from);
    return at < 0 ? -1 : at - this.reader;
  }

  /** Offset of the first occurrence of the byte sequence `needle` at or after `from`, or -1. */
  indexOfSequence(needle: Uint8Array, from = 0): number {
    if (needle.length === 1) return this.indexOf(needle[0]!, from);
    if (needle.length === 0) return from <= this.readableBytes ? from : -1;
    const first = needle[0]!;
    const last = this.writer - needle.length;
    for (let i = this.reader + from; i <= last; i++) {
      i = this.bytes.indexOf(first, i);
      if (i < 0 || i > last) return -1;
      let j = 1;
      while (j < needle.length && this.bytes[i + j] === needle[j]) j++;
      if (j === needle.length) return i - this.reader;
    }
    return -1;
  }

  // ---- consuming -----------------------------------------------------------------------------

  /** Discards `length` readable bytes. */
  retrieve(length: number): void {
    this.need(length);
    if (length < this.readableBytes) this.reader += length;
    else this.retrieveAll();
  }

  /** Discards everything readable; the next append starts at the front again. */
  retrieveAll(): void {
    if (this.shared) {
      this.reader = this.writer;
      return;
    }
    this.reader = ByteBuffer.CHEAP_PREPEND <= this.bytes.length ? ByteBuffer.CHEAP_PREPEND : 0;
    this.writer = this.reader;
  }

  /** Consumes `length` bytes and returns a view of them (valid until the next mutation). */
  readBytes(length: number): Uint8Array {
    const v = this.peek(length);
    this.reader += length;
    return v;
  }

  /** Consumes `length` bytes and returns a copy that the caller owns. */
  readCopy(length: number): Uint8Array {
    // Not `.slice()`: on wrapped Node Buffers (read chunks) `Buffer#slice` returns a view.
    return new Uint8Array(this.readBytes(length));
  }

  /** Consumes `length` bytes (all by default) and decodes them as UTF-8. */
  readString(length = this.readableBytes): string {
    const v = this.peek(length);
    const s = decoder.decode(v);
    this.retrieve(length);
    return s;
  }

  readInt8(): number {
    const v = this.peekInt8();
    this.reader += 1;
    return v;
  }
  readUint8(): number {
    const v = this.peekUint8();
    this.reader += 1;
    return v;
  }
  readInt16(): number {
    const v = this.peekInt16();
    this.reader += 2;
    return v;
  }
  readUint16(): number {
    const v = this.peekUint16();
    this.reader += 2;
    return v;
  }
  readInt32(): number {
    const v = this.peekInt32();
    this.reader += 4;
    return v;
  }
  readUint32(): number {
    const v = this.peekUint32();
    this.reader += 4;
    return v;
  }
  readInt64(): bigint {
    const v = this.peekInt64();
    this.reader += 8;
    return v;
  }
  readUint64(): bigint {
    const v = this.peekUint64();
    this.reader += 8;
    return v;
  }

  // ---- writing -------------------------------------------------------------------------------

  /** Appends bytes, or a string as UTF-8. */
  append(data: Uint8Array | string): void {
    if (typeof data === 'string') {
      if (data.length === 0) return;
      // Worst case 3 bytes per UTF-16 unit; Buffer#write encodes in place, natively.
      this.ensureWritable(data.length * 3);
      this.writer += (this.bytes as Buffer).write(data, this.writer, 'utf8');
      return;
    }
    this.ensureWritable(data.length);
    this.bytes.set(data, this.writer);
    this.writer += data.length;
  }

  /**
   * Appends a string as latin1 (ISO-8859-1): one byte per character, for protocol text such as
   * HTTP header sections whose values may hold bytes 0x80–0xFF. Characters above 0xFF are
   * truncated to their low byte, as Node's 'latin1' encoding does.
   */
  appendLatin1(text: string): void {
    if (text.length === 0) return;
    this.ensureWritable(text.length);
    this.writer += (this.bytes as Buffer).write(text, this.writer, 'latin1');
  }

  /**
   * Makes room for at least `length` more bytes after the content: compacts if the free space
   * in front suffices, else grows the storage (doubling). Invalidates outstanding views.
   */
  ensureWritable(length: number): void {
    if (this.writableBytes >= length) return;
    const readable = this.readableBytes;
    const front = ByteBuffer.CHEAP_PREPEND;
    if (!this.shared && this.bytes.length - readable - front >= length) {
      // Compaction: slide the content back to the front; no allocation.
      this.bytes.copyWithin(front, this.reader, this.writer);
    } else {
      const need = front + readable + length;
      const pool = this.pool;
      // Pooled: the next class that fits (the classes grow geometrically themselves); past the
      // largest class, and unpooled, double so that appends stay amortized O(1).
      const next =
        pool !== undefined && need <= pool.largestSize
          ? pool.acquire(need)
          : pool !== undefined
            ? pool.acquire(Math.max(this.bytes.length * 2, need))
            : Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, need));
      // No view of nothing: a pooled buffer grows from empty after every release.
      if (readable > 0) next.set(this.bytes.subarray(this.reader, this.writer), front);
      this.replaceStorage(next);
    }
    this.reader = front;
    this.writer = front + readable;
  }

  /**
   * A view of the writable region, for writing in place (e.g. a socket read); follow with
   * `hasWritten(n)`. Call `ensureWritable` first to size it.
   */
  writableView(): Uint8Array {
    return this.shared ? new Uint8Array(0) : this.bytes.subarray(this.writer);
  }

  /** Marks `length` bytes of the writable region as written. */
  hasWritten(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.writableBytes) {
      throw invalidArg('length', length, `an integer in [0, ${this.writableBytes}]`);
    }
    this.writer += length;
  }

  appendInt8(v: number): void {
    this.ensureWritable(1);
    this.dv().setInt8(this.writer, v);
    this.writer += 1;
  }
  appendUint8(v: number): void {
    this.ensureWritable(1);
    this.dv().setUint8(this.writer, v);
    this.writer += 1;
  }
  appendInt16(v: number): void {
    this.ensureWritable(2);
    this.dv().setInt16(this.writer, v);
    this.writer += 2;
  }
  appendUint16(v: number): void {
    this.ensureWritable(2);
    this.dv().setUint16(this.writer, v);
    this.writer += 2;
  }
  appendInt32(v: number): void {
    this.ensureWritable(4);
    this.dv().setInt32(this.writer, v);
    this.writer += 4;
  }
  appendUint32(v: number): void {
    this.ensureWritable(4);
    this.dv().setUint32(this.writer, v);
    this.writer += 4;
  }
  appendInt64(v: bigint): void {
    this.ensureWritable(8);
    this.dv().setBigInt64(this.writer, v);
    this.writer += 8;
  }
  appendUint64(v: bigint): void {
    this.ensureWritable(8);
    this.dv().setBigUint64(this.writer, v);
    this.writer += 8;
  }

  /** Writes `data` just before the content. Throws when the prependable region is too small. */
  prepend(data: Uint8Array): void {
    this.makeFront(data.length);
    this.reader -= data.length;
    this.bytes.set(data, this.reader);
  }

  prependInt8(v: number): void {
    this.makeFront(1);
    this.reader -= 1;
    this.dv().setInt8(this.reader, v);
  }
  prependUint8(v: number): void {
    this.makeFront(1);
    this.reader -= 1;
    this.dv().setUint8(this.reader, v);
  }
  prependInt16(v: number): void {
    this.makeFront(2);
    this.reader -= 2;
    this.dv().setInt16(this.reader, v);
  }
  prependUint16(v: number): void {
    this.makeFront(2);
    this.reader -= 2;
    this.dv().setUint16(this.reader, v);
  }
  prependInt32(v: number): void {
    this.makeFront(4);
    this.reader -= 4;
    this.dv().setInt32(this.reader, v);
  }
  prependUint32(v: number): void {
    this.makeFront(4);
    this.reader -= 4;
    this.dv().setUint32(this.reader, v);
  }
  prependInt64(v: bigint): void {
    this.makeFront(8);
    this.reader -= 8;
    this.dv().setBigInt64(this.reader, v);
  }
  prependUint64(v: bigint): void {
    this.makeFront(8);
    this.reader -= 8;
    this.dv().setBigUint64(this.reader, v);
  }

  /** Releases excess storage, keeping the content and `reserve` writable bytes. */
  shrink(reserve = 0): void {
    const readable = this.readableBytes;
    const size = ByteBuffer.CHEAP_PREPEND + readable + reserve;
    const next = this.pool !== undefined ? this.pool.acquire(size) : Buffer.allocUnsafeSlow(size);
    next.set(this.bytes.subarray(this.reader, this.writer), ByteBuffer.CHEAP_PREPEND);
    this.replaceStorage(next);
    this.reader = ByteBuffer.CHEAP_PREPEND;
    this.writer = this.reader + readable;
  }

  /**
   * Drops the storage and the content: pooled storage goes back to its pool, and the next write
   * acquires anew. Outstanding views are invalid from here on. Idempotent.
   */
  release(): void {
    const old = this.bytes;
    const pooled = this.pooledStorage;
    this.bytes = EMPTY;
    // A view of pooled memory is kept: the next acquire often returns the same buffer (the pool
    // reuses the last released first), and the pool keeps that memory alive anyway.
    if (!pooled) this.view = undefined;
    this.reader = 0;
    this.writer = 0;
    this.shared = false;
    this.pooledStorage = false;
    if (pooled) this.pool!.release(old);
  }

  /**
   * @internal Like `release`, but pooled storage is handed to the caller instead of the pool:
   * a pending socket write still reads it, and the caller releases it once the write is done.
   * Returns undefined when the storage was not pooled (it is simply dropped).
   */
  takeStorage(): Uint8Array | undefined {
    const old = this.pooledStorage ? this.bytes : undefined;
    this.pooledStorage = false;
    this.release();
    return old;
  }

  toString(): string {
    return `ByteBuffer(readable=${this.readableBytes}, writable=${this.writableBytes}, prependable=${this.prependableBytes})`;
  }

  /** Installs own storage `next` (content already copied), giving pooled storage back. */
  private replaceStorage(next: Uint8Array): void {
    const old = this.bytes;
    const pooled = this.pooledStorage;
    this.bytes = next;
    if (!startsAt(this.view, next)) this.view = undefined;
    this.shared = false;
    this.pooledStorage = this.pool !== undefined;
    if (pooled) this.pool!.release(old);
  }

  /**
   * The DataView over the storage, from its first byte to the end of the underlying memory
   * (bounds are checked by `need` and `ensureWritable`, not by the view).
   */
  private dv(): DataView {
    return (this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset));
  }

  private need(length: number): void {
    // A fractional length would leave a fractional reader index behind (`reader += length`).
    if (!(Number.isInteger(length) && length >= 0)) {
      throw invalidArg('length', length, 'a non-negative integer');
    }
    if (length > this.writer - this.reader) {
      throw createError(
        'PL_ERR_BUFFER_UNDERFLOW',
        `need ${length} readable bytes; have ${this.writer - this.reader}`,
      );
    }
  }

  private makeFront(length: number): void {
    if (this.prependableBytes < length) {
      throw createError(
        'PL_ERR_BUFFER_UNDERFLOW',
        `prepend of ${length} bytes needs that much prependable space; have ${this.prependableBytes}`,
      );
    }
  }
}

const decoder = new TextDecoder();
/** True when `view` (made by `dv`) starts where `bytes` does, so it can serve `bytes` too. */
function startsAt(view: DataView | undefined, bytes: Uint8Array): boolean {
  return view !== undefined && view.buffer === bytes.buffer && view.byteOffset === bytes.byteOffset;
}

/** The storage of a buffer that has none: zero bytes, never written. */
const EMPTY = Buffer.alloc(0);
