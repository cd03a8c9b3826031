/**
 * SharedCounters: named counters that several threads bump without locks. Each thread owns one
 * row (a slot) and is the only writer of it; a reader sums the rows. No two threads ever write
 * the same word, so no update is lost and no writer ever waits.
 *
 *   word  0 ┌ MAGIC SLOTS COUNTERS NAME_BYTES ┐ header, written once
 *        16 ├ names (UTF-8 JSON), padded to 64 bytes
 *           ├ row 0: SEQ OWNER lo0 hi0 lo1 hi1 ...  ┐ one row per slot, written by its owner only,
 *           ├ row 1: ...                             │ padded to 64 bytes so two owners never
 *           └ ...                                    ┘ share a cache line
 *
 * A value is 53 bits (a JavaScript safe integer) in two int32 words. An update that leaves the
 * high word alone (almost all of them) is one atomic store of the low word. So that a reader
 * never sees the low word of one update with the high word of another when both change, every
 * row carries a sequence number (a seqlock): for such an update the owner makes it odd, writes
 * both words, and makes it even again; a reader copies the row between two reads of an equal,
 * even sequence, and tries again otherwise. Writers never wait for readers; a reader retries only
 * while its row is being written.
 */
import { createError, invalidArg } from '../errors.js';

const MAGIC = 0x706c6363; // 'plcc'
const H_MAGIC = 0;
const H_SLOTS = 1;
const H_COUNTERS = 2;
const H_NAME_BYTES = 3;
const HEADER_WORDS = 16;
const R_SEQ = 0;
const R_OWNER = 1;
const R_VALUES = 2;
const TWO32 = 2 ** 32;
/** Most slots and counters: a row index and the layout stay small, and names stay short. */
const MAX_SLOTS = 4096;
const MAX_COUNTERS = 1024;

const pad16 = (words: number): number => (words + 15) & ~15;

/** Where everything lives in a buffer of given shape. */
function layout(slots: number, counters: number, nameBytes: number) {
  const namesWord = HEADER_WORDS;
  const rowWords = pad16(R_VALUES + 2 * counters);
  const rowsWord = namesWord + pad16(Math.ceil(nameBytes / 4));
  return { namesWord, rowWords, rowsWord, words: rowsWord + slots * rowWords };
}

/**
 * Per-thread counters in a SharedArrayBuffer, summed on read.
 *
 * Make it once (`SharedCounters.create`), send `buffer` to every thread, open it there with
 * `SharedCounters.from`. Each writing thread takes a row with `claim()` (or `slot(i)` when it
 * knows its index) and bumps its own counters through the `CounterSlot`; `total`, `totals` and
 * `bySlot` read from any thread at any time.
 */
export class SharedCounters {
  /** The shared memory; send it to other threads (postMessage, workerData). */
  readonly buffer: SharedArrayBuffer;
  /** Counter names, in index order. */
  readonly names: readonly string[];
  /** Rows: how many threads can write at once. */
  readonly slots: number;
  readonly #words: Int32Array;
  readonly #rowsWord: number;
  readonly #rowWords: number;
  readonly #index: ReadonlyMap<string, number>;

