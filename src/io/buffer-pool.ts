/**
 * BufferPool: fixed-size byte buffers carved out of a few large slabs, handed out and taken back
 * so that steady traffic stops allocating (and the garbage collector stays quiet).
 *
 * ```
 *  size class   slabs (one ArrayBuffer each, cut into equal buffers)
 *   2 KiB       [ 0 | 1 | 2 | ... | 127 ] [ 128 | ... ]
 *  16 KiB       [ 0 | 1 | ... | 15 ]
 *  64 KiB       [ 0 | 1 | 2 | 3 ]
 * 256 KiB       [ 0 ]
 *               free list per class: a stack of slot numbers (last released, first reused)
 * ```
 *
 * `acquire(n)` returns the buffer of the smallest class that holds `n` bytes (its length is the
 * class size). Requests above the largest class, or past `maxBytes` of slabs, get an ordinary
 * buffer that `release` also accepts: the pool never fails, it only stops pooling (counted).
 */
import { createError, describe, invalidArg } from '../errors.js';
import { defaultLogger, type Logger } from '../log.js';

export interface BufferPoolOptions {
  /** Buffer sizes in bytes, ascending, each a positive multiple of 8. Default 2, 16, 64, 256 KiB. */
  sizes?: readonly number[];
  /** Bytes per slab; a slab holds at least one buffer. Default 256 KiB. */
  slabBytes?: number;
  /**
   * Most bytes of slabs the pool allocates, all classes together. Past it, `acquire` hands out
   * unpooled buffers (counted as misses). Default 64 MiB.
   */
  maxBytes?: number;
  /**
   * Record where each buffer was acquired, for `leaks()`; hand out a fresh view per acquire so a
   * stale one is caught on release; fill released buffers with 0xdb. Default: on when the
   * `POLYLOOP_DEBUG` environment variable names `pool` (or is `1`, `*` or `all`).
   */
  debug?: boolean;
  /** Where debug mode reports buffers garbage-collected while still acquired. */
  logger?: Logger;
}

/** Counters of one size class. */
export interface BufferClassStats {
  /** Buffer size in bytes. */
  readonly size: number;
  /** Buffers the slabs of this class hold, in use or free. */
  readonly capacity: number;
  /** Buffers acquired and not yet released (unpooled ones of this size included). */
  readonly inUse: number;
  /** Acquires served from a free buffer. */
  readonly hits: number;
  /** Acquires that needed a new slab, or got an unpooled buffer because `maxBytes` was reached. */
  readonly misses: number;
  /** The most buffers in use at once. */
  readonly highWater: number;
}

/** A snapshot of a pool's counters. */
export interface BufferPoolStats {
  readonly classes: readonly BufferClassStats[];
  /** Bytes held in slabs. */
  readonly slabBytes: number;
  /** Acquires larger than the largest class (always unpooled). */
  readonly oversize: number;
  /** Unpooled buffers handed out and not yet released. */
  readonly unpooledInUse: number;
}

/** A buffer acquired and not released, as debug mode recorded it. */
export interface BufferLeak {
  /** Length of the buffer handed out. */
  readonly size: number;
  /** What `acquire` was asked for. */
  readonly requested: number;
  readonly pooled: boolean;
  /** The stack of the `acquire` call. */
  readonly acquiredAt: string;
  /** Milliseconds since it was acquired. */
  readonly ageMs: number;
  /** True when the garbage collector found it unreachable: it can never be released now. */
  readonly collected: boolean;
}

const KiB = 1024;
const DEFAULT_SIZES = [2 * KiB, 16 * KiB, 64 * KiB, 256 * KiB] as const;
/** Fill pattern of released buffers in debug mode: reads of released memory stand out. */
const POISON = 0xdb;

/** A debug-mode record of one acquisition. */
interface Acquisition {
  readonly id: number;
  readonly size: number;
  readonly requested: number;
  readonly pooled: boolean;
  readonly stack: string;
  readonly at: number;
  collected: boolean;
}

/** Where a handed-out buffer lives, in debug mode (looked up by the buffer object). */
interface Handle {
  readonly cls: SizeClass | undefined;
  readonly slot: number;
  readonly record: Acquisition;
}

/** One size class: its slabs, every buffer by slot number, and the free slots. */
class SizeClass {
  readonly size: number;
  readonly perSlab: number;
  /** Slot → its buffer; undefined where the slab was trimmed. */
  readonly buffers: (Buffer | undefined)[] = [];
  /** Slot → 1 while acquired. */
  readonly used: number[] = [];
  /** Free slots; the last released is reused first (its memory is likely still in cache). */
  readonly free: number[] = [];
  /** Slab number → its memory; undefined once trimmed (the number is reused). */
  readonly slabs: (ArrayBuffer | undefined)[] = [];
  inUse = 0;
  hits = 0;
  misses = 0;
  highWater = 0;