  private constructor(buffer: SharedArrayBuffer, names: readonly string[], slots: number) {
    this.buffer = buffer;
    this.names = Object.freeze([...names]);
    this.slots = slots;
    this.#words = new Int32Array(buffer);
    const l = layout(slots, names.length, Atomics.load(this.#words, H_NAME_BYTES));
    this.#rowsWord = l.rowsWord;
    this.#rowWords = l.rowWords;
    this.#index = new Map(names.map((n, i) => [n, i]));
  }

  /**
   * New counters, all zero: `names` (distinct, non-empty) in `slots` rows (one per writing
   * thread, up to 4096). Any thread.
   */
  static create(options: { names: readonly string[]; slots: number }): SharedCounters {
    const { names, slots } = options;
    if (
      !Array.isArray(names) ||
      names.length === 0 ||
      names.length > MAX_COUNTERS ||
      names.some((n) => typeof n !== 'string' || n.length === 0) ||
      new Set(names).size !== names.length
    ) {
      throw invalidArg('names', names, `1 to ${MAX_COUNTERS} distinct non-empty strings`);
    }
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw invalidArg('slots', slots, `an integer from 1 to ${MAX_SLOTS}`);
    }
    const nameBytes = new TextEncoder().encode(JSON.stringify(names));
    const l = layout(slots, names.length, nameBytes.length);
    const buffer = new SharedArrayBuffer(l.words * 4);
    const words = new Int32Array(buffer);
    new Uint8Array(buffer, l.namesWord * 4, nameBytes.length).set(nameBytes);
    words[H_SLOTS] = slots;
    words[H_COUNTERS] = names.length;
    words[H_NAME_BYTES] = nameBytes.length;
    Atomics.store(words, H_MAGIC, MAGIC); // last: `from` trusts a buffer whose magic it sees
    return new SharedCounters(buffer, names as string[], slots);
  }

  /** Opens counters that `create` made in `buffer` (on this thread or another). Any thread. */
  static from(buffer: SharedArrayBuffer): SharedCounters {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_WORDS * 4) {
      throw invalidArg('SharedCounters.from(buffer)', buffer, 'a buffer made by create()');
    }
    const words = new Int32Array(buffer);
    const bad = (): Error =>
      createError('PL_ERR_INVALID_ARG', 'SharedCounters.from: the buffer holds no counters');
    if (Atomics.load(words, H_MAGIC) !== MAGIC) throw bad();
    const slots = words[H_SLOTS]!;
    const count = words[H_COUNTERS]!;
    const nameBytes = words[H_NAME_BYTES]!;
    const l = layout(slots, count, nameBytes);
    if (buffer.byteLength !== l.words * 4) throw bad();
    // TextDecoder refuses views of shared memory: copy the names out first.
    const copy = new Uint8Array(nameBytes);
    copy.set(new Uint8Array(buffer, l.namesWord * 4, nameBytes));
    const names = JSON.parse(new TextDecoder().decode(copy)) as unknown;
    if (!Array.isArray(names) || names.length !== count) throw bad();
    return new SharedCounters(buffer, names as string[], slots);
  }

  /** The index of counter `name` (faster to pass to `add` than the name). Any thread. */
  indexOf(name: string): number {
    const i = this.#index.get(name);
    if (i === undefined) throw invalidArg('counter', name, `one of ${this.names.join(', ')}`);
    return i;
  }

  /**
   * Takes a free row for this thread, or returns undefined when every row is taken. The row
   * keeps the values earlier owners left, so totals never go back. Any thread.
   */
  claim(): CounterSlot | undefined {
    for (let s = 0; s < this.slots; s++) {
      if (Atomics.compareExchange(this.#words, this.#row(s) + R_OWNER, 0, 1) === 0) {
        return new CounterSlot(this, s, this.#words, this.#row(s));
      }
    }
    return undefined;
  }

  /**
   * Row `index` for this thread, when indexes are handed out by whoever starts the threads (a
   * worker's number). Taking a row another live thread writes loses updates: one owner per row.
   */
  slot(index: number): CounterSlot {
    if (!Number.isInteger(index) || index < 0 || index >= this.slots) {
      throw invalidArg('slot index', index, `an integer from 0 to ${this.slots - 1}`);
    }
    Atomics.store(this.#words, this.#row(index) + R_OWNER, 1);
    return new CounterSlot(this, index, this.#words, this.#row(index));
  }

  /** The sum of counter `counter` (name or index) over every row. Any thread. */
  total(counter: string | number): number {
    const c = this.#counter(counter);
    let sum = 0;
    for (let s = 0; s < this.slots; s++) sum += this.#readRow(s, c, 1)[0]!;
    return sum;
  }

  /** Every counter's sum, by name. Each row is read consistently. Any thread. */
  totals(): Record<string, number> {
    const sums = new Array<number>(this.names.length).fill(0);
    for (let s = 0; s < this.slots; s++) {
      const row = this.#readRow(s, 0, this.names.length);
      for (let c = 0; c < sums.length; c++) sums[c]! += row[c]!;
    }
    return Object.fromEntries(this.names.map((n, i) => [n, sums[i]!]));
  }

  /** Counter `counter`'s value in each row, by slot index. Any thread. */
  bySlot(counter: string | number): number[] {
    const c = this.#counter(counter);
    return Array.from({ length: this.slots }, (_, s) => this.#readRow(s, c, 1)[0]!);
  }

  #row(slot: number): number {
    return this.#rowsWord + slot * this.#rowWords;
  }

  #counter(counter: string | number): number {
    if (typeof counter === 'string') return this.indexOf(counter);
    if (!Number.isInteger(counter) || counter < 0 || counter >= this.names.length) {
      throw invalidArg('counter', counter, `a name or an index below ${this.names.length}`);
    }
    return counter;
  }

  /** Values `from`..`from + n - 1` of row `slot`, read between two equal, even sequences. */
  #readRow(slot: number, from: number, n: number): number[] {
    const w = this.#words;
    const row = this.#row(slot);
    const out = new Array<number>(n);
    for (;;) {
      const seq = Atomics.load(w, row + R_SEQ);
      if ((seq & 1) === 0) {
        for (let i = 0; i < n; i++) {
          const at = row + R_VALUES + 2 * (from + i);
          out[i] = Atomics.load(w, at + 1) * TWO32 + (Atomics.load(w, at) >>> 0);
        }
        if (Atomics.load(w, row + R_SEQ) === seq) return out;
      }
      // The owner is mid-update (a few stores): let it finish.
    }
  }
}

/**
 * One thread's row of a `SharedCounters`. Call its methods only on the thread that claimed it:
 * it is the row's only writer, which is what makes the counters lock-free.
 */
export class CounterSlot {
  /** The row's index. */
  readonly index: number;
  readonly counters: SharedCounters;
  readonly #w: Int32Array;
  readonly #row: number;
  /** The row's values, kept here too: the owner never has to read them back. */
  readonly #values: number[];
  #seq: number;
  #released = false;

  /** @internal Made by `SharedCounters.claim` and `slot`. */
  constructor(counters: SharedCounters, index: number, w: Int32Array, row: number) {
    this.counters = counters;
    this.index = index;
    this.#w = w;
    this.#row = row;
    this.#seq = Atomics.load(w, row + R_SEQ);
    if ((this.#seq & 1) !== 0) {
      // An earlier owner was stopped mid-update. Its last value may be half-written only if
      // that update carried into the high word; the row is made readable again either way.
      Atomics.store(w, row + R_SEQ, ++this.#seq);
    }
    this.#values = Array.from({ length: counters.names.length }, (_, c) => {
      const at = row + R_VALUES + 2 * c;
      return Atomics.load(w, at + 1) * TWO32 + (Atomics.load(w, at) >>> 0);
    });
  }

  /** Adds `n` (default 1; may be negative) to counter `counter` (an index: see `indexOf`). */
  add(counter: number, n = 1): void {
    this.set(counter, (this.#values[counter] ?? NaN) + n);
  }

  /** Sets counter `counter` of this row to `value` (a gauge: e.g. connections open here). */
  set(counter: number, value: number): void {
    const old = this.#values[counter];
    if (old === undefined || this.#released) {
      throw this.#released
        ? createError('PL_ERR_LOCK_STATE', `CounterSlot ${this.index} was released`)
        : invalidArg('counter', counter, `an index below ${this.#values.length}`);
    }
    if (!Number.isSafeInteger(value)) {
      throw invalidArg('counter value', value, 'a safe integer');
    }
    this.#values[counter] = value;
    const w = this.#w;
    const at = this.#row + R_VALUES + 2 * counter;
    const hi = Math.floor(value / TWO32);
    const lo = value - hi * TWO32; // low 32 bits, stored as int32
    if (hi === Math.floor(old / TWO32)) {
      // The high word stays: one store is a whole update (almost every add takes this path).
      Atomics.store(w, at, lo);
      return;
    }
    Atomics.store(w, this.#row + R_SEQ, ++this.#seq); // odd: readers of this row retry
    Atomics.store(w, at, lo);
    Atomics.store(w, at + 1, hi);
    Atomics.store(w, this.#row + R_SEQ, ++this.#seq); // even: consistent again
  }

  /** This row's value of counter `counter`. */
  get(counter: number): number {
    const v = this.#values[counter];
    if (v === undefined)
      throw invalidArg('counter', counter, `an index below ${this.#values.length}`);
    return v;
  }

  /**
   * Gives the row back for another thread to claim (its values stay in the totals). This slot
   * object is unusable afterwards. Idempotent.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    Atomics.store(this.#w, this.#row + R_OWNER, 0);
  }
}