  constructor(size: number, slabBytes: number) {
    this.size = size;
    this.perSlab = Math.max(1, Math.floor(slabBytes / size));
  }

  get slabSize(): number {
    return this.perSlab * this.size;
  }
}

interface Slab {
  readonly cls: SizeClass;
  /** Slot number of the slab's first buffer. */
  readonly first: number;
}

/**
 * A pool of reusable byte buffers in a few size classes.
 *
 * Not thread safe: a pool belongs to the thread that made it (each thread has its own
 * `defaultBufferPool()`). A buffer must be released to the pool it came from, once, and not used
 * after: its memory goes to the next `acquire`.
 */
export class BufferPool {
  /** The class sizes, ascending. */
  readonly sizes: readonly number[];
  /** The largest class size: larger requests get unpooled buffers. */
  readonly largestSize: number;
  readonly maxBytes: number;
  /** Whether acquisitions are recorded (see `BufferPoolOptions.debug`). */
  readonly debug: boolean;
  readonly #classes: SizeClass[];
  readonly #slabs = new Map<ArrayBufferLike, Slab>();
  readonly #logger: Logger | undefined;
  #bytes = 0;
  #oversize = 0;
  #unpooledInUse = 0;
  /** Unpooled buffers handed out and not yet released. */
  readonly #loose = new WeakSet<Uint8Array>();
  // Debug mode only.
  #nextId = 1;
  readonly #live = new Map<number, Acquisition>();
  readonly #handles = new WeakMap<Uint8Array, Handle>();
  readonly #released = new WeakSet<Uint8Array>();
  #registry: FinalizationRegistry<number> | undefined;

  /** Any thread; the pool then belongs to it. */
  constructor(options: BufferPoolOptions = {}) {
    const given: unknown = options.sizes ?? DEFAULT_SIZES;
    if (!Array.isArray(given) || given.length === 0) {
      throw invalidArg('sizes', given, 'a non-empty array of sizes');
    }
    const sizes: number[] = [];
    for (const s of given as unknown[]) {
      const prev = sizes.length === 0 ? 0 : sizes[sizes.length - 1]!;
      if (typeof s !== 'number' || !Number.isSafeInteger(s) || s <= prev || s % 8 !== 0) {
        throw invalidArg(`sizes[${sizes.length}]`, s, 'a multiple of 8, above the size before it');
      }
      sizes.push(s);
    }
    const slabBytes = options.slabBytes ?? 256 * KiB;
    if (!Number.isSafeInteger(slabBytes) || slabBytes <= 0) {
      throw invalidArg('slabBytes', slabBytes, 'a positive integer');
    }
    const maxBytes = options.maxBytes ?? 64 * KiB * KiB;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw invalidArg('maxBytes', maxBytes, 'a non-negative integer');
    }
    if (options.debug !== undefined && typeof options.debug !== 'boolean') {
      throw invalidArg('debug', options.debug, 'a boolean');
    }
    this.sizes = Object.freeze(sizes);
    this.largestSize = sizes[sizes.length - 1]!;
    this.maxBytes = maxBytes;
    this.#classes = this.sizes.map((s) => new SizeClass(s, slabBytes));
    this.debug = options.debug ?? debugFromEnv();
    this.#logger = options.logger;
  }

  /**
   * A buffer of at least `size` bytes: the smallest class that fits (its length is the class
   * size; `subarray(0, size)` for exactly `size`). Never fails: above the largest class, or past
   * `maxBytes`, it is an unpooled buffer, which `release` accepts too. The contents are whatever
   * the last user left. Call on the pool's thread.
   */
  acquire(size: number): Buffer {
    if (!(Number.isSafeInteger(size) && size >= 0)) {
      throw invalidArg('size', size, 'a non-negative integer');
    }
    const classes = this.#classes;
    let cls: SizeClass | undefined;
    for (let i = 0; i < classes.length; i++) {
      if (classes[i]!.size >= size) {
        cls = classes[i];
        break;
      }
    }
    if (cls === undefined) {
      this.#oversize++;
      return this.#unpooled(size, size, undefined);
    }
    let slot = cls.free.pop();
    if (slot === undefined) {
      cls.misses++;
      if (!this.#grow(cls)) return this.#unpooled(cls.size, size, cls);
      slot = cls.free.pop()!;
    } else cls.hits++;
    cls.used[slot] = 1;
    if (++cls.inUse > cls.highWater) cls.highWater = cls.inUse;
    const buf = cls.buffers[slot]!;
    return this.debug ? this.#track(buf, cls, slot, size) : buf;
  }

  /**
   * Gives `buf` back. Throws PL_ERR_INVALID_ARG, changing nothing, for a buffer this pool did not
   * hand out (a view of one included) or one already released. In debug mode, also for a stale
   * buffer from an earlier acquisition of the same memory. Call on the pool's thread.
   */
  release(buf: Uint8Array): void {
    if (this.debug) {
      this.#releaseTracked(buf);
      return;
    }
    const slab = buf instanceof Uint8Array ? this.#slabs.get(buf.buffer) : undefined;
    if (slab === undefined) {
      this.#releaseUnpooled(buf);
      return;
    }
    const cls = slab.cls;
    const slot = slab.first + buf.byteOffset / cls.size;
    // A view into pool memory that is not the buffer handed out (a subarray, another slot's
    // offset) must not free anything: its slot would be handed out while still in use.
    if (cls.buffers[slot] !== buf) throw foreign(buf);
    if (cls.used[slot] !== 1) throw twice(buf);
    this.#free(cls, slot);
  }

  /** The counters of every class. A snapshot; cheap. Call on the pool's thread. */
  stats(): BufferPoolStats {
    return {
      classes: this.#classes.map((c) => ({
        size: c.size,
        capacity: c.buffers.length - this.#trimmedSlots(c),
        inUse: c.inUse,
        hits: c.hits,
        misses: c.misses,
        highWater: c.highWater,
      })),
      slabBytes: this.#bytes,
      oversize: this.#oversize,
      unpooledInUse: this.#unpooledInUse,
    };
  }

  /**
   * Every buffer acquired and not released, oldest first, with the stack of its `acquire`.
   * Empty unless `debug` is on. Call on the pool's thread.
   */
  leaks(): BufferLeak[] {
    const now = Date.now();
    return [...this.#live.values()].map((a) => ({
      size: a.size,
      requested: a.requested,
      pooled: a.pooled,
      acquiredAt: a.stack,
      ageMs: now - a.at,
      collected: a.collected,
    }));
  }

  /** `leaks()` as text for a log or the console: one paragraph per buffer still held. */
  leakReport(): string {
    if (!this.debug) return 'buffer pool: debug is off (POLYLOOP_DEBUG=pool records acquisitions)';
    const leaks = this.leaks();
    const lines = [`buffer pool: ${leaks.length} buffer(s) acquired and not released`];
    for (const l of leaks) {
      const what = `${l.size} B${l.pooled ? '' : ' unpooled'} (asked ${l.requested})`;
      lines.push(
        `- ${what}, held ${l.ageMs} ms${l.collected ? ', garbage-collected: lost for good' : ''}`,
        l.acquiredAt.replace(/^/gm, '    '),
      );
    }
    return lines.join('\n');
  }

  /**
   * Frees the slabs none of whose buffers is in use, and returns how many bytes that gave back.
   * Use after a burst, so that a quiet server shrinks. Call on the pool's thread.
   */
  trim(): number {
    let freed = 0;
    for (const cls of this.#classes) {
      let trimmed = false;
      for (let s = 0; s < cls.slabs.length; s++) {
        const mem = cls.slabs[s];
        if (mem === undefined) continue;
        const first = s * cls.perSlab;
        let busy = false;
        for (let i = first; i < first + cls.perSlab; i++) busy ||= cls.used[i] === 1;
        if (busy) continue;
        for (let i = first; i < first + cls.perSlab; i++) cls.buffers[i] = undefined;
        cls.slabs[s] = undefined;
        this.#slabs.delete(mem);
        freed += cls.slabSize;
        trimmed = true;
      }
      if (trimmed) {
        const keep = cls.free.filter((slot) => cls.buffers[slot] !== undefined);
        cls.free.length = 0;
        cls.free.push(...keep);
      }
    }
    this.#bytes -= freed;
    return freed;
  }

  /** Adds a slab to `cls` (reusing a trimmed slab number first); false past `maxBytes`. */
  #grow(cls: SizeClass): boolean {
    if (this.#bytes + cls.slabSize > this.maxBytes) return false;
    let s = cls.slabs.indexOf(undefined);
    if (s < 0) s = cls.slabs.length;
    const mem = new ArrayBuffer(cls.slabSize);
    cls.slabs[s] = mem;
    const first = s * cls.perSlab;
    this.#slabs.set(mem, { cls, first });
    // Pushed high to low so that pops hand out the slab front to back.
    for (let i = cls.perSlab - 1; i >= 0; i--) {
      cls.buffers[first + i] = Buffer.from(mem, i * cls.size, cls.size);
      cls.used[first + i] = 0;
      cls.free.push(first + i);
    }
    this.#bytes += cls.slabSize;
    return true;
  }

  #free(cls: SizeClass, slot: number): void {
    cls.used[slot] = 0;
    cls.inUse--;
    cls.free.push(slot);
  }

  #unpooled(size: number, requested: number, cls: SizeClass | undefined): Buffer {
    const buf = Buffer.allocUnsafeSlow(size);
    this.#loose.add(buf);
    this.#unpooledInUse++;
    if (cls !== undefined && ++cls.inUse > cls.highWater) cls.highWater = cls.inUse;
    if (this.debug) this.#handles.set(buf, { cls, slot: -1, record: this.#record(buf, requested) });
    return buf;
  }

  #releaseUnpooled(buf: Uint8Array): void {
    if (!(buf instanceof Uint8Array) || !this.#loose.has(buf)) throw foreign(buf);
    this.#loose.delete(buf);
    this.#unpooledInUse--;
    // Handed out past maxBytes: counted in its class's inUse. (Oversize ones match no class.)
    const cls = this.#classes.find((c) => c.size === buf.length);
    if (cls !== undefined) cls.inUse--;
  }

  #trimmedSlots(cls: SizeClass): number {
    let n = 0;
    for (const s of cls.slabs) if (s === undefined) n += cls.perSlab;
    return n;
  }

  // ---- debug mode ----------------------------------------------------------------------------

  /** Hands out a fresh view of the slot, so a stale one (from before a release) is told apart. */
  #track(buf: Buffer, cls: SizeClass, slot: number, requested: number): Buffer {
    const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.#handles.set(view, { cls, slot, record: this.#record(view, requested) });
    return view;
  }

  #record(buf: Buffer, requested: number): Acquisition {
    const record: Acquisition = {
      id: this.#nextId++,
      size: buf.length,
      requested,
      pooled: !this.#loose.has(buf),
      stack: acquisitionStack(),
      at: Date.now(),
      collected: false,
    };
    this.#live.set(record.id, record);
    (this.#registry ??= new FinalizationRegistry((id) => this.#collected(id))).register(
      buf,
      record.id,
      record,
    );
    return record;
  }

  #releaseTracked(buf: Uint8Array): void {
    const handle = buf instanceof Uint8Array ? this.#handles.get(buf) : undefined;
    if (handle === undefined) {
      throw this.#released.has(buf) ? twice(buf) : foreign(buf);
    }
    this.#handles.delete(buf);
    this.#released.add(buf);
    this.#live.delete(handle.record.id);
    this.#registry?.unregister(handle.record);
    buf.fill(POISON);
    if (handle.slot < 0) this.#releaseUnpooled(buf);
    else this.#free(handle.cls!, handle.slot);
  }

  #collected(id: number): void {
    const record = this.#live.get(id);
    if (record === undefined || record.collected) return;
    record.collected = true;
    (this.#logger ?? defaultLogger()).warn(
      { size: record.size, acquiredAt: record.stack },
      'buffer pool: a buffer was garbage-collected without release; its memory is lost to the pool',
    );
  }
}

function foreign(buf: unknown): Error {
  const what = buf instanceof Uint8Array ? `a ${buf.length}-byte ${describe(buf)}` : describe(buf);
  return createError(
    'PL_ERR_INVALID_ARG',
    `release: ${what} was not acquired from this pool (or is a view of one, or was released already)`,
  );
}

function twice(buf: Uint8Array): Error {
  return createError(
    'PL_ERR_INVALID_ARG',
    `release: this ${buf.length}-byte buffer was released already (double release)`,
  );
}

/** The stack of the caller of `acquire` (the pool's own frames left out). */
function acquisitionStack(): string {
  const holder: { stack?: string } = {};
  // eslint-disable-next-line @typescript-eslint/unbound-method -- identifies the frame only
  Error.captureStackTrace(holder, BufferPool.prototype.acquire);
  return (holder.stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .join('\n');
}

/** `POLYLOOP_DEBUG`: a comma- or space-separated list of topics; `pool`, `1`, `*` or `all`. */
export function debugFromEnv(topic = 'pool'): boolean {
  const v = process.env['POLYLOOP_DEBUG'];
  if (v === undefined) return false;
  return v
    .split(/[\s,]+/)
    .some((t) => t === topic || t === '1' || t === '*' || t === 'all' || t === 'true');
}

let threadPool: BufferPool | undefined;

/**
 * This thread's pool, made on first use with the default options (module state is per thread:
 * each worker has its own). Connections use it unless given another. Call on the owning thread.
 */
export function defaultBufferPool(): BufferPool {
  return (threadPool ??= new BufferPool());
}

/** Checks the `bufferPool` option of servers and clients; throws PL_ERR_INVALID_ARG. */
export function checkBufferPoolOption(value: unknown): BufferPool | false | undefined {
  if (value === undefined || value === false || value instanceof BufferPool) return value;
  throw invalidArg('bufferPool', value, 'a BufferPool or false');
}
